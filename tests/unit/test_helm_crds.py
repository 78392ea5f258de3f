"""The custom resources of the chart and its examples against their operators' published CRD schemas.

kubernetes-validate knows the Kubernetes API only; the operators' kinds (CloudNativePG, prometheus-operator, KEDA,
Strimzi) are checked here against the ``openAPIV3Schema`` of the CRD each operator's release publishes, vendored in
deploy/helm/crds/ by ``python -m deploy.helm_crds fetch`` (deploy/helm_crds.py says from where). Unknown fields are
refused, as the API server's strict field validation does; CEL rules and formats are the server's alone. A custom
kind with no vendored schema fails, so a new one cannot slip by unchecked.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from deploy import helm_crds
from tests.unit.test_helm_chart import EXAMPLES, VALUE_FILES, rendered
from tests.unit.test_helm_examples import example

EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "values-production.yaml")


def is_custom(obj: dict[str, Any]) -> bool:
    """Served by a CRD: a group with a dot that is not one of Kubernetes' own (``*.k8s.io``); the core and the
    built-in groups (``v1``, ``apps/v1``, ``policy/v1``, ``networking.k8s.io/v1`` …) are kubernetes-validate's."""
    group = obj["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


@cache
def validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    crd = helm_crds.by_api(api_version, kind)
    assert crd is not None, f"{api_version} {kind} has no vendored schema: add it to deploy/helm_crds.py and fetch"
    schema = helm_crds.json_schema(helm_crds.load(crd))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def problems(obj: dict[str, Any]) -> list[str]:
    found = validator(obj["apiVersion"], obj["kind"]).iter_errors(obj)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]


def objects_of(source: str) -> list[dict[str, Any]]:
    which, _, name = source.partition(":")
    return list(rendered(name)) if which == "chart" else example(name)


SOURCES = [f"chart:{v}" for v in VALUE_FILES] + [f"example:{n}" for n in EXAMPLE_FILES]


@pytest.mark.parametrize("source", SOURCES)
def test_every_custom_resource_matches_its_published_schema(source: str) -> None:
    custom = [o for o in objects_of(source) if is_custom(o)]
    if source.startswith("example:"):
        assert custom, f"{source} holds no custom resource"
    for obj in custom:
        found = problems(obj)
        assert not found, f"{source} {obj['kind']}/{obj['metadata']['name']}: {found}"


def test_every_kind_in_use_is_vendored_and_every_vendored_kind_is_in_use_or_expected() -> None:
    """The vendored schemas are the kinds rendered, and KEDA's ScaledObject (the chart's autoscaling, when on)."""
    used = {(o["apiVersion"], o["kind"]) for s in SOURCES for o in objects_of(s) if is_custom(o)}
    vendored = {(c.api_version, c.kind) for c in helm_crds.SOURCES}
    assert used - vendored == set(), "rendered custom kinds without a schema"
    assert vendored - used <= {("keda.sh/v1alpha1", "ScaledObject")}, "vendored schemas nothing uses"


def test_the_vendored_files_are_the_sources_and_say_where_they_come_from() -> None:
    on_disk = set(helm_crds.VENDORED.rglob("*.json"))
    assert on_disk == {c.vendored for c in helm_crds.SOURCES}, "run: python -m deploy.helm_crds fetch"
    for crd in helm_crds.SOURCES:
        document = json.loads(crd.vendored.read_text(encoding="utf-8"))
        assert (document["apiVersion"], document["kind"]) == (crd.api_version, crd.kind)
        assert document["source"]["from"] == crd.origin.describe() and document["source"]["file"] == crd.file
        assert document["openAPIV3Schema"]["type"] == "object"


def first(kind: str) -> dict[str, Any]:
    everything = [o for s in SOURCES for o in objects_of(s)]
    return copy.deepcopy(next(o for o in everything if o["kind"] == kind))


def scaled_object() -> dict[str, Any]:
    """A ScaledObject on Kafka consumer lag as KEDA's docs write it, while the chart renders none by default."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "heating-dispatch"},
        "spec": {
            "scaleTargetRef": {"name": "heating-dispatch"},
            "minReplicaCount": 2,
            "maxReplicaCount": 6,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {"bootstrapServers": "heating-kafka-kafka-bootstrap:9092", "lagThreshold": "50"},
                }
            ],
        },
    }


def test_a_scaled_object_as_keda_documents_it_is_accepted() -> None:
    assert not problems(scaled_object())


def set_path(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split("/")
    node: Any = obj
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[leaf] = value
    return obj


@pytest.mark.parametrize(
    ("kind", "path", "value", "why"),
    [
        ("KafkaTopic", "spec/partitions", "six", "a string where an integer belongs"),
        ("KafkaTopic", "spec/replica", 3, "a misspelt field"),
        ("KafkaNodePool", "spec/roles", ["zookeeper"], "a role Strimzi does not know"),
        ("Kafka", "spec/kafka/listeners", "plain", "a string where a list belongs"),
        ("Cluster", "spec/instances", 0, "fewer instances than the minimum"),
        ("Pooler", "spec/pgbouncer/poolMode", "statement-ish", "a pool mode not in the enum"),
        ("ServiceMonitor", "spec/endpoints/0/honourLabels", True, "a misspelt field"),
        ("PrometheusRule", "spec/groups/0/rules", "up == 0", "a string where a list belongs"),
        ("AlertmanagerConfig", "spec/route/groupWait", 30, "a number where a duration string belongs"),
        ("ScaledObject", "spec/minReplicaCount", "two", "a string where an integer belongs"),
        ("ScaledObject", "spec/triggers/0/metadata/lagThreshold", 50, "trigger metadata is strings only"),
    ],
)
def test_a_broken_field_is_refused(kind: str, path: str, value: Any, why: str) -> None:
    obj = scaled_object() if kind == "ScaledObject" else first(kind)
    assert not problems(obj)
    assert problems(set_path(obj, path, value)), f"accepted {why}: {kind} {path}={value!r}"


def test_int_or_string_and_open_fields_are_accepted() -> None:
    """Resource quantities are ``x-kubernetes-int-or-string``; Kafka's ``config`` preserves unknown fields."""
    pool = first("KafkaNodePool")
    set_path(pool, "spec/resources/requests/cpu", 1)
    set_path(pool, "spec/resources/limits/memory", "1Gi")
    kafka = set_path(first("Kafka"), "spec/kafka/config/any.broker.setting", "as Kafka allows")
    assert not problems(pool) and not problems(kafka)


def test_a_custom_kind_without_a_schema_is_named() -> None:
    with pytest.raises(AssertionError, match="PodMonitor has no vendored schema"):
        validator("monitoring.coreos.com/v1", "PodMonitor")
