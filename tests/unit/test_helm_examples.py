"""The Kubernetes examples beside the chart (deploy/helm/examples/): Strimzi's Kafka with every topic and its dead
letters replicated as the services expect, CloudNativePG's clusters with a session pooler per service."""

from __future__ import annotations

from typing import Any

import yaml

from shared.topics import Topics
from tests.unit.test_helm_chart import CHART, EXAMPLES, SETTINGS, containers, of_kind, rendered


def example(name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text(encoding="utf-8")) if d]
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"), doc
    return docs


def test_kafka_example_has_every_topic_and_its_dead_letters_replicated() -> None:
    docs = example("kafka.yaml")
    topics = Topics()
    wanted = {t for topic in topics.all() for t in (topic, topics.dlq(topic))}
    declared = {d["spec"]["topicName"]: d["spec"] for d in docs if d["kind"] == "KafkaTopic"}
    assert set(declared) == wanted
    for name, spec in declared.items():
        assert spec["replicas"] == 3 and spec["config"]["min.insync.replicas"] == 2, name
        assert spec["partitions"] >= 1 and spec["config"]["retention.ms"] > 0, name
    pools = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "KafkaNodePool"}
    assert sorted((p["roles"][0], p["replicas"]) for p in pools.values()) == [("broker", 3), ("controller", 3)]
    (kafka,) = [d for d in docs if d["kind"] == "Kafka"]
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert values["kafka"]["bootstrap"] == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    # a service that starts before the KafkaTopics creates the topics it misses as they are declared
    for deployment in of_kind(rendered("production"), "Deployment"):
        env = {e["name"]: e.get("value") for c in containers(deployment) for e in c.get("env", [])}
        factor = next(v for k, v in env.items() if k.endswith("_KAFKA_REPLICATION_FACTOR"))
        insync = next(v for k, v in env.items() if k.endswith("_KAFKA_MIN_INSYNC_REPLICAS"))
        assert (int(factor), int(insync)) == (3, 2), deployment["metadata"]["name"]


def test_postgres_example_has_a_replicated_cluster_and_a_session_pooler_per_service() -> None:
    docs = example("postgres.yaml")
    clusters = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Cluster"}
    poolers = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Pooler"}
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for service in SETTINGS:
        cluster = clusters[f"heating-{service}-db"]
        assert cluster["instances"] == 3 and cluster["bootstrap"]["initdb"]["database"] == service
        pooler_name = f"heating-{service}-db-pooler"
        pooler = poolers[pooler_name]
        assert pooler["cluster"]["name"] == f"heating-{service}-db" and pooler["type"] == "rw"
        # session mode: the migrations' advisory lock and asyncpg's prepared statements live on a connection
        assert pooler["pgbouncer"]["poolMode"] == "session"
        selector = values["services"][service]["networkPolicy"]["database"]["podSelector"]["matchLabels"]
        assert selector == {"cnpg.io/poolerName": pooler_name}
