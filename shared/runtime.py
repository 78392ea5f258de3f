"""Composition of a service process: database, migrations, Kafka producer and consumers, outbox relay,
consumer-lag gauge, and the operational endpoints (/healthz, /readyz, /metrics, HTTP metrics).

A service's ``main.py`` builds a ``ServiceRuntime`` and hands ``runtime.lifespan`` to FastAPI. The parts live
beside it: ``shared.kafka`` (subscribers and offset commits, topics, lag) and ``shared.http`` (middleware, the
request transaction, the server and command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import logging as json_logging
from shared import memory, metrics, migrate
from shared.consumer import DeadLetters, EventConsumer, Handler
from shared.db import create_engine, session_factory
from shared.events import EventPayload
from shared.kafka.lag import watch_lag
from shared.kafka.subscribers import OffsetCommits, prometheus_middleware, subscriber_router
from shared.kafka.topics import ensure_topics
from shared.outbox import OutboxRelay, OutboxWriter
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


# What a service consumes: topic → {event type: handler}. Built once the runtime is started; also read
# (with no database) to document the service's subscriptions in AsyncAPI.
Handlers = Mapping[str, Mapping[type[EventPayload], Handler]]
ConsumerFactory = Callable[["ServiceRuntime"], Handlers]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        outbox: Table,
        inbox: Table,
        migrations_dir: Path,
        consumers: ConsumerFactory | None = None,
        background: Sequence[Callable[[ServiceRuntime], Any]] = (),
        on_start: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.inbox = inbox
        self._migrations_dir = migrations_dir
        self._consumer_factory = consumers
        self._background = background
        self._on_start = on_start
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.producer: AIOKafkaProducer | None = None
        self.dead_letters: DeadLetters | None = None
        self.broker: KafkaBroker | None = None
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._subscribed: list[str] = []
        self._commits: dict[str, OffsetCommits] = {}

    # -- lifecycle -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        json_logging.configure(s.service_name, s.log_level)
        if s.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, self._migrations_dir, s.database_url)
        self.engine = create_engine(s.database_url, pool_size=s.db_pool_size, pre_ping=s.db_pool_pre_ping)
        self.sessions = session_factory(self.engine)
        if self._on_start is not None:
            await self._on_start(self)
        await ensure_topics(s)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            client_id=f"{s.service_name}-producer",
        )
        await self.producer.start()
        self.dead_letters = DeadLetters(service=s.service_name, producer=self.producer)
        self.relay = OutboxRelay(
            service=s.service_name,
            sessions=self.sessions,
            outbox=self.outbox,
            producer=self.producer,
            batch_size=s.outbox_batch_size,
            poll_seconds=s.outbox_poll_seconds,
        )
        self._spawn(self.relay.run(), "outbox-relay")
        for job in self._background:
            self._spawn(job(self), getattr(job, "__name__", "job"))
        handlers = self._consumer_factory(self) if self._consumer_factory else {}
        metrics.prime(s.service_name, topics=list(handlers))
        if handlers:
            self.broker = KafkaBroker(
                s.kafka_bootstrap,
                client_id=f"{s.service_name}-consumer",
                log_level=logging.DEBUG,  # one line per message is for debugging, not for the service log
                middlewares=[prometheus_middleware(s.service_name)],
                logger=logging.getLogger(f"faststream.{s.service_name}"),
            )
            consumers = {topic: self.consumer(by_type) for topic, by_type in handlers.items()}
            self.broker.include_router(subscriber_router(s, consumers, self._commits))
            await self.broker.start()
            self._subscribed = list(handlers)
            self._spawn(watch_lag(s, self._subscribed), "lag-monitor")
        memory.settle(s.gc_young_threshold)
        log.info("service started", extra={"topics": self._subscribed})
        try:
            yield
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """Stop in order, each step bounded by ``shutdown_step_seconds``: what does not stop in time is logged with
        its stack and left behind, so the process still exits (and its orchestrator still sees it go)."""
        step = self.settings.shutdown_step_seconds
        memory.release()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=step)
            for task in stuck:
                log.error("background task did not stop", extra={"task": task.get_name(), "stack": _stack_of(task)})
        if self.broker is not None:
            for commits in self._commits.values():
                await commits.close()
            await _bounded("kafka consumers", self.broker.stop(), step)
        if self.producer is not None:
            await _bounded("kafka producer", self.producer.stop(), step)
        if self.engine is not None:
            await _bounded("database pool", self.engine.dispose(), step)
        log.info("service stopped")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    def consumer(self, handlers: Mapping[type[EventPayload], Handler]) -> EventConsumer:
        """An inbox-backed consumer of this service for the given event handlers."""
        assert self.sessions is not None and self.dead_letters is not None, "call inside the lifespan"
        return EventConsumer(
            service=self.settings.service_name,
            sessions=self.sessions,
            inbox=self.inbox,
            dead_letters=self.dead_letters,
            handlers=handlers,
            max_retries=self.settings.consumer_max_retries,
            wait_seconds=self.settings.consumer_wait_seconds,
        )

    def writer(self, topic: str) -> OutboxWriter:
        return OutboxWriter(outbox=self.outbox, topic=topic, producer=self.settings.service_name)

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "kafka": False, "consumers": True}
        if self.sessions is not None:
            try:
                async with self.sessions() as session:
                    await session.execute(text("SELECT 1"))
                checks["database"] = True
            except Exception:
                log.warning("readiness: database unreachable", exc_info=True)
        if self.producer is not None:
            try:
                await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2.0)
                checks["kafka"] = True
            except Exception:
                log.warning("readiness: kafka unreachable", exc_info=True)
        if self.broker is not None:
            checks["consumers"] = all(getattr(sub, "running", True) for sub in self.broker.subscribers)
        return checks


async def _bounded(what: str, step: Awaitable[Any], seconds: float) -> None:
    """Await ``step`` for at most ``seconds``; past that, cancel it without waiting (``wait_for`` would wait for the
    cancellation too, which is what a stuck step does not finish) and log it."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.error("shutdown step did not finish", extra={"step": what, "seconds": seconds, "stack": _stack_of(task)})
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown step failed", extra={"step": what, "error": repr(task.exception())[:300]})


def _stack_of(task: asyncio.Task[Any]) -> str:
    frames = task.get_stack(limit=8)
    return " <- ".join(f"{f.f_code.co_name} ({Path(f.f_code.co_filename).name}:{f.f_lineno})" for f in reversed(frames))


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task crashed", extra={"task": task.get_name()}, exc_info=task.exception())
