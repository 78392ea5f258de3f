"""reports.handling: the units answering for a report's case and their types, for the public status view

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:40:00
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
    # Reports of cases assigned before this learn their units' types from the next CaseAssigned of their case.
    op.add_column(
        'reports',
        sa.Column(
            'handling', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column('reports', 'handling')
