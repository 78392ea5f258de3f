"""cases.affected_households, case_reports.household_id and seq, early_reports: an incident's reports and the households they name

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('case_reports', sa.Column('household_id', sa.String(length=64), nullable=True))
    op.add_column('case_reports', sa.Column('seq', sa.BigInteger(), sa.Identity(), nullable=False))
    op.add_column('cases', sa.Column('affected_households', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'early_reports',
        sa.Column('report_id', sa.String(length=40), nullable=False),
        sa.Column('lead_report_id', sa.String(length=40), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=True),
        sa.Column('channel', sa.String(length=24), nullable=False),
        sa.Column('reporter_kind', sa.String(length=24), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('report_id', name=op.f('pk_early_reports')),
    )
    op.create_index(op.f('ix_early_reports_lead_report_id'), 'early_reports', ['lead_report_id'])
    # Until now a case held only the report that opened it, whose household is the case's own. The grouped reports
    # dispatch skipped before (its offsets are past them) are not read again: an incident open across the upgrade
    # counts from the lead and the reports grouped after it.
    op.execute(
        'UPDATE case_reports AS r SET household_id = c.household_id FROM cases AS c WHERE c.id = r.case_id'
    )
    op.execute('UPDATE cases SET affected_households = 1 WHERE household_id IS NOT NULL')


def downgrade() -> None:
    op.drop_table('early_reports')
    op.drop_column('cases', 'affected_households')
    op.drop_column('case_reports', 'seq')
    op.drop_column('case_reports', 'household_id')
