"""Identifiers the services mint: a short prefix naming the kind (``C`` a case, ``A`` an assignment, ``R`` a report,
``V`` a visit …) and 64 random bits, e.g. ``A-3f9c0e1d2b4a5968``."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"
