"""rate_buckets: the per-caller rate-limit buckets in the database, one budget for every replica (shared.rate_buckets)

UNLOGGED: a crash empties it (every bucket full again, as a restart did when they lived in memory), and a take writes
no WAL to flush at commit. No index on counted_at, so a take can update its row in place (HOT).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_buckets',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('caller', sa.Text(), nullable=False),
        sa.Column('tokens', sa.Double(), nullable=False),
        sa.Column('counted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('granted', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'caller', name=op.f('pk_rate_buckets')),
        prefixes=['UNLOGGED'],
    )


def downgrade() -> None:
    op.drop_table('rate_buckets')
