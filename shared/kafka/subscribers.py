"""A service's Kafka subscribers: what each poll brings goes to its ``EventConsumer`` (shared.consumer) a partition
at a time, each partition's records applied in one transaction and the partitions side by side, and the offsets are
committed in the background once applied (``OffsetCommits``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import REGISTRY

from shared.consumer import EventConsumer, Record
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def subscriber_router(
    settings: ServiceSettings,
    consumers: dict[str, EventConsumer],
    commits: dict[str, OffsetCommits],
) -> KafkaRouter:
    """One batch subscriber per topic, in the topic's consumer group, acknowledging by hand (offsets are committed
    by ``OffsetCommits`` once a partition's records are applied)."""
    router = KafkaRouter()
    for topic, consumer in consumers.items():
        router.subscriber(
            topic,
            group_id=settings.consumer_group(topic),
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            batch=True,
            max_records=settings.consumer_batch_records,
            batch_timeout_ms=settings.consumer_batch_wait_ms,
            # A poll may wait for its slowest partition, up to ``consumer_wait_seconds`` for a fact from the other
            # topic: the group must not take that for a dead member (Kafka's default allows 5 minutes).
            max_poll_interval_ms=int((settings.consumer_wait_seconds + 120) * 1000),
            title=f"{settings.service_name}:{topic}",
        )(batch_handler_for(consumer, commits.setdefault(topic, OffsetCommits()), settings.consumer_workers))
    return router


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


def batch_handler_for(consumer: EventConsumer, commits: OffsetCommits, partitions_at_once: int) -> Callable[..., Any]:
    """A poll's records grouped by partition; up to ``partitions_at_once`` partitions applied side by side, each in
    its order and in one transaction, its offset committed once applied. The next poll comes only when every
    partition of this one is done, so a partition waiting for a fact from the other topic (``NotYet``) delays the
    topic's next poll in this process, never the other partitions of the poll in hand.

    A partition whose records could not be settled (the dead-letter topic unreachable, say) is sought back to its
    first record, so the next poll brings them again and the inbox drops what was applied; its offset is not
    committed. Without the seek, the consumer's position is already past the batch and the next commit of the
    partition would skip it."""
    limit = asyncio.Semaphore(partitions_at_once)

    async def apply(kafka: Any, records: list[Record]) -> None:
        async with limit:
            await consumer.process_batch(records)
        last = records[-1]
        commits.processed(kafka, last.topic, last.partition, last.offset)

    async def handle(message: KafkaMessage) -> None:
        raws: Any = message.raw_message  # a batch subscriber's tuple of ConsumerRecords, in partition order
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for raw in raws:
            by_partition.setdefault((raw.topic, raw.partition), []).append(
                Record(topic=raw.topic, partition=raw.partition, offset=raw.offset, key=raw.key, value=raw.value)
            )
        groups = list(by_partition.values())
        # Every partition runs to its end before the next poll: none is left applying while newer records of it
        # arrive, and a failure of one does not cut the others short.
        results = await asyncio.gather(*(apply(message.consumer, r) for r in groups), return_exceptions=True)
        for records, result in zip(groups, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                first = records[0]
                log.error(
                    "a partition's records were not settled; reading them again",
                    extra={"topic": first.topic, "partition": first.partition, "offset": first.offset,
                           "error": repr(result)[:300]},
                )  # fmt: skip
                rewind(message.consumer, TopicPartition(first.topic, first.partition), first.offset)

    return handle


def rewind(kafka: Any, partition: TopicPartition, offset: int) -> None:
    """Read ``partition`` again from ``offset`` (a no-op when the partition has left this consumer meanwhile: its
    new owner resumes from the last commit)."""
    with contextlib.suppress(Exception):
        if partition in kafka.assignment():
            kafka.seek(partition, offset)


_PROM_MIDDLEWARES: dict[str, Any] = {}


def prometheus_middleware(service: str) -> Any:
    # One per process and service: faststream registers its collectors on the registry once.
    if service not in _PROM_MIDDLEWARES:
        _PROM_MIDDLEWARES[service] = KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service)
    return _PROM_MIDDLEWARES[service]
