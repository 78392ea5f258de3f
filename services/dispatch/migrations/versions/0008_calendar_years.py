"""calendar_years (admins' amendments of the working-day calendar), assignments.working_time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'calendar_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('holidays', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('make_up_workdays', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('note', sa.String(length=300), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years')),
    )
    op.add_column(
        'assignments', sa.Column('working_time', sa.Boolean(), server_default='false', nullable=False)
    )


def downgrade() -> None:
    op.drop_column('assignments', 'working_time')
    op.drop_table('calendar_years')
