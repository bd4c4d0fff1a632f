"""Self-service, reminders and the compliance API: one-time codes, portal sessions, employer
credentials, certificates, contact preferences, reminder batches, the SMS outbox, credit
listings, and the scopes and purpose of API keys.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _col(name: str, type_: object, null: bool = False, *args: object, **kw: object) -> sa.Column:
    return sa.Column(name, type_, *args, nullable=null, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as b:
        b.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default="[]"))
        b.add_column(sa.Column("purpose", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "one_time_codes",
        _col("id", ID, primary_key=True),
        _col("purpose", sa.String(16)),
        _col("subject_hash", sa.String(64), index=True),
        _col("subject_key", sa.String(64)),
        _col("salt", sa.String(32)),
        _col("code_hash", sa.String(64)),
        _col("created_at", sa.DateTime()),
        _col("expires_at", sa.DateTime()),
        _col("attempts", sa.Integer()),
        _col("used_at", sa.DateTime(), True),
        _col("client", sa.String(64)),
        _col("version", sa.Integer()),
    )
    op.create_table(
        "portal_sessions",
        _col("token_hash", sa.String(64), primary_key=True),
        _col("subject_type", sa.String(8)),
        _col("subject_key", sa.String(64), index=True),
        _col("csrf", sa.String(64)),
        _col("client", sa.String(64)),
        _col("created_at", sa.DateTime()),
        _col("expires_at", sa.DateTime(), index=True),
    )
    op.create_table(
        "employer_credentials",
        _col("id", ID, primary_key=True),
        _col("credit_code", sa.String(32), unique=True),
        _col("employer_key", sa.String(64), index=True),
        _col("password_hash", sa.String(255)),
        _col("must_change", sa.Boolean()),
        _col("issued_by", sa.String(64)),
        _col("issued_at", sa.DateTime()),
        _col("revoked_at", sa.DateTime(), True),
        _col("version", sa.Integer()),
    )
    op.create_table(
        "certificates",
        _col("serial", sa.String(32), primary_key=True),
        _col("check_hash", sa.String(64)),
        _col("employer_key", sa.String(64), index=True),
        _col("credit_code", sa.String(32), index=True),
        _col("content", sa.JSON()),
        _col("issued_at", sa.DateTime()),
        _col("valid_until", sa.Date()),
        _col("revoked_at", sa.DateTime(), True),
    )
    op.create_table(
        "contact_preferences",
        _col("id", ID, primary_key=True),
        _col("recipient_type", sa.String(8)),
        _col("recipient_key", sa.String(64)),
        _col("opted_out", sa.Boolean()),
        _col("language", sa.String(8)),
        _col("source", sa.String(32)),
        _col("note", sa.Text()),
        _col("updated_by", sa.String(64)),
        _col("updated_at", sa.DateTime()),
        _col("version", sa.Integer()),
        sa.UniqueConstraint("recipient_type", "recipient_key", name="uq_contact_preferences"),
    )
    op.create_table(
        "reminder_batches",
        _col("id", ID, primary_key=True),
        _col("as_of", sa.Date()),
        _col("state", sa.String(16), index=True),
        _col("mode", sa.String(8)),
        _col("counts", sa.JSON()),
        _col("created_by", sa.String(64)),
        _col("created_at", sa.DateTime()),
        _col("approved_by", sa.String(64), True),
        _col("approved_at", sa.DateTime(), True),
        _col("version", sa.Integer()),
    )
    op.create_table(
        "outbox",
        _col("id", ID, primary_key=True),
        _col("idem_key", sa.String(200), unique=True),
        _col("batch_id", ID, True, sa.ForeignKey("reminder_batches.id"), index=True),
        _col("reason", sa.String(32), index=True),
        _col("recipient_type", sa.String(8)),
        _col("recipient_key", sa.String(64), index=True),
        _col("county_code", sa.String(32), True, index=True),
        _col("phone", sa.String(32)),
        _col("template", sa.String(32)),
        _col("params", sa.JSON()),
        _col("state", sa.String(16), index=True),
        _col("mode", sa.String(8)),
        _col("not_before", sa.DateTime(), True),
        _col("provider", sa.String(16)),
        _col("provider_id", sa.String(64), index=True),
        _col("error", sa.Text()),
        _col("created_at", sa.DateTime()),
        _col("sent_at", sa.DateTime(), True),
        _col("delivered_at", sa.DateTime(), True),
        _col("version", sa.Integer()),
    )
    op.create_table(
        "credit_listings",
        _col("id", ID, primary_key=True),
        _col("employer_key", sa.String(64), index=True),
        _col("credit_code", sa.String(32), index=True),
        _col("ground", sa.String(32)),
        _col("legal_basis", sa.Text()),
        _col("decision_no", sa.String(64)),
        _col("decided_by", sa.String(64)),
        _col("listed_on", sa.Date()),
        _col("listed_until", sa.Date(), True),
        _col("note", sa.Text()),
        _col("removed_at", sa.DateTime(), True),
        _col("removed_by", sa.String(64), True),
        _col("removal_note", sa.Text()),
        _col("version", sa.Integer()),
    )


def downgrade() -> None:
    for table in (
        "credit_listings", "outbox", "reminder_batches", "contact_preferences", "certificates",
        "employer_credentials", "portal_sessions", "one_time_codes",
    ):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("api_keys") as b:
        b.drop_column("purpose")
        b.drop_column("scopes")
