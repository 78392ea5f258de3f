"""What the chaos run watches once a second: each service's outbox backlog (unsent rows and the age of the oldest)
straight from its database, and each consumer group's lag straight from the broker (end offset minus committed
offset, per partition). A sample taken while the broker or the database is down is simply missing.

Recovery after the last fault: the first sample, once the faulted component is back, at which no outbox row has
waited more than ``FRESH_S`` and every consumer group has committed past every offset that existed ``FRESH_S``
earlier — the load goes on during the run, so "zero" means "nothing left over from before", not an idle system.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.services import SERVICES

FRESH_S = 2.0

Partition = tuple[str, int]


@dataclass
class Sample:
    t: float  # seconds after the load started
    backlog: dict[str, int] | None = None  # service → unsent outbox rows
    oldest_s: dict[str, float] | None = None  # service → age of its oldest unsent row
    ends: dict[Partition, int] | None = None
    committed: dict[str, dict[Partition, int]] | None = None  # group → partition → committed offset
    # Groups an earlier sample listed and this one does not: the broker cannot tell their offsets (a group
    # coordinator that failed to load after a crash lists none of its groups), so their lag is unknown, not zero.
    missing: tuple[str, ...] = ()

    def lag(self) -> dict[str, int] | None:
        """Messages behind, per consumer group."""
        if self.ends is None or self.committed is None:
            return None
        return {group: _behind(self.ends, group, done) for group, done in self.committed.items()}

    @property
    def dead_letters(self) -> int | None:
        if self.ends is None:
            return None
        return sum(n for (topic, _), n in self.ends.items() if topic.endswith(".dlq"))


def _topic_of(group: str) -> str:
    return group.split(".", 1)[1]  # ServiceSettings.consumer_group: "<service>.<topic>" (no topic prefix here)


def _behind(ends: dict[Partition, int], group: str, done: dict[Partition, int]) -> int:
    topic = _topic_of(group)
    return sum(max(0, end - max(0, done.get(p, 0))) for p, end in ends.items() if p[0] == topic)


@dataclass
class Watch:
    pg_port: int
    bootstrap: str
    every: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    t0: float = 0.0
    _pg: dict[str, Any] = field(default_factory=dict)
    _admin: Any = None
    _probe: Any = None
    groups_seen: set[str] = field(default_factory=set)

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def run(self, t0: float) -> None:
        self.t0 = t0
        try:
            while True:
                started = time.monotonic()
                self.samples.append(await self.sample())
                await asyncio.sleep(max(0.0, self.every - (time.monotonic() - started)))
        finally:
            await self.close()

    async def sample(self) -> Sample:
        s = Sample(t=self.now())
        with contextlib.suppress(Exception):
            s.backlog, s.oldest_s = await asyncio.wait_for(self._outboxes(), 5.0)
        try:
            s.ends, s.committed = await asyncio.wait_for(self._offsets(), 5.0)
        except Exception:
            await self._close_kafka()  # a broker restart leaves the clients' connections dead: start afresh
        else:
            self.see(s)
        return s

    def see(self, s: Sample) -> None:
        """Remember the groups ``s`` lists and note those it no longer does."""
        assert s.committed is not None
        s.missing = tuple(sorted(self.groups_seen - s.committed.keys()))
        self.groups_seen |= s.committed.keys()

    async def _outboxes(self) -> tuple[dict[str, int], dict[str, float]]:
        backlog, oldest = {}, {}
        for name in SERVICES:
            conn = self._pg.get(name)
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(
                    host="127.0.0.1", port=self.pg_port, user="heat", password="heat", database=name, timeout=3
                )
                self._pg[name] = conn
            try:
                row = await conn.fetchrow(
                    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
                    " FROM outbox WHERE sent_at IS NULL"
                )
            except Exception:
                self._pg.pop(name, None)
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
                raise
            backlog[name], oldest[name] = int(row["n"]), float(row["age"])
        return backlog, oldest

    async def _offsets(self) -> tuple[dict[Partition, int], dict[str, dict[Partition, int]]]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=4000)
            await admin.start()
            self._admin = admin
            probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
            await probe.start()
            self._probe = probe
        topics = [t for t in await self._admin.list_topics() if not t.startswith("__")]
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in await self._admin.describe_topics(topics)
            for p in t["partitions"]
        ]
        ends = {(tp.topic, tp.partition): n for tp, n in (await self._probe.end_offsets(partitions)).items()}
        groups = [g[0] for g in await self._admin.list_consumer_groups() if not str(g[0]).startswith("__")]
        committed: dict[str, dict[Partition, int]] = {}
        for group in groups:
            offsets = await self._admin.list_consumer_group_offsets(group)
            committed[group] = {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}
        return ends, committed

    async def _close_kafka(self) -> None:
        admin, probe, self._admin, self._probe = self._admin, self._probe, None, None
        for client, stop in ((probe, "stop"), (admin, "close")):
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(getattr(client, stop)(), 5.0)

    async def close(self) -> None:
        await self._close_kafka()
        for conn in self._pg.values():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
        self._pg.clear()

    # -- what the samples say -------------------------------------------------------------------------------------

    def caught_up(self, i: int, since: float) -> bool:
        """Sample ``i`` shows nothing left over from ``FRESH_S`` before it (see the module's docstring), measured
        against the end offsets of a sample taken at or after ``since``."""
        s = self.samples[i]
        if s.oldest_s is None or s.committed is None or s.ends is None or s.missing:
            return False
        if any(age > FRESH_S for age in s.oldest_s.values()):
            return False
        earlier = next(
            (e for e in reversed(self.samples[:i]) if e.ends is not None and since <= e.t <= s.t - FRESH_S),
            None,
        )
        if earlier is None or earlier.ends is None:
            return False
        return all(_behind(earlier.ends, group, done) == 0 for group, done in s.committed.items())

    def recovered_at(self, since: float) -> float | None:
        """The time of the first caught-up sample after ``since`` (the faulted component answering again)."""
        for i, s in enumerate(self.samples):
            if s.t >= since and self.caught_up(i, since):
                return s.t
        return None

    def quiet(self, s: Sample) -> bool:
        """Nothing unsent, nothing unconsumed."""
        lag = s.lag()
        return (
            s.backlog is not None
            and lag is not None
            and not s.missing
            and not any(s.backlog.values())
            and not any(lag.values())
        )

    def worst_lag(self) -> int:
        return max((sum(lag.values()) for s in self.samples if (lag := s.lag()) is not None), default=0)

    def worst_backlog(self) -> int:
        return max((sum(s.backlog.values()) for s in self.samples if s.backlog is not None), default=0)
