"""What integration and e2e tests share: the real stack's addresses (Kafka, PostgreSQL, S3), fresh databases, Kafka
readers, and services run in-process (with an injected clock) or as real processes.

A stack that is not running is a failure, never a skip: ``deploy/local/stack up`` starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from deploy.chaos.stack import free_ports as free_ports  # one definition, shared with the chaos run
from deploy.local.scratch_db import drop_database as drop_database
from deploy.local.scratch_db import recreate_database
from shared.contracts.common import Location
from shared.events import BadEvent, Envelope, decode
from shared.photos import PhotoStore, PhotoStoreSettings

PG_PORT = int(os.environ.get("PG_PORT", "55432"))
KAFKA = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"
S3_ENDPOINT = f"http://127.0.0.1:{os.environ.get('S3_PORT', '19000')}"  # the stack's S3Proxy, dev credentials


def db_url(name: str) -> str:
    return f"postgresql+asyncpg://heat:heat@127.0.0.1:{PG_PORT}/{name}"


async def check_stack() -> None:
    try:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database="postgres", timeout=5
        )
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL of the local stack is not reachable on {PG_PORT} ({exc!r}): run deploy/local/stack up",
            pytrace=False,
        )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(producer.start(), 15)
    except Exception as exc:
        pytest.fail(
            f"Kafka of the local stack is not reachable on {KAFKA} ({exc!r}): run deploy/local/stack up", pytrace=False
        )
    finally:
        await producer.stop()
    try:
        await PhotoStore(PhotoStoreSettings(endpoint_url=S3_ENDPOINT)).ping()
    except Exception as exc:
        pytest.fail(
            f"S3 (S3Proxy) of the local stack is not reachable at {S3_ENDPOINT} ({exc!r}): run deploy/local/stack up",
            pytrace=False,
        )


async def fresh_database(name: str) -> str:
    """Drop and create a database for this test run; returns its SQLAlchemy URL."""
    await recreate_database(name)
    return db_url(name)


# A household of the seed registry (deploy/seed/registry.yaml: 粮库家属院1号楼, H-LK-1-102, heated by SS-01) as an
# event locates it: what tests that publish events themselves put in them.
SEED_HOUSEHOLD = Location(
    district_id="D-CG",
    street_id="S-JYG",
    community_id="CM-PHN",
    grid_id="G-PHN-01",
    compound_id="CP-LK",
    building_id="B-LK-1",
    household_id="H-LK-1-102",
    substation_id="SS-01",
)

RUN_ID = uuid.uuid4().hex[:8]  # keeps concurrent test runs on one stack out of each other's way


def new_prefix(tier: str) -> str:
    return f"{tier}-{RUN_ID}."


def run_db(name: str) -> str:
    """A database name unique to this test run."""
    return f"{name}_{RUN_ID}"


@dataclass
class InProcess:
    """A service app running in this event loop, with an HTTP client bound to it."""

    app: FastAPI
    http: httpx.AsyncClient

    @property
    def runtime(self) -> Any:
        return self.app.state.context.runtime


class Statements:
    """The SQL one session sends while watched (whitespace collapsed), for tests that count round trips. Only the
    watched session's connection is recorded: a service's own consumers and timers share the engine."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._mine: Any = None

    async def watch(self, session: AsyncSession) -> None:
        """Record what ``session`` sends from now on (this takes its connection, beginning its transaction)."""
        self._mine = (await session.connection()).sync_connection

    def record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._mine is not None and conn is self._mine:
            self.seen.append(" ".join(statement.split()))

    def count(self, prefix: str, *, upto: int | None = None) -> int:
        """How many statements began with ``prefix`` (of the first ``upto``, if given)."""
        return sum(1 for s in self.seen[:upto] if s.startswith(prefix))


@contextlib.contextmanager
def statements_of(engine: AsyncEngine) -> Iterator[Statements]:
    """``Statements`` of ``engine``, listened to for the block."""
    statements = Statements()
    event.listen(engine.sync_engine, "before_cursor_execute", statements.record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statements.record)


@contextlib.asynccontextmanager
async def run_in_process(app: FastAPI) -> AsyncIterator[InProcess]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield InProcess(app, http)


@contextlib.asynccontextmanager
async def serving(config: uvicorn.Config) -> AsyncIterator[str]:
    """An app behind a real uvicorn server in this event loop, for clients that need a socket; yields its base URL.
    Give the config port 0: the server binds a free port itself, so no other process can take it in between."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until("the server to listen", lambda: server.started or task.done(), timeout=60)
        if not server.started:
            task.result()  # raises what stopped it
            raise AssertionError("the server stopped before it listened")
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


async def read_topic(topic: str, *, until: Callable[[list[Any]], bool], timeout: float = 30) -> list[Any]:
    """Every record of ``topic`` from the start, read until ``until(records)`` holds (or fail on timeout)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: condition not met after {timeout}s; have {len(records)} records")
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def envelopes(records: list[Any]) -> list[Envelope]:
    """The events among ``records``; junk that tests put on a topic on purpose is passed over."""
    out = []
    for r in records:
        try:
            out.append(decode(r.value))
        except BadEvent:
            continue
    return out


async def wait_until(what: str, probe: Callable[[], Any], timeout: float = 30, every: float = 0.05) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


def run_command(
    args: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; past ``timeout`` it gets SIGTERM, so it cleans up after itself (services it started, rules
    it changed) before the test fails with its output."""
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=90)
        raise AssertionError(f"{' '.join(args)} still running after {timeout}s\n{out[-4000:]}\n{err[-4000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
