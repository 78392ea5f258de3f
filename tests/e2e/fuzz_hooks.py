"""schemathesis hooks for tests/e2e/test_fuzz.py, loaded by the ``schemathesis run`` process (``SCHEMATHESIS_HOOKS``):
the machine credentials of intake's integrations, applied to every generated request. The test passes them in the
environment (``FUZZ_*``), so this file imports nothing of the services and signs as the README documents it.

- 12345 (``/hotline/…``): each request is signed as it leaves, over the exact bytes sent — the body of a POST, the
  path and query of a GET — with a fresh timestamp. A request the fuzzer sent without one of the three signature
  headers (a negative case) stays unsigned, so the refusal is what gets checked.
- Open311 POST: a generated ``api_key`` is replaced by the client's key (absent, it stays absent).
- Sensors: the gateway's ``X-Api-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Any

import requests
import schemathesis

INTEGRATION, TIMESTAMP, SIGNATURE = "X-Heat-Integration", "X-Heat-Timestamp", "X-Heat-Signature"


class HotlineSignature(requests.auth.AuthBase):
    """Signs the prepared request, so the signature covers what is really sent (body bytes, encoded path)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
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
