"""redact stored free text again

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:40:00

Reports and the visit ledger's findings were stored redacted, but by a detector that missed what Chinese input
methods type: full-width digits (１３９…), numbers split by dots or full-width dashes, 居民/业主 before a name, bank
card numbers; reports' photo references were stored as sent. This redacts them again with the detector of today and
the household's resident as the registry knows them. Run again, it changes nothing. Not reversible: downgrade
leaves the text redacted.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.privacy import redact

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT r.id, r.description, r.photo_refs, h.resident_name FROM reports AS r"
                " LEFT JOIN households AS h ON h.id = r.household_id"
                f" WHERE r.id > :last ORDER BY r.id LIMIT {BATCH}"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        for key, description, refs, name in rows:
            names = [name] if name else []
            if (clean := redact(description, names=names)) != description:
                conn.execute(sa.text("UPDATE reports SET description = :d WHERE id = :id"), {"d": clean, "id": key})
            # Photo references were any text (a file name with the resident's name and number, say).
            clean_refs = [redact(r, names=names) if isinstance(r, str) else r for r in refs or []]
            if clean_refs != (refs or []):
                conn.execute(
                    sa.text("UPDATE reports SET photo_refs = CAST(:r AS jsonb) WHERE id = :id"),
                    {"r": json.dumps(clean_refs, ensure_ascii=False), "id": key},
                )
        last = rows[-1][0]
    last = ""
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT v.id, v.findings, h.resident_name FROM household_visits AS v"
                " LEFT JOIN households AS h ON h.id = v.household_id"
                f" WHERE v.id > :last ORDER BY v.id LIMIT {BATCH}"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        for key, findings, name in rows:
            names = [name] if name else []
            clean = [
                f | {"description": redact(f["description"], names=names)}
                if isinstance(f, dict) and isinstance(f.get("description"), str)
                else f
                for f in findings or []
            ]
            if clean != (findings or []):
                conn.execute(
                    sa.text("UPDATE household_visits SET findings = CAST(:f AS jsonb) WHERE id = :id"),
                    {"f": json.dumps(clean, ensure_ascii=False), "id": key},
                )
        last = rows[-1][0]


def downgrade() -> None:
    pass  # what was redacted is gone
