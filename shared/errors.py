"""API errors with a machine code, a Chinese message for people, and the field at fault; their OpenAPI models.

Every error answer is ``{"detail": {"code", "message", "field"}}``, except a 422 from input validation, whose
``detail`` is a list with one entry per field at fault. Routes declare the statuses they can answer with
``responses=errors.responses(401, 404, …)``; those of the shared plumbing (413, 408, and 401 for a credential
dependency) are added to every route by ``declare_refusals``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


# Refusals of the shared plumbing (shared.limits), read by whoever sent the request.
BODY_TOO_LARGE = "请求体过大：本接口最多接受 {limit} 字节"
RATE_LIMITED = "请求过于频繁，请 {seconds} 秒后再试"
# A request body that did not arrive in time (shared.slow_requests).
REQUEST_TIMEOUT = "请求发送超时：请求须在 {seconds} 秒内发送完毕"
# A value PostgreSQL cannot store, refused as a whole (shared.errors.refused_value).
VALUE_REFUSED = "输入含有无法保存的字符（如空字符）或超出范围的数值"
DATABASE_AWAY = "数据库连接中断，请稍后重试"
# Refusals of the framework itself, which come with an English text.
_HTTP = {
    400: ("bad_request", "请求无法解析"),
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "该地址不支持此请求方法"),
}


class Refused(Exception):
    """A refusal, with a machine code, a Chinese message for people, and the field at fault. Use cases raise the
    domain's kinds (``NotFound``, ``Conflict``, ``Invalid``, ``Forbidden``) and know nothing of HTTP: the HTTP layer
    answers each with its status (``install``), a consumer dead-letters it (shared.consumer)."""

    status = 400

    def __init__(
        self, code: str, message: str, field: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


class NotFound(Refused):
    """Nothing of that id, or nothing of it the caller may see (the same answer, so ids cannot be probed)."""

    status = 404

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}_not_found", message)


class Conflict(Refused):
    """Not in a state that allows it (shared.states)."""

    status = 409


class Invalid(Refused):
    """An input the rules refuse, beyond its shape (which the schemas check): a time in the future, a coverage that
    would make routing ambiguous, …"""

    status = 422


class Forbidden(Refused):
    """Outside the caller's remit (their grid, street or district)."""

    status = 403


class ApiError(Refused):
    """A refusal of the HTTP layer itself, with its status spelt out (401, 413, 429, …)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, field, headers=headers)
        self.status = status


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable reason, e.g. ``assignment_not_found``.")
    message: str = Field(description="What went wrong, in Chinese, for the person at the screen.")
    field: str | None = Field(default=None, description="The input at fault: a body field, parameter or header.")


class ErrorOut(BaseModel):
    detail: ErrorDetail


class FieldError(BaseModel):
    field: str = Field(description="Where the input is at fault, e.g. ``query.limit`` or ``readings.3.temp_c``.")
    code: str = Field(description="pydantic's error type, e.g. ``string_too_long``.")
    message: str = Field(description="The problem in Chinese.")
    reason: str = Field(description="The validator's explanation (English).")


class InvalidOut(BaseModel):
    detail: list[FieldError] | ErrorDetail = Field(
        description="One entry per field at fault, or one error when the input is refused as a whole."
    )


_STATUS = {
    400: "Bad request",
    401: "Not signed in, or the credentials are not valid",
    403: "This caller may not do this",
    404: "Not found, or not visible to this caller",
    408: "The request body did not arrive in time (the connection is closed)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests (``Retry-After`` says when to try again)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error statuses it can answer, in the error model above."""
    return {s: {"model": InvalidOut if s == 422 else ErrorOut, "description": _STATUS[s]} for s in statuses}


