"""The API documentation page of every service, ``/docs``, from files the service ships: Swagger UI is vendored in
``static/swagger-ui/`` (see its README), so the page works on a network without internet, and it is served with a
Content-Security-Policy that admits no other origin and no inline code (the page starts Swagger UI from
``static/swagger-init.js``).

FastAPI's own pages load Swagger UI and ReDoc from a public CDN: a government network without internet showed a
blank page, and any page that runs a CDN's script runs whatever the CDN serves. ReDoc is not offered: Swagger UI
shows the same document.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).with_name("static")
ASSETS = "/docs/assets"
REDIRECT = "/docs/oauth2-redirect"

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}

# Swagger UI sets styles from script (allowed under 'self') and shows schema icons as data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@functools.cache
def assets() -> dict[str, Path]:
    """The files served under ``/docs/assets/``, by exact name: no path from the URL reaches the disk."""
    files = [STATIC / "swagger-init.js", *(STATIC / "swagger-ui").iterdir()]
    return {p.name: p for p in files if p.is_file() and p.suffix in _TYPES}


def page(*, title: str, root: str, openapi_url: str) -> str:
    def attr(value: str) -> str:
        return html.escape(value, quote=True)

    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="{attr(root + ASSETS)}/swagger-ui.css">
<link rel="icon" type="image/png" href="{attr(root + ASSETS)}/favicon-32x32.png">
<title>{html.escape(title)} · 接口文档</title>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{attr(root + openapi_url)}" data-oauth2-redirect-url="{attr(root + REDIRECT)}">
</div>
<script src="{attr(root + ASSETS)}/swagger-ui-bundle.js"></script>
<script src="{attr(root + ASSETS)}/swagger-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """``/docs``, its OAuth2 redirect page and its assets; the app is built with ``docs_url=None, redoc_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(page(title=app.title, root=root, openapi_url=openapi_url), headers=HEADERS)

    @app.get(REDIRECT, include_in_schema=False)
    async def oauth2_redirect(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        script = html.escape(f"{root}{ASSETS}/oauth2-redirect.js", quote=True)
        body = f'<!DOCTYPE html>\n<html lang="en-US">\n<body>\n<script src="{script}"></script>\n</body>\n</html>\n'
        return HTMLResponse(body, headers=HEADERS)

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        path = assets().get(name)
        if path is None:
            detail = {"code": "not_found", "message": "文件不存在", "field": None}
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)
        return FileResponse(path, media_type=_TYPES[path.suffix], headers=HEADERS)
