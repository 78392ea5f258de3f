"""Log lines carry what they are about: the request's id (and the ids its path names), or the event's."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from shared import logging as json_logging
from shared.http.middleware import RequestContext, bind_path_ids

pytestmark = pytest.mark.unit

log = logging.getLogger("tests.log_context")


def test_bound_fields_join_every_line_of_the_block_and_leave_with_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_logging.JsonFormatter("test"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with json_logging.bound(event_id="e-1", case_id=None):
            log.info("outer")
            with json_logging.bound(case_id="C-1"):
                log.info("inner", extra={"case_id": "C-explicit"})
                log.info("inner default")
        log.info("after")
    finally:
        log.removeHandler(handler)
    got = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert got[0]["event_id"] == "e-1" and "case_id" not in got[0]  # None is left out
    assert got[1]["case_id"] == "C-explicit" and got[1]["event_id"] == "e-1"  # an explicit extra wins
    assert got[2]["case_id"] == "C-1"
    assert "event_id" not in got[3] and "case_id" not in got[3]


async def test_concurrent_tasks_keep_their_own_context() -> None:
    seen: dict[str, Any] = {}

    async def work(case_id: str) -> None:
        with json_logging.bound(case_id=case_id):
            await asyncio.sleep(0.01)
            seen[case_id] = json_logging.context().get("case_id")

    await asyncio.gather(work("C-a"), work("C-b"))
    assert seen == {"C-a": "C-a", "C-b": "C-b"}
    assert "case_id" not in json_logging.context()


def app_logging() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContext)
    app.router.dependencies.append(Depends(bind_path_ids))

    @app.get("/cases/{case_id}/households/{household_id}")
    async def touch(case_id: str, household_id: str) -> dict[str, str]:
        log.info("touched")
        return {"ok": case_id}

    return app


async def request(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_logging())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_a_request_id_is_taken_or_made_and_sent_back() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_logging.JsonFormatter("test"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        given = await request("/cases/C-7/households/H-1", {"X-Request-ID": "gw01-20261204-0001"})
        made = await request("/cases/C-8/households/H-2")
        hostile = await request("/cases/C-9/households/H-3", {"X-Request-ID": "x\ny" + "z" * 80})
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert given.headers["x-request-id"] == "gw01-20261204-0001"
    assert lines[0]["request_id"] == "gw01-20261204-0001" and lines[0]["case_id"] == "C-7"
    assert "household_id" not in lines[0]  # only the ids of what a request acts on, never a household's
    assert len(made.headers["x-request-id"]) == 32 and lines[1]["request_id"] == made.headers["x-request-id"]
    assert hostile.headers["x-request-id"] != "x\ny" + "z" * 80 and len(hostile.headers["x-request-id"]) == 32
    assert "request_id" not in json_logging.context()
