"""Collection: dunning cases and their steps, deferral and instalment agreements with their
schedules (canbao.collection.dunning, canbao.collection.agreements).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dunning_cases",
        sa.Column("id", ID, primary_key=True),
        sa.Column("employer_key", sa.String(64), nullable=False),
        sa.Column("credit_code", sa.String(32), nullable=False),
        sa.Column("employer_name", sa.String(200), nullable=False),
        sa.Column("county_code", sa.String(32), nullable=True),
        sa.Column("schemes", sa.JSON(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step_count", sa.Integer(), nullable=False),
        sa.Column("last_step_on", sa.Date(), nullable=True),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_dunning_cases_employer_key", "dunning_cases", ["employer_key"])
    op.create_index("ix_dunning_cases_county_code", "dunning_cases", ["county_code"])
    op.create_index("ix_dunning_cases_state", "dunning_cases", ["state"])
    op.create_table(
        "agreements",
        sa.Column("id", ID, primary_key=True),
        sa.Column("employer_key", sa.String(64), nullable=False),
        sa.Column("credit_code", sa.String(32), nullable=False),
        sa.Column("employer_name", sa.String(200), nullable=False),
        sa.Column("county_code", sa.String(32), nullable=True),
        sa.Column("schemes", sa.JSON(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("guarantee_note", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("case_id", ID, sa.ForeignKey("dunning_cases.id"), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_agreements_employer_key", "agreements", ["employer_key"])
    op.create_index("ix_agreements_county_code", "agreements", ["county_code"])
    op.create_index("ix_agreements_status", "agreements", ["status"])
    op.create_index("ix_agreements_case_id", "agreements", ["case_id"])
    op.create_table(
        "agreement_instalments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agreement_id", ID, sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("agreement_id", "seq", name="uq_agreement_instalments_seq"),
    )
    op.create_index(
        "ix_agreement_instalments_agreement_id", "agreement_instalments", ["agreement_id"]
    )
    op.create_table(
        "dunning_steps",
        sa.Column("id", ID, primary_key=True),
        sa.Column("case_id", ID, sa.ForeignKey("dunning_cases.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("late_fee_fen", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("doc_no", sa.String(64), nullable=False),
        sa.Column("document", sa.String(255), nullable=False),
        sa.Column("agreement_id", ID, sa.ForeignKey("agreements.id"), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_dunning_steps_seq"),
    )
    op.create_index("ix_dunning_steps_case_id", "dunning_steps", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_dunning_steps_case_id", "dunning_steps")
    op.drop_table("dunning_steps")
    op.drop_index("ix_agreement_instalments_agreement_id", "agreement_instalments")
    op.drop_table("agreement_instalments")
    for ix in ("case_id", "status", "county_code", "employer_key"):
        op.drop_index(f"ix_agreements_{ix}", "agreements")
    op.drop_table("agreements")
    for ix in ("state", "county_code", "employer_key"):
        op.drop_index(f"ix_dunning_cases_{ix}", "dunning_cases")
    op.drop_table("dunning_cases")
