"""The topics a service writes and reads, created before anything uses them."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.settings import ServiceSettings

TOPIC_PARTITIONS = 6


def new_topics(settings: ServiceSettings, names: list[str]) -> list[NewTopic]:
    """The topics to create, with the replication the settings ask for (``min.insync.replicas`` when set)."""
    config = (
        {"min.insync.replicas": str(settings.kafka_min_insync_replicas)} if settings.kafka_min_insync_replicas else {}
    )
    return [
        NewTopic(
            n,
            num_partitions=TOPIC_PARTITIONS,
            replication_factor=settings.kafka_replication_factor,
            topic_configs=dict(config),
        )
        for n in names
    ]


async def ensure_topics(settings: ServiceSettings) -> None:
    """Create the service topics and their dead-letter topics, so consumers never race auto-creation."""
    names = [t for topic in settings.topics.all() for t in (topic, settings.topics.dlq(topic))]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(new_topics(settings, missing))
            # The broker answers per topic; 36 = already exists (another replica won the race).
            failed = [(name, code, msg) for name, code, msg in response.topic_errors if code not in (0, 36)]
            if failed:
                raise RuntimeError(
                    f"could not create topics with replication factor {settings.kafka_replication_factor}: {failed}"
                )
    finally:
        await admin.close()
