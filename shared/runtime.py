"""Composition of a service process: database, migrations, Kafka producer and consumers, outbox relay,
consumer-lag gauge, and the operational endpoints (/healthz, /readyz, /metrics, HTTP metrics).

A service's ``main.py`` builds a ``ServiceRuntime`` and hands ``runtime.lifespan`` to FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import auth, docs_ui, errors, metrics, migrate, slow_requests
from shared import logging as json_logging
from shared.consumer import DeadLetters, EventConsumer, Handler, Record
from shared.db import create_engine, session_factory
from shared.events import EventPayload
from shared.limits import BodyLimit
from shared.outbox import OutboxRelay, OutboxWriter
from shared.settings import ServiceSettings
from shared.slow_requests import BodyDeadline

log = logging.getLogger(__name__)

TOPIC_PARTITIONS = 6


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
        if getattr(app.state, "auth", None) is None:  # a service may bring its own (dispatch: its key, versions)
            app.state.auth = auth.Auth(auth.verifier_from_settings(s))
        app.state.runtime = self
        if s.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, self._migrations_dir, s.database_url)
        self.engine = create_engine(s.database_url, pool_size=s.db_pool_size, pre_ping=s.db_pool_pre_ping)
        self.sessions = session_factory(self.engine)
        if self._on_start is not None:
            await self._on_start(self)
        await self._ensure_topics()
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
                middlewares=[_prometheus_middleware(s.service_name)],
                logger=logging.getLogger(f"faststream.{s.service_name}"),
            )
            self.broker.include_router(self._router(handlers))
            await self.broker.start()
            self._subscribed = list(handlers)
            self._spawn(self._watch_lag(), "lag-monitor")
        log.info("service started", extra={"topics": self._subscribed})
        try:
            yield
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """Stop in order, each step bounded by ``shutdown_step_seconds``: what does not stop in time is logged with
        its stack and left behind, so the process still exits (and its orchestrator still sees it go)."""
        step = self.settings.shutdown_step_seconds
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

    def _router(self, handlers: Handlers) -> KafkaRouter:
        router = KafkaRouter()
        for topic, by_type in handlers.items():
            router.subscriber(
                topic,
                group_id=self.settings.consumer_group(topic),
                ack_policy=AckPolicy.MANUAL,
                auto_offset_reset="earliest",
                max_workers=self.settings.consumer_workers,
                title=f"{self.settings.service_name}:{topic}",
            )(_handler_for(self.consumer(by_type), self._commits.setdefault(topic, OffsetCommits())))
        return router

    async def _ensure_topics(self) -> None:
        """Create the service topics and their dead-letter topics, so consumers never race auto-creation."""
        names = [t for topic in self.settings.topics.all() for t in (topic, self.settings.topics.dlq(topic))]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [n for n in names if n not in existing]
            if missing:
                response = await admin.create_topics(
                    [NewTopic(n, num_partitions=TOPIC_PARTITIONS, replication_factor=1) for n in missing]
                )
                # The broker answers per topic; 36 = already exists (another replica won the race).
                failed = [(name, code, msg) for name, code, msg in response.topic_errors if code not in (0, 36)]
                if failed:
                    raise RuntimeError(f"could not create topics: {failed}")
        finally:
            await admin.close()

    async def _watch_lag(self, every: float = 10.0) -> None:
        """Consumer lag per topic/partition, every ``every`` seconds (see ``LagProbe``)."""
        s = self.settings
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
        ends = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
        await admin.start()
        await ends.start()
        probe = LagProbe(s.service_name, {t: s.consumer_group(t) for t in self._subscribed}, admin, ends)
        try:
            while True:
                try:
                    await probe.once()
                except Exception:
                    log.warning("lag probe failed", exc_info=True)
                await asyncio.sleep(every)
        finally:
            await ends.stop()
            await admin.close()

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

    def build_app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter],
        body_limits: Mapping[str, int] | None = None,
        **state: Any,
    ) -> FastAPI:
        """The service's FastAPI app: lifespan, ops endpoints, error format, routers, app.state.

        ``body_limits``: path prefix → the most bytes a request body may have there, where a route needs more (or
        less) than ``max_body_bytes``; ``/admin/`` gets ``max_admin_body_bytes``."""
        # /docs from the service's own files (shared.docs_ui), not FastAPI's pages, which load from a public CDN.
        app = FastAPI(
            title=title, description=description, version="0.1.0", lifespan=self.lifespan, docs_url=None, redoc_url=None
        )
        docs_ui.install(app)
        for key, value in state.items():
            setattr(app.state, key, value)
        self.install(app, body_limits=body_limits)
        errors.install(app)
        for router in routers:
            # Every route's OpenAPI lists the refusals of the shared plumbing (413, 408; 401 behind a credential).
            errors.declare_refusals(router.routes, credentials=(auth.bearer, auth.admin))
            app.include_router(router)
        if self.settings.cors_origins:
            # Bearer tokens travel in a header, never in cookies: no credentials mode.
            app.add_middleware(
                CORSMiddleware,
                allow_origins=self.settings.cors_origins,
                allow_methods=["GET", "POST", "PUT"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                expose_headers=["Retry-After", "Idempotent-Replayed", "X-Request-ID"],
                max_age=600,
            )
        return app

    # -- operational endpoints -------------------------------------------------------------------------

    def install(self, app: FastAPI, *, body_limits: Mapping[str, int] | None = None) -> None:
        s = self.settings
        service = s.service_name

        # Added first, so it runs inside HttpMetrics: a refused body is counted as the 413 it is.
        app.add_middleware(
            BodyLimit,
            service=service,
            default=s.max_body_bytes,
            limits={"/admin/": s.max_admin_body_bytes, **(body_limits or {})},
        )
        # Outside BodyLimit, so a body that stalls while a refused one is drained still ends; inside HttpMetrics, so a
        # 408 is counted.
        app.add_middleware(BodyDeadline, seconds=s.http_request_timeout_seconds)
        app.add_middleware(HttpMetrics, service=service)
        app.add_middleware(RequestContext)  # outermost: every log line of the request carries its id
        app.router.dependencies.append(Depends(_bind_path_ids))

        @app.get("/healthz", tags=["ops"], summary="Process is alive")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": service}

        @app.get(
            "/readyz",
            tags=["ops"],
            summary="Database and Kafka reachable, consumers running",
            responses={
                503: {"description": "Not ready: the checks that failed are false", "content": {"application/json": {}}}
            },
        )
        async def readyz() -> JSONResponse:
            checks = await self.readiness()
            ok = all(checks.values())
            return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

        @app.get("/metrics", tags=["ops"], include_in_schema=False)
        async def prometheus_metrics() -> Response:
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

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


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# The path parameters a log line may carry: the ids of what a request acts on (never a person's).
LOGGED_PATH_IDS = ("case_id", "assignment_id", "visit_id", "report_id", "extension_id", "spot_check_id")


class RequestContext:
    """Binds a request id to every log line of the request (shared.logging.bound): the caller's ``X-Request-ID`` when
    it is a plain token of at most 64 characters, else a new one; the answer carries it back in ``X-Request-ID``, so
    a grid worker's report of a failure can be found in the logs. A plain ASGI middleware, like HttpMetrics."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        async def tag(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with json_logging.bound(request_id=request_id):
            await self.app(scope, receive, tag)


