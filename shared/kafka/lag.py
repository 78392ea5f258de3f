"""Consumer lag: how far each of a service's consumer groups is behind the end of its topics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import metrics
from shared.loops import poll_forever
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


async def watch_lag(settings: ServiceSettings, topics: list[str], every: float = 10.0) -> None:
    """Consumer lag per topic/partition, every ``every`` seconds (see ``LagProbe``)."""
    s = settings
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    ends = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
    await admin.start()
    await ends.start()
    probe = LagProbe(s.service_name, {t: s.consumer_group(t) for t in topics}, admin, ends)

    async def step() -> bool:
        await probe.once()
        return False

    try:
        await poll_forever(step, name="lag-monitor", service=s.service_name, idle=every, after_failure=every)
    finally:
        await ends.stop()
        await admin.close()


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
