"""``IsoDateTime`` from JSON (checked inside pydantic-core) and from Python (a query parameter, a caller's datetime)
refuses and accepts the same values with the same codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from shared.inputs import IsoDateTime


class At(BaseModel):
    at: IsoDateTime


CASES: list[tuple[object, str | None]] = [
    ("2026-11-20T08:00:00Z", None),
    ("2026-11-20T08:00:00.123456+08:00", None),
    ("2000-01-01T00:00:00Z", None),
    ("2100-12-31T23:59:59Z", None),
    (1700000000, "iso_format"),  # a number would be seconds since 1970
    ("1700000000", "iso_format"),  # so would digits in a string
    ("２０２６-11-20T08:00:00Z", "iso_format"),  # full-width digits
    ("", "iso_format"),
    ("2026-11-20T08:00:00", "timezone_aware"),
    ("2026-13-01T08:00:00Z", "datetime_from_date_parsing"),
    ("1999-12-31T23:59:59Z", "date_out_of_range"),
    ("2000-01-01T00:00:00+14:00", "date_out_of_range"),  # 1999 in UTC
    ("2101-01-01T00:00:00Z", "date_out_of_range"),
    ("9999-12-31T23:59:59-12:00", "date_out_of_range"),
    ("0001-01-01T00:00:00Z", "date_out_of_range"),
]


def _code(validate: object) -> str | None:
    try:
        validate()  # type: ignore[operator]
    except ValidationError as exc:
        errors = exc.errors()
        assert len(errors) == 1, errors
        return str(errors[0]["type"])
    return None


@pytest.mark.parametrize(("value", "code"), CASES)
def test_json_and_python_agree(value: object, code: str | None) -> None:
    from_json = _code(lambda: At.model_validate_json(json.dumps({"at": value})))
    from_python = _code(lambda: At.model_validate({"at": value}))
    assert from_json == from_python, (from_json, from_python)
    if code == "datetime_from_date_parsing":
        assert from_json is not None and from_json.startswith("datetime")
    else:
        assert from_json == code


def test_a_datetime_from_python_is_bounded_and_must_be_aware() -> None:
    assert At.model_validate({"at": datetime(2026, 11, 20, tzinfo=UTC)}).at.year == 2026
    assert _code(lambda: At.model_validate({"at": datetime(1990, 1, 1, tzinfo=UTC)})) == "date_out_of_range"
    assert _code(lambda: At.model_validate({"at": datetime(2026, 11, 20)})) == "timezone_aware"


def test_the_instant_and_offset_are_kept_and_the_document_says_date_time() -> None:
    at = At.model_validate_json('{"at": "2026-11-20T08:00:00+08:00"}').at
    assert at == datetime(2026, 11, 20, tzinfo=UTC) and at.utcoffset() == timedelta(hours=8)
    assert At.model_json_schema()["properties"]["at"] == {"type": "string", "format": "date-time", "title": "At"}
