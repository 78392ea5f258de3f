"""hotline_operations: 12345's 撤单 / 补充诉求 / 催单 on its orders, once per operation id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'hotline_operations',
        sa.Column('integration_id', sa.String(length=64), nullable=False),
        sa.Column('operation_id', sa.String(length=80), nullable=False),
        sa.Column('order_no', sa.String(length=80), nullable=False),
        sa.Column('report_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['report_id'], ['reports.id'], name=op.f('fk_hotline_operations_report_id_reports'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('integration_id', 'operation_id', name=op.f('pk_hotline_operations')),
    )
    op.create_index(op.f('ix_hotline_operations_report_id'), 'hotline_operations', ['report_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_hotline_operations_report_id'), table_name='hotline_operations')
    op.drop_table('hotline_operations')
