"""Audit cases (稽核案件), their steps and findings (canbao.audit.cases).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CASE_INDEXED = ("employer_key", "county_code", "state")


def upgrade() -> None:
    op.create_table(
        "audit_cases",
        sa.Column("id", ID, primary_key=True),
        sa.Column("employer_key", sa.String(64), nullable=False),
        sa.Column("credit_code", sa.String(32), nullable=False),
        sa.Column("employer_name", sa.String(200), nullable=False),
        sa.Column("county_code", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("matters", sa.JSON(), nullable=False),
        sa.Column("period_from", sa.String(7), nullable=False),
        sa.Column("period_to", sa.String(7), nullable=False),
        sa.Column("notice_no", sa.String(64), nullable=False),
        sa.Column("notice_on", sa.Date(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("auditors", sa.JSON(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=True),
        sa.Column("record_note", sa.Text(), nullable=False),
        sa.Column("result_due", sa.Date(), nullable=True),
        sa.Column("opinion_due", sa.Date(), nullable=True),
        sa.Column("finished_on", sa.Date(), nullable=True),
        sa.Column("conclusion", sa.String(16), nullable=True),
        sa.Column("opinion_no", sa.String(64), nullable=False),
        sa.Column("conclusion_note", sa.Text(), nullable=False),
        sa.Column("rectify_by", sa.Date(), nullable=True),
        sa.Column("rectified_on", sa.Date(), nullable=True),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    for col in CASE_INDEXED:
        op.create_index(f"ix_audit_cases_{col}", "audit_cases", [col])
    op.create_table(
        "audit_case_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("case_id", ID, sa.ForeignKey("audit_cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_case_events_case_id", "audit_case_events", ["case_id"])
    op.create_table(
        "audit_findings",
        sa.Column("id", ID, primary_key=True),
        sa.Column("case_id", ID, sa.ForeignKey("audit_cases.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("employer_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("person_name", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("declared_base_fen", sa.BigInteger(), nullable=False),
        sa.Column("found_base_fen", sa.BigInteger(), nullable=False),
        sa.Column("risk_class", sa.Integer(), nullable=True),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("unpaid_fen", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("case_id", "seq", name="uq_audit_findings_seq"),
    )
    for col in ("case_id", "employer_key", "assessed_on"):
        op.create_index(f"ix_audit_findings_{col}", "audit_findings", [col])


def downgrade() -> None:
    for col in ("assessed_on", "employer_key", "case_id"):
        op.drop_index(f"ix_audit_findings_{col}", "audit_findings")
    op.drop_table("audit_findings")
    op.drop_index("ix_audit_case_events_case_id", "audit_case_events")
    op.drop_table("audit_case_events")
    for col in reversed(CASE_INDEXED):
        op.drop_index(f"ix_audit_cases_{col}", "audit_cases")
    op.drop_table("audit_cases")
