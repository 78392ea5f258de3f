"""The topics a service writes and reads, created before anything uses them."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.settings import ServiceSettings

TOPIC_PARTITIONS = 6


async def ensure_topics(settings: ServiceSettings) -> None:
    """Create the service topics and their dead-letter topics, so consumers never race auto-creation."""
    names = [t for topic in settings.topics.all() for t in (topic, settings.topics.dlq(topic))]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
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
