"""redact stored free text

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 12:40:00

The notes and photo references of return visits (回访) and spot checks (抽核) were stored as the grid worker or
the task force typed them, a resident's name and number included. Requests now redact them at the edge
(shared.privacy.FreeText, PhotoRef); this redacts what is already stored, with the detector of today. Run again, it
changes nothing. Not reversible: downgrade leaves the text redacted.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.privacy import redact

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _redact_notes(conn: Any, table: str) -> None:
    last = None
    while True:
        after = "AND id > :last" if last is not None else ""
        rows = conn.execute(
            sa.text(f"SELECT id, notes FROM {table} WHERE notes IS NOT NULL {after} ORDER BY id LIMIT {BATCH}"),
            {"last": last},
        ).all()
        if not rows:
            return
        for key, notes in rows:
            if (clean := redact(notes)) != notes:
                conn.execute(sa.text(f"UPDATE {table} SET notes = :notes WHERE id = :id"), {"notes": clean, "id": key})
        last = rows[-1][0]


def _redact_photo_refs(conn: Any, table: str) -> None:
    """Photo references were any text (a file name with the resident's name and number, say): each is redacted."""
    last = None
    while True:
        after = "AND id > :last" if last is not None else ""
        rows = conn.execute(
            sa.text(
                f"SELECT id, photo_refs FROM {table} WHERE jsonb_array_length(photo_refs) > 0 {after}"
                f" ORDER BY id LIMIT {BATCH}"
            ),
            {"last": last},
        ).all()
        if not rows:
            return
        for key, refs in rows:
            clean = [redact(r) if isinstance(r, str) else r for r in refs]
            if clean != refs:
                conn.execute(
                    sa.text(f"UPDATE {table} SET photo_refs = CAST(:r AS jsonb) WHERE id = :id"),
                    {"r": json.dumps(clean, ensure_ascii=False), "id": key},
                )
        last = rows[-1][0]


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("visits", "spot_checks"):
        _redact_notes(conn, table)
        _redact_photo_refs(conn, table)


def downgrade() -> None:
    pass  # what was redacted is gone
