"""Open311's wire format: JSON or XML by the path's suffix, the spec's error list ``[{code, description}]`` with the
HTTP status as code, the parameters of a call read and checked once, and the refusals of the shared plumbing and of
the framework spoken in that list under ``/open311/``."""

from __future__ import annotations

import inspect
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from services.intake import texts
from shared.errors import refused_value
from shared.text import forbidden_at, xml_safe

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
MAX_LIST = 1000
# The longest a parameter may be: the description and a link have their own limits, below; anything else a client
# sends (a name, an id, lat/long, account_id, which is echoed) is short; a list of ids is long.
MAX_PARAM = 1000
_LONG_PARAMS = {"description": 4000, "media_url": 500, "service_request_id": 40 * MAX_LIST}

# Repeated XML children: the element name of one item of each list.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}


# -- rendering ------------------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, value: Any) -> None:
    if isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = xml_safe(str(value))  # what XML 1.0 cannot carry is dropped, not written


def _xml_fill(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            for item in value:
                node = ET.SubElement(child, _ITEM.get(key, "item"))
                if isinstance(item, dict):
                    _xml_fill(node, item)
                else:
                    _xml_value(node, item)
        elif isinstance(value, dict):
            _xml_fill(child, value)
        else:
            _xml_value(child, value)


def to_xml(root: str, body: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``<root><item>…</item>…</root>`` for a list, ``<root>…</root>`` for one object, as the spec shows."""
    element = ET.Element(root)
    if isinstance(body, list):
        for item in body:
            _xml_fill(ET.SubElement(element, _ITEM.get(root, "item")), item)
    else:
        _xml_fill(element, body)
    tree: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tree


def render(fmt: str, root: str, body: list[dict[str, Any]] | dict[str, Any], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, body), status_code=status, media_type="text/xml; charset=utf-8")
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(payload.encode(), status_code=status, media_type="application/json; charset=utf-8")


def error(fmt: str, status: int, description: str) -> Response:
    return render(
        fmt if fmt in ("json", "xml") else "json", "errors", [{"code": status, "description": description}], status
    )


def w3c(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def checked_format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(400, texts.OPEN311_BAD_FORMAT)
    return fmt


# -- parameters ------------------------------------------------------------------------------------------------------


def _name(key: str) -> str:
    """A parameter's name as a refusal may quote it (what it cannot carry dropped, shortened)."""
    return xml_safe(key)[:64]


def check_params(params: dict[str, str]) -> None:
    """Every parameter of a call, once, before any is read: a name or value with a character XML 1.0 forbids (a
    vertical tab, a NUL, a lone surrogate: shared.text) or longer than its limit is a 400 naming the parameter. The
    parameters are read by hand, so this is where CleanText's rule is applied to them: what is stored, echoed or
    published never holds what the XML list cannot carry."""
    for key, value in params.items():
        for text in (key, value):
            if (at := forbidden_at(text)) is not None:
                char = f"U+{ord(text[at]):04X}"
                raise Open311Error(400, texts.OPEN311_BAD_CHAR.format(name=_name(key), char=char))
        limit = _LONG_PARAMS.get(key, MAX_PARAM)
        if len(value) > limit:
            raise Open311Error(400, texts.OPEN311_PARAM_TOO_LONG.format(name=_name(key), limit=limit))


async def read_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if body and kind not in ("", "application/x-www-form-urlencoded"):
            raise Open311Error(400, texts.OPEN311_BAD_BODY)
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise Open311Error(400, texts.OPEN311_BAD_ENCODING) from exc
        params.update(form)
    check_params(params)
    return params


# -- answers and refusals --------------------------------------------------------------------------------------------


async def respond(request: Request, fmt: str, work: Any) -> Response:
    try:
        response: Response = await work(checked_format(fmt))
        return response
    except Open311Error as exc:
        refused = error(fmt, exc.status, exc.description)
        refused.headers.update(exc.headers)
        return refused
    except DBAPIError as exc:
        if refused_value(exc):
            return error(fmt, 400, texts.OPEN311_BAD_VALUE)
        log.exception("Open311 call failed on the database")
        return error(fmt, 500, texts.OPEN311_SERVER_ERROR)
    except Exception:
        log.exception("Open311 call failed")
        return error(fmt, 500, texts.OPEN311_SERVER_ERROR)


def _suffix(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def plumbing_refusal(path: str, status: int, message: str) -> tuple[str, bytes]:
    """A refusal of the shared plumbing (413, 408) under ``/open311/``, in the spec's error list (shared.limits)."""
    answer = error(_suffix(path), status, message)
    return answer.media_type or "application/json", bytes(answer.body)


_FRAMEWORK = {404: texts.OPEN311_NO_SUCH_CALL, 405: texts.OPEN311_METHOD_NOT_ALLOWED}


def speak_framework_refusals(app: FastAPI) -> None:
    """The framework's own refusals under ``/open311/`` — an unknown call (404), a method a call does not take (405),
    anything else it raises — in the spec's error list instead of the services' error JSON; elsewhere unchanged."""
    elsewhere = app.exception_handlers[HTTPException]

    async def refused(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PREFIX + "/") or not isinstance(exc, HTTPException):
            answer = elsewhere(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        description = _FRAMEWORK.get(exc.status_code, texts.OPEN311_BAD_VALUE)
        answer = error(_suffix(request.url.path), exc.status_code, description)
        answer.headers.update(exc.headers or {})
        return answer

    app.add_exception_handler(HTTPException, refused)
