"""Every service's /docs works without internet (shared.docs_ui): the page and Swagger UI come from the service
itself, under a Content-Security-Policy that names no other origin; a headless Chromium that may reach nothing but
the service renders the API."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import async_playwright

from services.dispatch.main import create_app as dispatch_app
from services.followup.main import create_app as followup_app
from services.intake.main import create_app as intake_app
from shared.docs_ui import assets
from shared.http.server import server_config
from shared.settings import ServiceSettings
from tests.harness import serving

APPS: dict[str, Callable[[], FastAPI]] = {"intake": intake_app, "dispatch": dispatch_app, "followup": followup_app}
CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def references(html: str) -> list[str]:
    return re.findall(r'(?:src|href|data-[a-z0-9-]+-url)="([^"]*)"', html)


@pytest.mark.parametrize("name", sorted(APPS))
async def test_docs_reference_only_the_service_itself(name: str) -> None:
    async with client(APPS[name]()) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        refs = references(page.text)
        assert len(refs) >= 5, refs
        for ref in refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
        assert "<script>" not in page.text  # no inline code: the CSP would refuse it
        assert not re.search(r"https?://", page.text)
        for ref in refs:
            if ref.startswith("/docs/assets/"):
                asset = await http.get(ref)
                assert asset.status_code == 200, ref
                assert asset.headers["content-security-policy"]
        spec = await http.get("/openapi.json")
        assert spec.status_code == 200
        assert (await http.get("/redoc")).status_code == 404  # ReDoc came from a CDN; Swagger UI shows the same


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect", "/docs/assets/swagger-ui-bundle.js"])
async def test_the_docs_pages_carry_a_policy_with_no_other_origin(path: str) -> None:
    async with client(intake_app()) as http:
        r = await http.get(path)
    assert r.status_code == 200
    policy = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no host
    for sources in policy.values():
        for source in sources.split():
            assert source in {"'none'", "'self'", "data:"}, source
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_only_shipped_files_are_served_by_exact_name() -> None:
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "oauth2-redirect.js"} <= set(assets())
    async with client(intake_app()) as http:
        for name in ("LICENSE", "..%2F..%2Fsettings.py", "README.md", "nothing.js"):
            r = await http.get(f"/docs/assets/{name}")
            assert r.status_code == 404, name
            assert r.json()["detail"]["code"] == "not_found"


async def test_swagger_ui_renders_in_a_browser_that_reaches_nothing_else() -> None:
    """Chromium with every request to another host refused, and CSP violations collected: Swagger UI shows the
    API's title and its operations."""
    if not HAVE_CHROMIUM:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    app = intake_app()
    app.router.lifespan_context = _no_lifespan  # the page needs no database or broker
    async with serving(server_config(app, ServiceSettings(http_port=0))) as base:
        origin = urlsplit(base).netloc
        elsewhere: list[str] = []
        problems: list[str] = []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            try:
                page = await browser.new_page()

                async def only_the_service(route: object) -> None:
                    request = route.request  # type: ignore[attr-defined]
                    if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != origin:
                        elsewhere.append(request.url)
                        await route.abort()  # type: ignore[attr-defined]
                    else:
                        await route.continue_()  # type: ignore[attr-defined]

                await page.route("**/*", only_the_service)
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.on(
                    "console",
                    lambda m: problems.append(m.text) if m.type == "error" or "Content Security" in m.text else None,
                )
                await page.goto(base + "/docs")
                await page.locator(".swagger-ui .info .title").filter(has_text="intake").wait_for(timeout=15_000)
                await page.locator(".opblock-summary-path", has_text="/v1/grid-reports").first.wait_for(timeout=15_000)
                await page.locator(".opblock-summary-path", has_text="/v1/grid-reports").first.click()
                await page.locator(".responses-table").first.wait_for(timeout=15_000)
            finally:
                await browser.close()
    assert not elsewhere, elsewhere
    assert not problems, problems


@contextlib.asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
