"""Field types for what callers send over HTTP, where pydantic's lax reading would accept what the API does not
document.

Dates and times: the OpenAPI documents say ``format: date`` / ``date-time`` (ISO 8601 text), but pydantic's lax mode
also reads a number, or a string of digits, as seconds since 1970 — ``?end=0`` would be taken for 1 January 1970.
``ISO`` refuses anything but ISO text before pydantic parses it (a value that is already a date passes: Python
callers and tests).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_DATE.match(value)):
        raise PydanticCustomError("iso_format", "Input should be ISO 8601 text, e.g. 2026-11-20T08:00:00Z")
    return value


ISO = BeforeValidator(_iso_text)
IsoDate = Annotated[date, ISO]
