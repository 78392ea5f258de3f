"""Field types and parsers for what callers send over HTTP, where Python's or pydantic's lax reading would accept what
the API does not document, or what the code after it cannot compute with.

Dates and times: the OpenAPI documents say ``format: date`` / ``date-time`` (ISO 8601 text), but pydantic's lax mode
also reads a number, or a string of digits, as seconds since 1970 — ``?end=0`` would be taken for 1 January 1970.
``ISO`` refuses anything but ISO text before pydantic parses it (a value that is already a date passes: Python
callers and tests). ``IsoDate`` and ``IsoDateTime`` also hold the year to 2000–2100: a window at 0001-01-01 or
9999-12-31 overflowed the date arithmetic after it (a day before, a local midnight in UTC) into a 500, and no heating
season lies outside those years. ``IsoDateTime`` does both inside pydantic-core, without a Python call per value
(a sensor batch carries thousands), and holds the instant to [2000-01-01, 2101-01-01) UTC.

Numbers in text (a header, a query parameter read by hand): ``ascii_int`` reads ASCII digits only. ``str.isdigit()``
is true of superscript and other Unicode digits that ``int()`` then refuses (``"²"``) or reads (``"２"``), so a check
with one and a parse with the other turned a header of superscripts into a 500.

The future: ``not_in_future`` refuses an observed-at time (a reading, a visit) later than the service's clock plus
its allowed skew — a stored future time would otherwise sort after every real one.

Links: ``WebUrl`` is an absolute http(s) URL; ``javascript:``, ``data:``, ``file:`` and relative references are
refused, so a link shown to someone cannot run or read anything.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

MIN_YEAR, MAX_YEAR = 2000, 2100
# ASCII only: ``\d`` would also match full-width and other Unicode digits.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ASCII_INT = re.compile(r"[0-9]+")
WEB_SCHEMES = ("https", "http")


class InputRefused(ValueError):
    """A value a caller sent that the parser refuses; ``str()`` says why in English."""


_ISO_MESSAGE = "Input should be ISO 8601 text, e.g. 2026-11-20T08:00:00Z"


def _iso_text(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_DATE.match(value)):
        raise PydanticCustomError("iso_format", _ISO_MESSAGE)
    return value


def in_range(value: date) -> bool:
    """The year is one the services compute with (2000–2100)."""
    return MIN_YEAR <= value.year <= MAX_YEAR


D = TypeVar("D", bound=date)


def _bounded(value: D | None) -> D | None:
    # None passes: the annotation may sit on an optional field (``Annotated[datetime | None, ISO, BOUNDED]``).
    if value is not None and not in_range(value):
        raise PydanticCustomError(
            "date_out_of_range",
            "Date should be between {low}-01-01 and {high}-12-31",
            {"low": MIN_YEAR, "high": MAX_YEAR},
        )
    return value


ISO = BeforeValidator(_iso_text)
BOUNDED = AfterValidator(_bounded)
IsoDate = Annotated[date, ISO, BOUNDED]


class _IsoInstant:
    """An aware date-time given as ISO text, in [2000-01-01, 2101-01-01) UTC, checked by pydantic-core: from JSON the
    text must start with an ASCII date (a number, or digits pydantic would read as seconds since 1970, are
    ``iso_format``), then it is parsed, then bounded (``date_out_of_range``). From Python (a query parameter, a
    caller's ``datetime``) the same, the text checked by ``_iso_text``."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        parsed = handler(source)
        iso_text = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=_ISO_DATE.pattern), "iso_format", custom_error_message=_ISO_MESSAGE
        )
        bounded = core_schema.custom_error_schema(
            core_schema.datetime_schema(
                strict=True,
                ge=datetime(MIN_YEAR, 1, 1, tzinfo=UTC),
                lt=datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC),
            ),
            "date_out_of_range",
            custom_error_message=f"Date should be between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31 (UTC)",
        )
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([iso_text, parsed, bounded]),
            python_schema=core_schema.no_info_before_validator_function(
                _iso_text, core_schema.chain_schema([parsed, bounded])
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time"}


IsoDateTime = Annotated[AwareDatetime, _IsoInstant()]


def parse_datetime(raw: str) -> datetime:
    """An ISO 8601 date or date-time written in ASCII, in 2000–2100; a time without offset is UTC. ``InputRefused``
    otherwise (what a hand-read query parameter needs: Open311's ``start_date``)."""
    text = raw.strip()
    if not text.isascii() or not _ISO_DATE.match(text):
        raise InputRefused("not ISO 8601 text")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputRefused("not ISO 8601 text") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not in_range(value):
        raise InputRefused(f"year outside {MIN_YEAR}–{MAX_YEAR}")
    return value


def ascii_int(raw: str, *, low: int, high: int) -> int:
    """A whole number written in ASCII digits (no sign, no spaces, no Unicode digits), within [low, high];
    ``InputRefused`` otherwise."""
    if not _ASCII_INT.fullmatch(raw) or len(raw) > len(str(high)):
        raise InputRefused("not a whole number in ASCII digits")
    value = int(raw)
    if not low <= value <= high:
        raise InputRefused(f"outside {low}–{high}")
    return value


def not_in_future(value: datetime, *, now: datetime, skew_seconds: float) -> bool:
    """``value`` is no later than ``now`` plus the allowed clock skew."""
    return value <= now + timedelta(seconds=skew_seconds)


def web_url_refusal(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL with a host, or None when it is."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "not a URL"
    if parts.scheme.lower() not in WEB_SCHEMES:
        return "only https:// and http:// links are accepted"
    if not parts.hostname or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in value):
        return "not an absolute URL"
    return None


def _web_url(value: str) -> str:
    reason = web_url_refusal(value)
    if reason:
        raise PydanticCustomError("url_scheme", "URL refused: {reason}", {"reason": reason})
    return value


# The pattern tells clients (and the fuzzer) the scheme; the validator also wants a host and no spaces.
WebUrl = Annotated[str, Field(max_length=500, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://"), AfterValidator(_web_url)]
