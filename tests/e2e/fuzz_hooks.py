"""schemathesis hooks for tests/e2e/test_fuzz.py, loaded by the ``schemathesis run`` process (``SCHEMATHESIS_HOOKS``):
the machine credentials of intake's integrations, applied to every generated request. The test passes them in the
environment (``FUZZ_*``), so this file imports nothing of the services and signs as the README documents it.

- 12345 (``/hotline/…``): each request is signed as it leaves, over the exact bytes sent — the body of a POST, the
  path and query of a GET — with a fresh timestamp. A request the fuzzer sent without one of the three signature
  headers (a negative case) stays unsigned, so the refusal is what gets checked.
- Open311 POST: a generated ``api_key`` is replaced by the client's key (absent, it stays absent).
- Sensors: the gateway's ``X-Api-Key``.

Boundary values and Unicode the schema-driven generator rarely draws, where parsers have broken before: dates and
date-times at the edges of the years the services take (0001-01-01, 1999-12-31, 2101-01-01, 9999-12-31, and the
first and last days they accept), numbers written in full-width or superscript digits (``str.isdigit()`` says yes to
them, ``int()`` does not), and control characters inside strings. Query and body values are varied one generated
case in two; a 12345 timestamp of superscript digits is sent unsigned, so its refusal is what gets checked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import zlib
from datetime import UTC, date, datetime
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st

INTEGRATION, TIMESTAMP, SIGNATURE = "X-Heat-Integration", "X-Heat-Timestamp", "X-Heat-Signature"

# -- boundary values and Unicode --------------------------------------------------------------------------------

EDGE_DAYS = ["0001-01-01", "1999-12-31", "2000-01-01", "2100-12-31", "2101-01-01", "9999-12-31"]
EDGE_TIMES = ["T00:00:00Z", "T23:59:59+14:00", "T00:00:00-12:00", "T12:00:00.999999+08:00"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# What a header can carry (requests sends Latin-1): the superscripts Latin-1 has.
LATIN1_SUPERSCRIPT = "²³¹²³¹²³¹¹"
CONTROLS = ["\x01", "\x08", "\x0b", "\x1b", "\x7f", "\u200b", "\ufeff"]

schemathesis.openapi.format(
    "date",
    st.one_of(
        st.sampled_from(EDGE_DAYS),
        st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
    ),
)
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.tuples(st.sampled_from(EDGE_DAYS), st.sampled_from(EDGE_TIMES)).map("".join),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)).map(
            datetime.isoformat
        ),
    ),
)


def _twist(value: Any, how: str) -> Any:
    """A string with its ASCII digits made full-width or superscript, or a control character put in its middle."""
    if not isinstance(value, str):
        return value
    if how == "full-width":
        return value.translate(FULL_WIDTH)
    if how == "superscript":
        return value.translate(SUPERSCRIPT)
    middle = len(value) // 2
    return value[:middle] + CONTROLS[len(value) % len(CONTROLS)] + value[middle:]


WAYS = ["as is", "as is", "as is", "full-width", "superscript", "control"]


def _way(values: Any) -> str:
    """Which way a generated value is varied, from its own text: reproducible under the fixed seed, and a map rather
    than a flatmap, which costs the generator no extra draws (a flatmap made the fuzz tier a third slower)."""
    return WAYS[zlib.crc32(repr(values).encode("utf-8", "surrogatepass")) % len(WAYS)]


def _varied(values: Any) -> Any:
    """The generated mapping as it is (three times in six) or with every string twisted one way."""
    if not isinstance(values, dict) or not values:
        return values
    how = _way(values)
    return values if how == "as is" else {k: _twist(v, how) for k, v in values.items()}


@schemathesis.hook
def map_query(context: Any, query: Any) -> Any:
    return _varied(query)


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _varied(body)


@schemathesis.hook
def map_headers(context: Any, headers: Any) -> Any:
    """A numeric header (the 12345 timestamp) sometimes in superscript digits."""
    if isinstance(headers, dict) and TIMESTAMP in headers and _way(headers) == "superscript":
        return {**headers, TIMESTAMP: LATIN1_SUPERSCRIPT}
    return headers


class HotlineSignature(requests.auth.AuthBase):
    """Signs the prepared request, so the signature covers what is really sent (body bytes, encoded path)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        timestamp = request.headers.get(TIMESTAMP)
        if isinstance(timestamp, bytes):
            timestamp = timestamp.decode("latin-1")
        if timestamp == LATIN1_SUPERSCRIPT:
            return request  # sent as generated: the refusal of a timestamp that is not ASCII is what gets checked
        if all(h in request.headers for h in (INTEGRATION, TIMESTAMP, SIGNATURE)):
            if request.method == "GET":
                signed = (request.path_url or "/").encode()
            else:
                body = request.body or b""
                signed = body.encode() if isinstance(body, str) else body
            timestamp = str(int(time.time()))
            secret = os.environ["FUZZ_HOTLINE_SECRET"].encode()
            request.headers[INTEGRATION] = os.environ["FUZZ_HOTLINE_INTEGRATION"]
            request.headers[TIMESTAMP] = timestamp
            request.headers[SIGNATURE] = hmac.new(
                secret, timestamp.encode() + b"." + signed, hashlib.sha256
            ).hexdigest()
        return request


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path: str = case.operation.path
    if path.startswith("/hotline/"):
        kwargs["auth"] = HotlineSignature()
    elif path.startswith("/open311/") and case.method.upper() == "POST":
        if isinstance(case.body, dict) and "api_key" in case.body:
            case.body["api_key"] = os.environ["FUZZ_OPEN311_KEY"]
    elif path == "/v1/sensor-readings":
        case.headers = {**(case.headers or {}), "X-Api-Key": os.environ["FUZZ_SENSOR_KEY"]}
