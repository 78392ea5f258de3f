"""account_token_versions: the console accounts' token versions dispatch announced (AccountTokensRevoked)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'account_token_versions',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('token_version', sa.Integer(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('account', name=op.f('pk_account_token_versions')),
    )


def downgrade() -> None:
    op.drop_table('account_token_versions')
