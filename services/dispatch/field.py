"""The field app (现场): the mobile web app of grid workers (网格员) and the units' field staff under ``/field/``.

Plain HTML, CSS and JavaScript modules from ``field/`` (no build step), installable (web app manifest, icons, a
service worker) and offline first: every action is queued on the phone and sent when there is signal. Like the
console, the app is only a client of the three services' HTTP APIs; this module only serves its files, by exact
name, with a strict Content-Security-Policy, and tells the page where intake and follow-up answer.

The service worker is served with a version derived from the content of every shipped file, so a new release
installs a new worker that caches the new files and drops the old ones.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.dispatch.config import DispatchSettings
from services.dispatch.deps import Settings

router = APIRouter()

STATIC = Path(__file__).with_name("field")
WORKER = "sw.js"
VERSION_MARK = "__FIELD_VERSION__"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
}


@functools.cache
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _photo_origin(settings: DispatchSettings) -> str:
    """The S3 endpoint the phone uploads photos to (the presigned POST's host): the photo store's public one."""
    return _origin(settings.photos.public_endpoint_url or settings.photos.endpoint_url)


def content_security_policy(settings: DispatchSettings) -> str:
    """The app's own scripts, styles, manifest and worker only, no inline code; API calls to dispatch (itself),
    intake and follow-up, and photo uploads to the S3 endpoint; photos shown from local blobs or S3."""
    photos = _photo_origin(settings)
    apis = " ".join(dict.fromkeys((_origin(settings.console_intake_url), _origin(settings.console_followup_url))))
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {photos}",
            f"connect-src 'self' {apis} {photos}",
            "manifest-src 'self'",
            "worker-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _headers(settings: DispatchSettings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        # Revalidated on every load; the service worker's cache is what makes the app start offline.
        "Cache-Control": "no-cache",
    }


@functools.cache
def _files() -> dict[str, Path]:
    # Only the files shipped in field/ are served, by exact name: no path from the URL reaches the disk.
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in _TYPES}


@functools.cache
def version() -> str:
    """A digest of every shipped file: changes whenever any of them does."""
    digest = hashlib.sha256()
    for name, path in sorted(_files().items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def _content(name: str) -> tuple[bytes, str]:
    """A shipped file's bytes (the worker with its release written in) and its entity tag."""
    data = _files()[name].read_bytes()
    if name == WORKER:
        data = data.replace(VERSION_MARK.encode(), version().encode())
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _file(name: str, request: Request, settings: DispatchSettings) -> Response:
    path = _files().get(name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": "页面不存在"})
    data, etag = _content(name)
    headers = {**_headers(settings), "ETag": etag}
    if name == WORKER:
        headers["Service-Worker-Allowed"] = "/field/"
    # Revalidation (the browser's cache, the worker's precache) answers 304 with no body when nothing changed.
    if etag in {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, media_type=_TYPES[path.suffix], headers=headers)


@router.get("/field", include_in_schema=False)
async def field_root() -> RedirectResponse:
    return RedirectResponse("/field/", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get("/field/", include_in_schema=False)
async def field_page(request: Request, settings: Settings) -> Response:
    return _file("index.html", request, settings)


@router.get("/field/config.json", tags=["field app"])
async def field_config(settings: Settings) -> JSONResponse:
    """What the app needs besides its own origin: where intake and follow-up answer, and its release."""
    s = settings
    return JSONResponse(
        {
            "intake_url": s.console_intake_url.rstrip("/"),
            "followup_url": s.console_followup_url.rstrip("/"),
            "version": version(),
        },
        headers=_headers(settings),
    )


@router.get("/field/{name}", include_in_schema=False)
async def field_file(name: str, request: Request, settings: Settings) -> Response:
    return _file(name, request, settings)
