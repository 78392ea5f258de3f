"""On the real broker: the topics a service creates carry its replication settings, and a replication factor the
cluster cannot give is a clear failure at start, not topics nobody can write to."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.kafka.topics import ensure_topics
from shared.settings import ServiceSettings
from tests.harness import KAFKA, check_stack


async def test_created_topics_carry_the_insync_setting() -> None:
    await check_stack()
    settings = ServiceSettings(
        kafka_bootstrap=KAFKA, kafka_topic_prefix=f"topics-{uuid.uuid4().hex[:8]}.", kafka_min_insync_replicas=1
    )
    await ensure_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        [described] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topics.cases)])
        entries = {name: value for name, value, *_ in described.resources[0][4]}
    finally:
        await admin.close()
    assert entries["min.insync.replicas"] == "1"


async def test_a_replication_factor_the_cluster_cannot_give_fails_at_start() -> None:
    await check_stack()
    settings = ServiceSettings(
        kafka_bootstrap=KAFKA, kafka_topic_prefix=f"topics-{uuid.uuid4().hex[:8]}.", kafka_replication_factor=3
    )
    with pytest.raises(RuntimeError, match="replication factor 3"):
        await ensure_topics(settings)  # the local stack has one broker
