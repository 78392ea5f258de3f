"""reports.handling: the units answering for a report's case and their types, for the public status view

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
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
