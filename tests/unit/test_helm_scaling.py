"""The chart's migrations and scaling (deploy/helm/heating: migrations.yaml, hpa.yaml, scaledobject.yaml), offline.

Each service migrates in a Helm hook Job before its pods change, with exactly its Deployment's image, environment and
security, fenced to DNS and its database; every workload (Deployments and Jobs) stays bounded and locked down. The
HTTP side scales on CPU (a HorizontalPodAutoscaler) or, with KEDA, on the lag of each topic the service consumes, in
the consumer group the service uses; never both on one Deployment, never to zero, never past the topics' partitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from services.dispatch.config import DispatchSettings
from services.dispatch.consumers import handlers as dispatch_handlers
from services.dispatch.notify.settings import NotifySettings
from services.followup.config import FollowupSettings
from services.followup.consumers import handlers as followup_handlers
from services.intake.consumers import handlers as intake_handlers
from shared.clock import SystemClock
from shared.kafka.topics import TOPIC_PARTITIONS
from shared.topics import Topics
from tests.unit.test_helm_chart import (
    CHART,
    KUBE_VERSION,
    RELEASE,
    SETTINGS,
    VALUE_FILES,
    containers,
    fence_of,
    helm,
    least_replicas,
    of_kind,
    rendered,
    selects,
)
from tests.unit.test_helm_examples import example

HOOK = "helm.sh/hook"
WORKLOADS = ("Deployment", "Job")


def template(*sets: str, values: str | None = None) -> tuple[dict[str, Any], ...]:
    args = ["--set", ",".join(sets)] if sets else []
    files = ["-f", str(VALUE_FILES[values])] if values else []
    out = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, *files, *args).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def component(obj: Mapping[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def consumed(prefix: str, *, notify: bool = True) -> dict[str, list[str]]:
    """service → the topics its consumers read, as each service wires its handlers (deploy/apidocs.py does too)."""
    topics = Topics(prefix)
    return {
        "intake": list(intake_handlers(topics, frozenset())),
        "dispatch": list(
            dispatch_handlers(topics, None, SystemClock(), notify=NotifySettings(enabled=notify))  # type: ignore[arg-type]
        ),
        "followup": list(followup_handlers(FollowupSettings(kafka_topic_prefix=prefix), None)),  # type: ignore[arg-type]
    }


# --- migrations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", VALUE_FILES)
def test_each_service_migrates_in_a_hook_job_with_its_deployments_pod(which: str) -> None:
    objects = rendered(which)
    jobs = {component(j).removesuffix("-migrations"): j for j in of_kind(objects, "Job")}
    assert set(jobs) == set(SETTINGS)
    for deployment in of_kind(objects, "Deployment"):
        job = jobs[component(deployment)]
        name = job["metadata"]["name"]
        notes = job["metadata"]["annotations"]
        assert set(notes[HOOK].split(",")) == {"pre-install", "pre-upgrade"}, name
        assert set(notes["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}, name
        assert int(notes["helm.sh/hook-weight"]) <= 0, name
        spec = job["spec"]
        assert spec["backoffLimit"] >= 0 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] > 0
        pod, serving = spec["template"]["spec"], deployment["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never", name
        for key in ("securityContext", "automountServiceAccountToken", "volumes", "imagePullSecrets", "nodeSelector"):
            assert pod.get(key) == serving.get(key), f"{name}: {key}"
        (migrate,) = containers(job)
        (serve,) = containers(deployment)
        assert migrate["args"] == [f"services.{component(deployment)}", "migrate"], name
        for key in ("image", "imagePullPolicy", "env", "resources", "securityContext", "volumeMounts"):
            assert migrate[key] == serve[key], f"{name}: {key} differs from the Deployment's"


@pytest.mark.parametrize("which", VALUE_FILES)
def test_every_workload_is_bounded_and_locked_down(which: str) -> None:
    """The rules test_helm_chart applies to Deployments, for every pod the chart runs (probes aside: a Job ends)."""
    objects = rendered(which)
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in containers(workload):
            name = f"{workload['kind']} {workload['metadata']['name']}/{container['name']}"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"], name


@pytest.mark.parametrize("which", VALUE_FILES)
def test_migration_pods_reach_dns_and_their_database_only_and_serve_nothing(which: str) -> None:
    objects = rendered(which)
    policies = of_kind(objects, "NetworkPolicy")
    for job in of_kind(objects, "Job"):
        labels = job["spec"]["template"]["metadata"]["labels"]
        policy = fence_of(job, policies)
        # on an install the chart's other objects do not exist yet: the policy is a hook, made before the Job
        assert policy["metadata"]["annotations"][HOOK] == job["metadata"]["annotations"][HOOK]
        weight = int(policy["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert weight < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        spec = policy["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"} and not spec["ingress"]
        assert {p["port"] for rule in spec["egress"] for p in rule["ports"]} == {53, 5432}
        assert all(rule.get("to") for rule in spec["egress"]), "an egress rule without a destination admits all"
        for kind in ("Service", "PodDisruptionBudget"):  # a migration is neither served to nor counted
            for obj in of_kind(objects, kind):
                selector = obj["spec"]["selector"]
                assert not selects(selector if kind == "PodDisruptionBudget" else {"matchLabels": selector}, labels)


def test_the_migration_job_can_be_turned_off() -> None:
    objects = template("migrations.job.enabled=false")
    assert not of_kind(objects, "Job")
    assert not [o for o in objects if HOOK in o["metadata"].get("annotations", {})], "no hook left behind"


# --- autoscaling --------------------------------------------------------------------------------------------------


def autoscalers(objects: tuple[dict[str, Any], ...]) -> dict[str, list[dict[str, Any]]]:
    """Deployment name → the autoscalers that target it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if obj["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
            found.setdefault(obj["spec"]["scaleTargetRef"]["name"], []).append(obj)
    return found


def test_autoscaling_is_off_by_default() -> None:
    objects = rendered("default")
    assert not autoscalers(objects)
    assert all(d["spec"]["replicas"] == 1 for d in of_kind(objects, "Deployment"))


def test_production_scales_intake_on_cpu_and_the_consumers_with_keda() -> None:
    objects = rendered("production")
    scaled = autoscalers(objects)
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        (scaler,) = scaled[name]  # one autoscaler a Deployment, never two
        assert scaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in deployment["spec"], f"{name}: an upgrade would reset what the autoscaler chose"
        assert least_replicas(objects, deployment) >= 2, name
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert component(hpa) == "intake" and hpa["apiVersion"] == "autoscaling/v2"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert {component(s) for s in of_kind(objects, "ScaledObject")} == {"dispatch", "followup"}


@pytest.mark.parametrize("prefix", ["", "staging."])
def test_keda_watches_the_lag_of_every_topic_a_service_consumes_in_its_consumer_group(prefix: str) -> None:
    objects = template(*(f"services.{s}.keda.enabled=true" for s in SETTINGS), f"kafka.topicPrefix={prefix}")
    reads = consumed(prefix)
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for scaled in of_kind(objects, "ScaledObject"):
        service = component(scaled)
        settings = SETTINGS[service].model_construct(kafka_topic_prefix=prefix)
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= TOPIC_PARTITIONS, service
        lag = [t["metadata"] for t in spec["triggers"] if t["type"] == "kafka"]
        assert sorted(t["topic"] for t in lag) == sorted(reads[service]), service
        for trigger in lag:
            assert trigger["consumerGroup"] == settings.consumer_group(trigger["topic"]), service
            assert trigger["bootstrapServers"] == values["kafka"]["bootstrap"]
            assert trigger["allowIdleConsumers"] == "false" and trigger["offsetResetPolicy"] == "earliest"
            assert all(isinstance(v, str) for v in trigger.values()), "KEDA's trigger metadata is strings"
        (cpu,) = [t for t in spec["triggers"] if t["type"] == "cpu"]  # the HTTP side, without a second HPA
        assert cpu["metricType"] == "Utilization" and cpu["metadata"]["value"].isdigit()
    assert not of_kind(objects, "HorizontalPodAutoscaler")


def test_keda_leaves_out_the_cases_topic_when_dispatch_notifies_nobody() -> None:
    objects = template("services.dispatch.keda.enabled=true", "services.dispatch.env.NOTIFY__ENABLED=false")
    (scaled,) = of_kind(objects, "ScaledObject")
    topics = [t["metadata"]["topic"] for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
    assert sorted(topics) == sorted(consumed("", notify=False)["dispatch"])
    assert DispatchSettings.model_fields["notify"].annotation is NotifySettings


def test_the_partitions_the_chart_caps_at_are_the_topics_partitions() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert values["kafka"]["partitions"] == TOPIC_PARTITIONS
    for topic in (d for d in example("kafka.yaml") if d["kind"] == "KafkaTopic"):
        assert topic["spec"]["partitions"] == TOPIC_PARTITIONS, topic["spec"]["topicName"]


@pytest.mark.parametrize(
    ("sets", "says"),
    [
        (["services.dispatch.autoscaling.enabled=true", "services.dispatch.keda.enabled=true"], "both enabled"),
        (["services.followup.keda.enabled=true", "services.followup.keda.maxReplicaCount=7"], "partitions"),
        (["services.intake.keda.enabled=true", "kafka.partitions=3"], "exceeds kafka.partitions"),
        (["services.intake.autoscaling.enabled=true", "services.intake.autoscaling.minReplicas=7"], "maxReplicas"),
        (["services.intake.keda.enabled=true", "services.intake.keda.minReplicaCount=0"], "schema"),
        (["services.intake.autoscaling.enabled=true", "services.intake.autoscaling.minReplicas=0"], "schema"),
        (["services.intake.autoscaling.enabled=true", "services.intake.resources.requests.cpu=null"], "requests.cpu"),
        (["migrations.job.backoffLimit=-1"], "schema"),
    ],
)
def test_scaling_that_cannot_work_is_refused(sets: list[str], says: str) -> None:
    result = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, "--set", ",".join(sets), check=False)
    assert result.returncode != 0, f"accepted {sets}"
    assert says in result.stderr, result.stderr


def test_notes_tell_how_each_service_scales() -> None:
    out = helm("install", RELEASE, str(CHART), "--dry-run=client", "-f", str(VALUE_FILES["production"])).stdout
    notes = out.partition("NOTES:")[2]
    assert "intake: 3-10 replicas (HPA: CPU)" in notes, notes
    assert "dispatch: 2-6 replicas (KEDA: Kafka lag and CPU)" in notes, notes
    assert "migrations" in notes, notes
