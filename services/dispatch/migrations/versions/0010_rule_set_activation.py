"""rule_sets.activated_at: the version in force is the one activated last, so an earlier one can be put back

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'rule_sets',
        sa.Column('activated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    # Until now the highest version was in force: activation times in version order keep it so.
    op.execute(
        "UPDATE rule_sets SET activated_at = created_at + version * interval '1 microsecond'"
    )


def downgrade() -> None:
    op.drop_column('rule_sets', 'activated_at')