async def _bind_path_ids(request: Request) -> None:
    """A dependency of every route: the ids its path names join the request's log context."""
    json_logging.bind(**{k: v for k, v in request.path_params.items() if k in LOGGED_PATH_IDS})


class HttpMetrics:
    """Requests and latency by route template. A plain ASGI middleware: the decorator form
    (BaseHTTPMiddleware) costs a task and a queue per request."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def remember_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(self.service, method, template, f"{status // 100}xx").inc()
            metrics.HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - start)


class LagProbe:
    """Sets ``kafka_consumer_lag`` per partition: the end offset minus the group's committed offset.

    A group whose committed offsets the broker cannot tell for ``patience`` seconds (its coordinator failed to load
    after a crash: its consumers cannot rejoin either, and nothing moves until the broker restarts) counts as
    entirely behind, so the lag climbs and ConsumerLagGrowing pages instead of the gauge freezing at its last value.
    A shorter failure, as while the broker restarts, leaves the gauge as it was."""

    def __init__(
        self,
        service: str,
        groups: Mapping[str, str],  # topic → consumer group
        admin: Any,
        ends: Any,
        *,
        patience: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.groups = dict(groups)
        self._admin = admin
        self._ends = ends
        self.patience = patience
        self._clock = clock
        self._partitions: list[TopicPartition] = []
        self.unreadable_since: dict[str, float] = {}  # group → when reading its offsets began to fail

    async def once(self) -> dict[TopicPartition, int]:
        """Read offsets and set the gauges; returns the lag set per partition."""
        if not self._partitions:
            self._partitions = [
                TopicPartition(t["topic"], p["partition"])
                for t in await self._admin.describe_topics(list(self.groups))
                for p in t["partitions"]
            ]
        committed: dict[TopicPartition, Any] = {}
        known: set[str] = set()  # topics whose committed offsets are known (or given up on)
        for topic, group in self.groups.items():
            try:
                committed.update(await asyncio.wait_for(self._admin.list_consumer_group_offsets(group), 5.0))
            except Exception as exc:
                since = self.unreadable_since.setdefault(group, self._clock())
                log.warning(
                    "committed offsets of a consumer group cannot be read",
                    extra={"group": group, "for_s": round(self._clock() - since, 1), "error": repr(exc)[:300]},
                )
                if self._clock() - since < self.patience:
                    continue
            else:
                self.unreadable_since.pop(group, None)
            known.add(topic)
        ends = await self._ends.end_offsets(self._partitions) if self._partitions else {}
        lags = {}
        for tp, end in ends.items():
            if tp.topic not in known:
                continue
            done = committed.get(tp)
            lags[tp] = end - (done.offset if done is not None and done.offset >= 0 else 0)
            metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lags[tp])
        return lags


class OffsetCommits:
    """Commits the offsets of processed records in the background, at most every ``every`` seconds, so the next
    record is handled while the broker answers. A commit is a round trip to the group coordinator (Kafka 4's lingers
    5 ms per write by default) and a record in ``__consumer_offsets``: awaited after every record it bounded a
    consumer at one round trip per event, which a service catching up after an outage could not afford. Only offsets
    of records already applied are committed, so at least once still holds: a crash redelivers at most what the last
    commit had not covered, and the inbox drops those. Each consumer of a topic's subgroup commits its own."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self._pending: dict[Any, dict[TopicPartition, int]] = {}  # consumer → partition → next offset
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def processed(self, consumer: Any, topic: str, partition: int, offset: int) -> None:
        self._pending.setdefault(consumer, {})[TopicPartition(topic, partition)] = offset + 1
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="offset-commits")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await self.flush()
            await asyncio.sleep(self.every)

    async def flush(self) -> None:
        self._wake.clear()
        for consumer, pending in list(self._pending.items()):
            if pending:
                await self._commit(consumer, pending)
            if not pending and self._pending.get(consumer) is pending:
                del self._pending[consumer]  # a consumer replaced after a broker restart is not kept forever

    async def _commit(self, consumer: Any, pending: dict[TopicPartition, int]) -> None:
        batch = dict(pending)  # kept pending until committed: a stop in the middle loses nothing
        try:
            await consumer.commit(batch)
        except CommitFailedError:
            # A rebalance: the partitions may have gone to another member, which resumes from the last commit (the
            # inbox drops the redeliveries). Retrying with the old generation only adds to the coordinator's load.
            _forget(pending, batch)
            log.warning("offset commit refused by a rebalance; the next member resumes from the last commit")
        except Exception as exc:
            log.warning("offset commit failed; trying again", extra={"error": repr(exc)[:300]})
            with contextlib.suppress(Exception):
                _forget(pending, {tp: n for tp, n in batch.items() if tp not in consumer.assignment()})
            if pending:
                self._wake.set()
        else:
            _forget(pending, batch)

    async def close(self) -> None:
        """Commit what is pending (best effort: a stop that cannot commit only means redeliveries)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=5.0)


def _forget(pending: dict[TopicPartition, int], batch: dict[TopicPartition, int]) -> None:
    """Drop what ``batch`` settled, unless a newer offset arrived for the partition meanwhile."""
    for tp, offset in batch.items():
        if pending.get(tp) == offset:
            del pending[tp]


def _handler_for(consumer: EventConsumer, commits: OffsetCommits) -> Callable[..., Any]:
    async def handle(message: KafkaMessage) -> None:
        raw: Any = message.raw_message  # one ConsumerRecord: these subscribers are not batch subscribers
        await consumer.process(
            Record(topic=raw.topic, partition=raw.partition, offset=raw.offset, key=raw.key, value=raw.value)
        )
        commits.processed(message.consumer, raw.topic, raw.partition, raw.offset)

    return handle


_PROM_MIDDLEWARES: dict[str, Any] = {}


def _prometheus_middleware(service: str) -> Any:
    # One per process and service: faststream registers its collectors on the registry once.
    if service not in _PROM_MIDDLEWARES:
        _PROM_MIDDLEWARES[service] = KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service)
    return _PROM_MIDDLEWARES[service]


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


async def _transaction(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session, session.begin():
        yield session


# FastAPI dependency: one session per request, in one transaction committed when the endpoint returns — before the
# response is sent (scope "function"; the default, "request", commits after it is sent, so a commit that fails, or a
# process killed in between, would leave a 2xx for something that was never stored).
Transaction = Annotated[AsyncSession, Depends(_transaction, scope="function")]


def server_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # A request head that stalls closes its connection (see shared.slow_requests; the body: BodyDeadline).
        http=slow_requests.guarded_protocol(settings.http_request_timeout_seconds),
        log_config=None,
        access_log=False,
    )


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.Server(server_config(app, settings)).run()


def cli(settings_cls: type[ServiceSettings], migrations_dir: Path, create_app: Callable[..., FastAPI]) -> None:
    """Entry point of ``python -m services.<name>``: ``serve`` (default) or ``migrate``."""
    import sys

    settings = settings_cls()
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        json_logging.configure(settings.service_name, settings.log_level)
        migrate.upgrade(migrations_dir, settings.database_url)
    elif command == "serve":
        serve(create_app(settings), settings)
    else:
        raise SystemExit(f"unknown command {command!r}: use serve or migrate")
