"""photos (upload grants and the photo evidence of return visits), idempotent_replies (Idempotency-Key), visits.place_name,
assignments.photos / photos_outside_window (办结 photos for the scorecards)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _photo_tables() -> None:
    op.create_table(
        'photos',
        sa.Column('key', sa.String(length=48), nullable=False),
        sa.Column('owner', sa.String(length=140), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('subject', sa.String(length=80), nullable=True),
        sa.Column('case_id', sa.String(length=40), nullable=True),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outside_window', sa.Boolean(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_photos')),
    )
    op.create_index(op.f('ix_photos_owner'), 'photos', ['owner'])
    op.create_index(op.f('ix_photos_subject'), 'photos', ['subject'])
    op.create_index(op.f('ix_photos_case_id'), 'photos', ['case_id'])
    op.create_table(
        'idempotent_replies',
        sa.Column('owner', sa.String(length=140), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('owner', 'key', name=op.f('pk_idempotent_replies')),
    )
    op.create_index(op.f('ix_idempotent_replies_created_at'), 'idempotent_replies', ['created_at'])


def _drop_photo_tables() -> None:
    op.drop_table('idempotent_replies')
    op.drop_table('photos')


def upgrade() -> None:
    _photo_tables()
    op.add_column('visits', sa.Column('place_name', sa.String(length=300), nullable=True))
    op.add_column('assignments', sa.Column('photos', sa.Integer(), server_default='0', nullable=False))
    op.add_column(
        'assignments', sa.Column('photos_outside_window', sa.Integer(), server_default='0', nullable=False)
    )


def downgrade() -> None:
    op.drop_column('assignments', 'photos_outside_window')
    op.drop_column('assignments', 'photos')
    op.drop_column('visits', 'place_name')
    _drop_photo_tables()
