"""accounts.token_version (revocation of login tokens) and login_failures (sign-in throttling across replicas)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('token_version', sa.Integer(), server_default='1', nullable=False))
    op.create_table(
        'login_failures',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_failures')),
    )
    op.create_index(op.f('ix_login_failures_last_failure_at'), 'login_failures', ['last_failure_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_login_failures_last_failure_at'), table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_column('accounts', 'token_version')
