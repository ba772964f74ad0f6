"""fleet summary: a deployment without data has no health score (unknown)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 23:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Let ``mlops_fleet_summary.health_score`` be NULL: health ``unknown`` has no score."""
    with op.batch_alter_table("mlops_fleet_summary") as batch:
        batch.alter_column("health_score", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    """Scores back to NOT NULL (unknown rows are dropped: the next fleet run rewrites every summary)."""
    op.execute("DELETE FROM mlops_fleet_summary WHERE health_score IS NULL")
    with op.batch_alter_table("mlops_fleet_summary") as batch:
        batch.alter_column("health_score", existing_type=sa.Float(), nullable=False)
