"""The field app's files, headers and config — no database, no broker: the dispatch app driven without its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.dispatch import field
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DispatchSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}


async def test_the_app_is_served_with_a_strict_content_security_policy(http: httpx.AsyncClient) -> None:
    r = await http.get("/field/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/field/app.js">' in r.text and '<html lang="zh-CN">' in r.text
    assert '<link rel="manifest" href="/field/manifest.webmanifest" />' in r.text
    csp = directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    # dispatch itself, intake (reports, ledger, places), follow-up (return visits) and S3 (photo uploads)
    assert csp["connect-src"] == ["'self'", "http://127.0.0.1:8001", "http://127.0.0.1:8003", "http://127.0.0.1:19000"]
    assert csp["img-src"] == ["'self'", "data:", "blob:", "http://127.0.0.1:19000"]
    assert csp["worker-src"] == ["'self'"] and csp["manifest-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "unsafe" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    redirect = await http.get("/field")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/field/"


async def test_only_shipped_files_are_served_with_their_types(http: httpx.AsyncClient) -> None:
    for path, kind in (
        ("/field/app.js", "text/javascript"),
        ("/field/field.css", "text/css"),
        ("/field/manifest.webmanifest", "application/manifest+json"),
        ("/field/icon-192.png", "image/png"),
    ):
        r = await http.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), path
        assert "content-security-policy" in r.headers
    for path in ("/field/README.md", "/field/..%2Ffield.py", "/field/%2e%2e/main.py", "/field/nope.js"):
        assert (await http.get(path)).status_code == 404, path
    config = await http.get("/field/config.json")
    assert config.json() == {
        "intake_url": "http://127.0.0.1:8001",
        "followup_url": "http://127.0.0.1:8003",
        "version": field.version(),
    }


async def test_the_service_worker_carries_the_release_of_the_files(http: httpx.AsyncClient) -> None:
    r = await http.get("/field/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert field.VERSION_MARK not in r.text and f"const VERSION = '{field.version()}';" in r.text
    assert r.headers["service-worker-allowed"] == "/field/"
    # every file the worker caches is one the server ships
    shell = [line.strip().strip("',") for line in r.text.split("const SHELL = [")[1].split("];")[0].splitlines()]
    for url in filter(None, shell):
        assert (await http.get(url)).status_code == 200, url
    # and it caches every module and the stylesheet, or the app cannot start offline
    needed = {f"/field/{p.name}" for p in field.STATIC.iterdir() if p.suffix in (".js", ".css") and p.name != "sw.js"}
    assert needed <= set(shell), needed - set(shell)


def test_the_page_builds_the_dom_from_text_only() -> None:
    for path in field.STATIC.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert banned not in text, f"{path.name} uses {banned}"


async def test_an_unchanged_file_is_revalidated_without_its_body(http: httpx.AsyncClient) -> None:
    first = await http.get("/field/grid.js")
    etag = first.headers["etag"]
    again = await http.get("/field/grid.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert "content-security-policy" in again.headers
    other = await http.get("/field/grid.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
