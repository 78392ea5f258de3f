"""Offsets are committed in the background, only for records already applied, and nothing is dropped on the way.

Found by the chaos run (``python -m deploy.chaos``): one awaited commit per record (a round trip to Kafka 4's group
coordinator, which lingers 5 ms per write) held intake at ~15 events a second under load, so after a restart it
needed minutes, not seconds, to catch up with the cases topic.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from shared.kafka.subscribers import OffsetCommits

pytestmark = pytest.mark.unit

TP = TopicPartition("heating.dispatch.cases", 0)
OTHER = TopicPartition("heating.dispatch.cases", 1)


class FakeConsumer:
    def __init__(
        self, *, fail: int = 0, assigned: set[TopicPartition] | None = None, error: type[Exception] = ConnectionError
    ) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.attempts = 0
        self.fail = fail
        self.error = error
        self.assigned = {TP, OTHER} if assigned is None else assigned
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.gate.wait()
        self.attempts += 1
        if self.fail:
            self.fail -= 1
            raise self.error("coordinator not available")
        self.commits.append(dict(offsets))

    def assignment(self) -> set[TopicPartition]:
        return self.assigned


def committed(consumer: FakeConsumer) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for c in consumer.commits:
        out |= c
    return out


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_the_next_offset_of_each_applied_record_is_committed_without_waiting_for_the_broker() -> None:
    consumer, commits = FakeConsumer(), OffsetCommits()
    consumer.gate.clear()  # the broker is slow to answer
    for offset in range(5):
        commits.processed(consumer, TP.topic, TP.partition, offset)  # returns at once: the handler goes on
    commits.processed(consumer, OTHER.topic, OTHER.partition, 41)
    consumer.gate.set()
    await settle()
    assert committed(consumer) == {TP: 5, OTHER: 42}
    assert len(consumer.commits) < 6  # coalesced while the first commit was in flight
    await commits.close()


async def test_a_failed_commit_is_tried_again_with_what_came_since() -> None:
    consumer, commits = FakeConsumer(fail=1), OffsetCommits()
    commits.processed(consumer, TP.topic, TP.partition, 9)
    await asyncio.sleep(0.7)  # the retry waits half a second
    assert committed(consumer) == {TP: 10}
    await commits.close()


async def test_a_partition_taken_by_a_rebalance_is_left_to_its_new_owner() -> None:
    consumer, commits = FakeConsumer(fail=1, assigned={OTHER}), OffsetCommits()
    commits.processed(consumer, TP.topic, TP.partition, 3)
    commits.processed(consumer, OTHER.topic, OTHER.partition, 7)
    await asyncio.sleep(0.7)
    assert committed(consumer) == {OTHER: 8}
    await commits.close()


async def test_a_commit_refused_by_a_rebalance_is_not_retried() -> None:
    consumer, commits = FakeConsumer(fail=1, error=CommitFailedError), OffsetCommits()
    commits.processed(consumer, TP.topic, TP.partition, 3)
    await asyncio.sleep(0.7)
    assert consumer.attempts == 1 and consumer.commits == []  # the next owner resumes from the last commit
    commits.processed(consumer, TP.topic, TP.partition, 4)  # records of the new assignment are committed as usual
    await asyncio.sleep(0.3)
    assert committed(consumer) == {TP: 5}
    await commits.close()


async def test_commits_are_spaced() -> None:
    consumer, commits = FakeConsumer(), OffsetCommits(every=0.2)
    for offset in range(20):
        commits.processed(consumer, TP.topic, TP.partition, offset)
        await asyncio.sleep(0.02)
    await commits.close()
    assert committed(consumer) == {TP: 20}
    assert len(consumer.commits) <= 4  # 0.4 s of records: a commit at once, then one per 0.2 s, then the last


async def test_close_commits_what_is_pending() -> None:
    consumer, commits = FakeConsumer(), OffsetCommits()
    consumer.gate.clear()
    commits.processed(consumer, TP.topic, TP.partition, 0)
    await asyncio.sleep(0.01)
    commits.processed(consumer, TP.topic, TP.partition, 1)  # arrives while the first commit is stuck
    consumer.gate.set()
    await commits.close()
    assert committed(consumer)[TP] == 2


async def test_each_consumer_of_a_topic_commits_only_its_own_partitions() -> None:
    # A topic's subscriber runs several consumers of one group (settings.consumer_workers), each owning some of the
    # partitions; a commit through one of them for another's partition would be refused (or worse, accepted).
    first, second = FakeConsumer(assigned={TP}), FakeConsumer(assigned={OTHER})
    commits = OffsetCommits()
    commits.processed(first, TP.topic, TP.partition, 4)
    commits.processed(second, OTHER.topic, OTHER.partition, 9)
    commits.processed(first, TP.topic, TP.partition, 5)
    await settle()
    assert committed(first) == {TP: 6}
    assert committed(second) == {OTHER: 10}
    await commits.close()


async def test_one_consumer_failing_to_commit_does_not_hold_back_another() -> None:
    stuck, healthy = FakeConsumer(fail=3, assigned={TP}), FakeConsumer(assigned={OTHER})
    commits = OffsetCommits()
    commits.processed(stuck, TP.topic, TP.partition, 1)
    commits.processed(healthy, OTHER.topic, OTHER.partition, 2)
    await asyncio.sleep(0.3)
    assert committed(healthy) == {OTHER: 3}
    await asyncio.sleep(2.0)  # the stuck one is tried again until it answers
    assert committed(stuck) == {TP: 2}
    await commits.close()
