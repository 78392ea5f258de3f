"""The dispatch console (调度台): the static page under ``/console/`` and its live-update stream.

The page is plain HTML, CSS and JavaScript modules from ``static/`` (no build step); every action it offers is
a call to the same HTTP API the tests cover. ``/console/events`` tells a signed-in page that its data changed
(server-sent events), carrying only a version string: the page then re-reads through the API, so the stream
can never show anyone data the API would not.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.sse import KEEPALIVE_COMMENT, EventSourceResponse, format_sse_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.config import DispatchSettings
from services.dispatch.deps import Settings, dispatch_context
from services.dispatch.models import Case, CaseEvent
from shared.auth import Principal, Role
from shared.errors import responses
from shared.http.security import authenticate
from shared.scope import area_filter

log = logging.getLogger(__name__)
router = APIRouter()

STATIC = Path(__file__).with_name("static")
POLL_SECONDS = 1.0  # how often a stream looks for changes (one small query per open console)
PING_SECONDS = 10.0  # a comment line that keeps proxies from closing an idle stream
# A stream ends after this long and the browser reconnects by itself: a server that is stopping never waits
# on an endless response, and an expired token is noticed at the next connection at the latest.
STREAM_SECONDS = 15.0
RETRY_MS = 1000

ASSIGNEES = (Role.UNIT, Role.GRID_WORKER, Role.TASK_FORCE)
AREA_WATCHERS = (Role.TASK_FORCE, Role.DISTRICT)  # the console's supervisors (an admin has no console)

TOKEN_INVALID = "未登录或令牌无效"
NOT_A_CONSOLE_USER = "该角色不使用调度台"

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _photos_origin(settings: DispatchSettings) -> str:
    """Where browsers reach the photo store (presigned uploads and the thumbnails' links)."""
    photos = settings.photos
    return _origin(photos.public_endpoint_url or photos.endpoint_url)


def content_security_policy(followup_url: str, photos_origin: str = "") -> str:
    """Only the console's own scripts and styles, no inline code; API calls to itself and to follow-up; photos
    uploaded to and shown from the photo store."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: {photos_origin}".strip(),
            f"connect-src 'self' {_origin(followup_url)} {photos_origin}".strip(),
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _headers(settings: DispatchSettings) -> dict[str, str]:
    """DISPATCH_CONSOLE_FOLLOWUP_URL: where the console's browser finds follow-up (reports and scorecards)."""
    return {
        "Content-Security-Policy": content_security_policy(settings.console_followup_url, _photos_origin(settings)),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the stream's URL carries the token
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }


@functools.cache
def _files() -> dict[str, Path]:
    # Only the files shipped in static/ are served, by exact name: no path from the URL reaches the disk.
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in _TYPES}


def _file(name: str, settings: DispatchSettings) -> FileResponse:
    path = _files().get(name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": "页面不存在"})
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_headers(settings))


@router.get("/console", include_in_schema=False)
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get("/console/", include_in_schema=False)
async def console_page(settings: Settings) -> FileResponse:
    return _file("index.html", settings)


@router.get("/console/config.json", tags=["console"])
async def console_config(settings: Settings) -> JSONResponse:
    """What the page needs to know besides its own origin: where follow-up answers."""
    return JSONResponse({"followup_url": settings.console_followup_url.rstrip("/")}, headers=_headers(settings))


# -- live updates -------------------------------------------------------------------------------------------


async def version(session: AsyncSession, principal: Principal) -> tuple[str, int]:
    """A digest of what the caller's console shows, and how many open assignments the caller has.

    Computed only from what the caller may read through the API: its own open assignments and the newest
    timeline entry of their cases (an assignee, digested by the database: ``access.open_digest``); the newest
    timeline entry of its street or district (a task force or district).
    """
    parts: list[Any] = []
    mine = 0
    if principal.role in ASSIGNEES:
        mine, digest, newest = await access.open_digest(session, principal)
        parts += [digest, newest]
    if principal.role in AREA_WATCHERS:
        area = area_filter(principal, district=Case.district_id, street=Case.street_id)
        parts.append(
            await session.scalar(select(func.max(CaseEvent.id)).join(Case, Case.id == CaseEvent.case_id).where(area))
        )
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]
    return digest, mine


def _event(name: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(event=name, data_str=json.dumps(data))


async def _stream(request: Request, principal: Principal) -> AsyncIterator[bytes]:
    sessions = dispatch_context(request).runtime.sessions
    assert sessions is not None, "the service is not started"
    yield format_sse_event(retry=RETRY_MS)
    started = last_ping = time.monotonic()
    last: str | None = None
    while time.monotonic() - started < STREAM_SECONDS:
        if principal.exp <= time.time():
            yield _event("expired", {"message": TOKEN_INVALID})
            return
        try:
            async with sessions() as session:
                current, mine = await version(session, principal)
        except Exception:
            log.warning("console stream: version query failed", exc_info=True)
            current = None
        if current is not None and current != last:
            last = current
            yield _event("version", {"version": current, "open": mine})
            last_ping = time.monotonic()
        elif time.monotonic() - last_ping >= PING_SECONDS:
            yield KEEPALIVE_COMMENT
            last_ping = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/console/events",
    tags=["console"],
    # Documented as a plain stream: EventSourceResponse as the route's class would document the JSON refusals as
    # events too. The stream itself is FastAPI's EventSourceResponse, encoded by its format_sse_event.
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "version events"},
        **responses(401, 403, 422),
    },
)
async def console_events(
    request: Request,
    token: Annotated[str, Query(max_length=4096, description="The bearer token (EventSource sets no headers).")] = "",
) -> EventSourceResponse:
    """Server-sent events for a signed-in console: ``version`` whenever what the caller may see changes (and
    once on connecting), with no case data in it; ``expired`` when the token runs out. The token is checked
    exactly like the ``Authorization`` header."""
    principal = await authenticate(request, token.strip())
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthenticated", "message": TOKEN_INVALID, "field": "token"},
        )
    if principal.role not in (*ASSIGNEES, *AREA_WATCHERS):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail={"code": "forbidden", "message": NOT_A_CONSOLE_USER, "field": "token"}
        )
    return EventSourceResponse(
        _stream(request, principal), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get("/console/{name}", include_in_schema=False)
async def console_file(name: str, settings: Settings) -> FileResponse:
    return _file(name, settings)
