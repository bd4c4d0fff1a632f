"""Cases: the work lists' rows as cases with a lifecycle, and their history (canbao.cases).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-17
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEXED = ("kind", "subject_key", "county_code", "state", "assignee")
# Carrying a case to the next build rewrites its row (last_seen_build, display fields) and no
# indexed column: with free room on each page PostgreSQL updates it in place (HOT).
FILLFACTOR = 70


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", ID, primary_key=True),
        sa.Column("case_key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject_type", sa.String(8), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(100), nullable=False),
        sa.Column("county_code", sa.String(32), nullable=True),
        sa.Column("township", sa.String(64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("outcome_date", sa.Date(), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=False),
        sa.Column("outcome_note", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("opened_build", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("open_since", sa.DateTime(), nullable=False),
        sa.Column("worked_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_build", sa.String(64), nullable=False),
        sa.Column("state_build", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    for col in INDEXED:
        op.create_index(f"ix_cases_{col}", "cases", [col])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE cases SET (fillfactor = {FILLFACTOR})")
    op.create_table(
        "case_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("case_id", ID, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("build", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_case_id", "case_events")
    op.drop_table("case_events")
    for col in reversed(INDEXED):
        op.drop_index(f"ix_cases_{col}", "cases")
    op.drop_table("cases")
