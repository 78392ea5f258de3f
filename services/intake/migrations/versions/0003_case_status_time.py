"""case status time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:50:00

When the case fact behind a report's (and an incident's) status happened. A late fact is judged against it rather
than against the report's own update time, so a report that joins an incident after the case was closed but
before intake heard of the closure is still told it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reports', sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('report_groups', sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))
    # Existing rows: the best known time of their status is their last update.
    op.execute("UPDATE reports SET status_at = updated_at WHERE case_id IS NOT NULL")
    op.execute(
        "UPDATE report_groups AS g SET status_at = r.updated_at FROM reports AS r WHERE r.id = g.lead_report_id"
        " AND g.case_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column('report_groups', 'status_at')
    op.drop_column('reports', 'status_at')
