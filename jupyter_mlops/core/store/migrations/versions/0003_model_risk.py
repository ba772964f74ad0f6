"""model risk management: inventory fields, validations, retention per deployment (issue 17)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 23:30:00

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_table(name: str, *columns: Any, **kw: Any) -> None:
    """Create a table unless a pre-migration store (made by ``create_all``) already has it."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **kw)


def _create_index(name: str, table: str, columns: list[str], **kw: Any) -> None:
    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in existing:
        op.create_index(name, table, columns, **kw)


def upgrade() -> None:
    """Create the risk tables."""
    _create_table(
        "mlops_model_risk",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("intended_use", sa.Text(), nullable=True),
        sa.Column("business_owner", sa.String(length=255), nullable=True),
        sa.Column("technical_owner", sa.String(length=255), nullable=True),
        sa.Column("risk_tier", sa.String(length=32), nullable=True),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=True),
        sa.Column("validation_status", sa.String(length=32), nullable=False),
        sa.Column("validated_at", sa.String(length=40), nullable=True),
        sa.Column("next_review_due", sa.String(length=10), nullable=True),
        sa.Column("review_alerted_for", sa.String(length=10), nullable=True),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "version", name="uq_mlops_model_risk_model_version"),
    )
    _create_index(op.f("ix_mlops_model_risk_model"), "mlops_model_risk", ["model"], unique=False)
    _create_table(
        "mlops_validations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("validator", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_mlops_validations_model"), "mlops_validations", ["model"], unique=False)
    _create_table(
        "mlops_retention",
        sa.Column("deployment", sa.String(length=63), nullable=False),
        sa.Column("inference_log_days", sa.Float(), nullable=True),
        sa.Column("ledger_days", sa.Float(), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("deployment"),
    )


def downgrade() -> None:
    """Drop the risk tables."""
    op.drop_table("mlops_retention")
    op.drop_index(op.f("ix_mlops_validations_model"), table_name="mlops_validations")
    op.drop_table("mlops_validations")
    op.drop_index(op.f("ix_mlops_model_risk_model"), table_name="mlops_model_risk")
    op.drop_table("mlops_model_risk")
