"""notify_targets and notifications: who hears what through which channel, and every message owed (issue 20)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'notify_targets',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('owner_kind', sa.String(length=8), nullable=False),
        sa.Column('owner_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('kinds', postgresql.ARRAY(sa.String(length=24)), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_kind', 'owner_id', 'channel', 'name', name='uq_notify_targets_owner'),
    )
    op.create_table(
        'notifications',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('lane', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=12), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('case_id', sa.String(length=40), nullable=True),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('sms', sa.String(length=300), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(['target_id'], ['notify_targets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id', 'target_id', 'kind', name='uq_notifications_event_target'),
    )
    op.create_index('ix_notifications_target_id', 'notifications', ['target_id'])
    op.create_index('ix_notifications_case', 'notifications', ['case_id'])
    op.create_index(
        'ix_notifications_due', 'notifications', ['next_attempt_at'], postgresql_where=sa.text("state = 'pending'")
    )
    op.create_index(
        'ix_notifications_undelivered', 'notifications', ['state'], postgresql_where=sa.text("state <> 'delivered'")
    )


def downgrade() -> None:
    op.drop_table('notifications')
    op.drop_table('notify_targets')
