"""cases.withdrawn_at (撤单: the case counts against no unit), hurries (催单, the 重复诉求率 of the assessment)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'hurries',
        sa.Column('event_id', sa.Uuid(), nullable=False),
        sa.Column('case_id', sa.String(length=40), nullable=False),
        sa.Column('report_id', sa.String(length=40), nullable=False),
        sa.Column('hurries', sa.Integer(), nullable=False),
        sa.Column('unit_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('supervised', sa.Boolean(), nullable=False),
        sa.Column('hurried_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('district_id', sa.String(length=64), nullable=False),
        sa.Column('street_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_hurries')),
    )
    op.create_index('ix_hurries_case', 'hurries', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_hurries_case', table_name='hurries')
    op.drop_table('hurries')
    op.drop_column('cases', 'withdrawn_at')
