"""The consumer-lag gauge: end offset minus committed offset, and a group the broker cannot tell about for a minute
counts as entirely behind (its consumers cannot rejoin either), so the lag alert pages instead of a frozen gauge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CoordinatorNotAvailableError

from shared import metrics
from shared.kafka.lag import LagProbe

pytestmark = pytest.mark.unit

CASES, VERDICTS = "heating.dispatch.cases", "heating.followup.verdicts"
GROUPS = {CASES: "intake.heating.dispatch.cases", VERDICTS: "intake.heating.followup.verdicts"}


@dataclass
class Offset:
    offset: int


class FakeAdmin:
    def __init__(self) -> None:
        self.committed = {
            GROUPS[CASES]: {TopicPartition(CASES, 0): Offset(90), TopicPartition(CASES, 1): Offset(10)},
            GROUPS[VERDICTS]: {TopicPartition(VERDICTS, 0): Offset(40)},
        }
        self.broken: set[str] = set()

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        parts = {CASES: [0, 1], VERDICTS: [0]}
        return [{"topic": t, "partitions": [{"partition": p} for p in parts[t]]} for t in topics]

    async def list_consumer_group_offsets(self, group: str) -> dict[TopicPartition, Offset]:
        if group in self.broken:
            raise CoordinatorNotAvailableError()
        return self.committed[group]


class FakeEnds:
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        ends = {TopicPartition(CASES, 0): 100, TopicPartition(CASES, 1): 10, TopicPartition(VERDICTS, 0): 50}
        return {tp: ends[tp] for tp in partitions}


def gauge(topic: str, partition: int) -> float:
    return metrics.CONSUMER_LAG.labels("intake-test", topic, str(partition))._value.get()


async def test_lag_is_end_minus_committed_per_partition() -> None:
    probe = LagProbe("intake-test", GROUPS, FakeAdmin(), FakeEnds())
    lags = await probe.once()
    assert lags == {TopicPartition(CASES, 0): 10, TopicPartition(CASES, 1): 0, TopicPartition(VERDICTS, 0): 10}
    assert gauge(CASES, 0) == 10


async def test_a_group_unreadable_for_a_minute_counts_as_entirely_behind() -> None:
    now = [1000.0]
    admin = FakeAdmin()
    probe = LagProbe("intake-test", GROUPS, admin, FakeEnds(), patience=60.0, clock=lambda: now[0])
    await probe.once()
    admin.broken.add(GROUPS[VERDICTS])

    now[0] += 10  # a broker restart: the gauge keeps its value, the other group goes on
    lags = await probe.once()
    assert TopicPartition(VERDICTS, 0) not in lags and gauge(VERDICTS, 0) == 10
    assert lags[TopicPartition(CASES, 0)] == 10

    now[0] += 60  # still unreadable a minute on: everything on the topic is behind
    lags = await probe.once()
    assert lags[TopicPartition(VERDICTS, 0)] == 50 and gauge(VERDICTS, 0) == 50

    admin.broken.clear()  # the coordinator is back: real figures again
    assert (await probe.once())[TopicPartition(VERDICTS, 0)] == 10
    assert probe.unreadable_since == {}