# Methods whose requests carry a body: BodyLimit (413) and BodyDeadline (408) stand in front of every one of them.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def declare_refusals(routes: Iterable[Any], *, credentials: Collection[Callable[..., Any]]) -> None:
    """Adds to the OpenAPI ``responses`` of ``routes`` (an APIRouter's, before the app includes it) the refusals that
    come from plumbing every route shares rather than from the route's own code, so no route has to remember them:
    413 (shared.limits.BodyLimit) and 408 (shared.slow_requests.BodyDeadline) on every route with a body method, 401
    on every route that depends, directly or through another dependency, on one of ``credentials``
    (shared.http.security's bearer token and admin token), 422 in the project's shape on every route with a
    parameter or a body (FastAPI's own default shape is not what the services answer). A status the route declares
    itself is kept as declared.

    What a route's own code decides stays in its ``responses=``: 403 where a role or scope is refused, 429 where it
    spends a rate limit, 401 where it checks a credential itself (a 12345 signature, a gateway key);
    tests/unit/test_openapi_refusals.py holds them to the authorization matrix and to the rate limiter's use."""
    for route in routes:
        if isinstance(route, APIRoute):
            statuses: list[int] = []
            if (route.methods or set()) & BODY_METHODS:
                statuses += [408, 413]
            if _depends_on(route.dependant, credentials):
                statuses.append(401)
            if get_flat_params(route.dependant) or route.body_field is not None:
                # FastAPI would document its own 422 shape here; the project answers in InvalidOut's (install).
                statuses.append(422)
            declared = {str(s) for s in route.responses}
            added = {s: spec for s, spec in responses(*statuses).items() if str(s) not in declared}
            if added:
                # A new dict: a route may share its ``responses=`` with others.
                route.responses = {**route.responses, **added}
                route.response_fields = {
                    **route.response_fields,
                    **{
                        s: create_model_field(
                            name=f"Response_{s}_{route.unique_id}", type_=spec["model"], mode="serialization"
                        )
                        for s, spec in added.items()
                    },
                }
        elif (router := getattr(route, "original_router", None)) is not None:
            declare_refusals(router.routes, credentials=credentials)  # a router included in this one


def _depends_on(dependant: Any, calls: Collection[Callable[..., Any]]) -> bool:
    return any(d.call in calls or _depends_on(d, calls) for d in dependant.dependencies)


def refused_value(exc: DBAPIError) -> bool:
    """PostgreSQL, or the driver before sending, refused a value as data (SQLSTATE class 22): a NUL character in
    text, a number beyond its column's range, … Such a value can only have come with the request."""
    return str(getattr(exc.orig, "sqlstate", "") or "").startswith("22")


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(
            {"detail": {"code": exc.code, "message": exc.message, "field": exc.field}},
            status_code=exc.status,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p != "body"),
                "code": e["type"],
                "message": _zh(e["type"]),
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        # Raised by the framework with a text detail: an unknown path or method, a body that is not text.
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # A JSON body that is not UTF-8 is not JSON (RFC 8259): the same 422 as any other broken JSON.
            reason = "JSON decode error: body is not UTF-8"
            return JSONResponse(
                {"detail": [{"field": "", "code": "json_invalid", "message": _zh("json_invalid"), "reason": reason}]},
                status_code=422,
            )
        detail: Any = exc.detail
        if not isinstance(detail, dict):
            code, message = _HTTP.get(exc.status_code, ("http_error", "请求无法处理"))
            detail = {"code": code, "message": message, "field": None}
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", "unmatched")
        if exc.connection_invalidated:
            # The database went away under this request (a restart, a failover): nothing was committed, the pool
            # renews every connection as old as this one, and the same request sent again is served. A connection
            # used within the last second is handed out untested (shared.db.create_engine), so a restart meets a
            # busy service this way, once: a 503 that the field app's queue and the 12345 platform resend, not a 500.
            log.warning("database connection lost", extra={"route": route})
            return JSONResponse(
                {"detail": {"code": "database_unavailable", "message": DATABASE_AWAY, "field": None}},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        if not refused_value(exc):
            raise exc
        # The route and the SQLSTATE, never the error's text: it quotes the value, which may be personal data.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        log.warning("value refused by the database", extra={"route": route, "sqlstate": sqlstate})
        return JSONResponse(
            {"detail": {"code": "value_refused", "message": VALUE_REFUSED, "field": None}}, status_code=422
        )


_ZH = {
    "missing": "缺少必填项",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_type": "应为 true 或 false",
    "json_invalid": "请求体不是合法的 JSON",
    "iso_format": "日期时间须为 ISO 8601 格式，如 2026-11-20T08:00:00+08:00",
    "date_out_of_range": "日期须在 2000-01-01 至 2100-12-31 之间",
    "timezone_aware": "日期时间须带时区，如 2026-11-20T08:00:00+08:00",
    "text_forbidden_char": "文字中含有不允许的控制字符（制表、换行、回车以外的控制字符，或 U+FFFE、U+FFFF、代理字符）",
}


def _zh(kind: str) -> str:
    return _ZH.get(kind, "输入不合法")
