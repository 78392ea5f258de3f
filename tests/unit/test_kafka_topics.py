"""The topics a service creates when it finds them missing carry the replication its settings ask for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.kafka.topics import TOPIC_PARTITIONS, new_topics
from shared.settings import ServiceSettings


def test_the_local_default_is_one_replica_and_no_insync_setting() -> None:
    (topic,) = new_topics(ServiceSettings(), ["t"])
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("t", TOPIC_PARTITIONS, 1)
    assert topic.topic_configs == {}


def test_a_cluster_gets_the_replication_of_its_declared_topics() -> None:
    topics = new_topics(ServiceSettings(kafka_replication_factor=3, kafka_min_insync_replicas=2), ["a", "a.dlq"])
    assert [(t.replication_factor, t.topic_configs) for t in topics] == [(3, {"min.insync.replicas": "2"})] * 2


def test_more_insync_replicas_than_replicas_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot exceed"):
        ServiceSettings(kafka_replication_factor=2, kafka_min_insync_replicas=3)
