"""redact stored free text

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:40:00

A unit's progress notes, 退单 notes, 延期 reasons and decisions, the actions taken and the photo references (any text
before PhotoRef) were stored as typed: the API
redacted nothing (the events carried them redacted, the rows and GET /v1/cases did not). Requests now redact them
at the edge (shared.privacy.FreeText); this redacts what is already stored, with the detector of today. Run again,
it changes nothing. Not reversible: downgrade leaves the text redacted.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.privacy import redact

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _rows(conn: Any, table: str, key: str, columns: str, where: str) -> Any:
    """Every row of ``table`` matching ``where``, in batches by primary key (a season's timeline is large)."""
    last = None
    while True:
        after = f"AND {key} > :last" if last is not None else ""
        sql = f"SELECT {key}, {columns} FROM {table} WHERE ({where}) {after} ORDER BY {key} LIMIT {BATCH}"
        rows = conn.execute(sa.text(sql), {"last": last}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _redact_columns(conn: Any, table: str, columns: list[str]) -> None:
    where = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    for row in _rows(conn, table, "id", ", ".join(columns), where):
        changed = {c: redact(v) for c, v in zip(columns, row[1:], strict=True) if v is not None and redact(v) != v}
        if changed:
            sets = ", ".join(f"{c} = :{c}" for c in changed)
            conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"), {**changed, "id": row[0]})


def _redact_photo_refs(conn: Any, table: str) -> None:
    """Photo references were any text (a file name with the resident's name and number, say): each is redacted."""
    for key, refs in _rows(conn, table, "id", "photo_refs", "jsonb_array_length(photo_refs) > 0"):
        clean = [redact(r) if isinstance(r, str) else r for r in refs]
        if clean != refs:
            conn.execute(
                sa.text(f"UPDATE {table} SET photo_refs = CAST(:r AS jsonb) WHERE id = :id"),
                {"r": json.dumps(clean, ensure_ascii=False), "id": key},
            )


def upgrade() -> None:
    conn = op.get_bind()
    _redact_columns(conn, "assignments", ["action_taken", "return_note"])
    _redact_photo_refs(conn, "assignments")
    _redact_columns(conn, "extensions", ["reason", "decision_note"])
    # The timeline: a progress note and a 退单 note under "note", a 延期 reason under "reason" (other kinds keep a
    # reason code there, which redaction leaves as it is).
    for row in _rows(conn, "case_events", "id", "detail", "detail ? 'note' OR detail ? 'reason'"):
        detail = dict(row[1])
        for k in ("note", "reason"):
            if isinstance(detail.get(k), str):
                detail[k] = redact(detail[k])
        if detail != row[1]:
            conn.execute(
                sa.text("UPDATE case_events SET detail = CAST(:detail AS jsonb) WHERE id = :id"),
                {"detail": json.dumps(detail, ensure_ascii=False), "id": row[0]},
            )


def downgrade() -> None:
    pass  # what was redacted is gone
