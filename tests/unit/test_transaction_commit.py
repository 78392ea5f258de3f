"""A request's transaction commits before its answer leaves: a commit that fails answers 5xx, never a 2xx for
something that was not stored.

Found by the chaos run (``python -m deploy.chaos``): FastAPI runs the exit of a dependency with the default scope
("request") after the response has been sent, so the 201 of a report could reach the client while its commit was
still to come — and a PostgreSQL crash or a ``kill -9`` in between lost an acknowledged report.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.http.deps import Transaction

pytestmark = pytest.mark.unit


class Session:
    def __init__(self, log: list[str], *, commit_fails: bool) -> None:
        self.log = log
        self.commit_fails = commit_fails

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield
        if self.commit_fails:
            raise ConnectionResetError("the database went away during COMMIT")
        self.log.append("committed")


class Runtime:
    def __init__(self, log: list[str], *, commit_fails: bool) -> None:
        self.log = log
        self.commit_fails = commit_fails

    def sessions(self) -> Session:
        return Session(self.log, commit_fails=self.commit_fails)


def app(log: list[str], *, commit_fails: bool) -> FastAPI:
    api = FastAPI()
    api.state.context = SimpleNamespace(runtime=Runtime(log, commit_fails=commit_fails))

    @api.post("/reports", status_code=201)
    async def create(session: Transaction) -> dict[str, str]:
        log.append("handled")
        return {"id": "R-1"}

    return api


async def send(api: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/reports")


async def test_the_answer_leaves_after_the_commit() -> None:
    log: list[str] = []
    r = await send(app(log, commit_fails=False))
    assert r.status_code == 201 and log == ["handled", "committed"]


async def test_a_commit_that_fails_is_never_answered_with_a_2xx() -> None:
    log: list[str] = []
    r = await send(app(log, commit_fails=True))
    assert r.status_code == 500 and log == ["handled"]
