"""The Helm chart (deploy/helm/heating) and its examples, checked offline.

``helm lint`` and ``helm template`` with the chart's values and the production example's; every rendered object
against the Kubernetes API's JSON schemas (kubernetes-validate, Kubernetes ``KUBE_VERSION``), the custom resources
(prometheus-operator, Strimzi, CloudNativePG) only for their shape; then the rules the chart promises: probes,
resources, a locked-down security context, a disruption budget for more than one replica, a NetworkPolicy for every
pod, secrets by name only, and environment variables the services' settings actually read.

Helm is ``make helm``'s build (.local/helm/bin/helm). Missing, these tests fail: a chart nobody rendered is untested.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy import helm_files
from services.dispatch.config import DispatchSettings
from services.followup.config import FollowupSettings
from services.intake.config import IntakeSettings
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".local" / "helm" / "bin" / "helm"
CHART = ROOT / "deploy" / "helm" / "heating"
EXAMPLES = ROOT / "deploy" / "helm" / "examples"
PRODUCTION = EXAMPLES / "values-production.yaml"
KUBE_VERSION = "1.34.0"  # one that kubernetes-validate bundles and the chart's kubeVersion admits
RELEASE = "heating"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "dispatch": DispatchSettings,
    "followup": FollowupSettings,
}
# Kinds served by an operator's CRD, which kubernetes-validate has no schema for.
CUSTOM_GROUPS = ("monitoring.coreos.com/", "kafka.strimzi.io/", "postgresql.cnpg.io/", "keda.sh/")
# Names of settings and values that hold a secret.
SECRET_WORDS = re.compile(r"token|secret|password|passwd|private|credential|api_?key|access_?key", re.IGNORECASE)
# How a reference to a Secret is written in values: the Secret's name or the name of a key inside it.
REFERENCE = re.compile(r"^(existingSecret|secretName|.*Key)$")
K8S_NAME = re.compile(r"^[-._a-zA-Z0-9]*$")
VALUE_FILES = {"default": None, "production": PRODUCTION}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: run `make helm` (builds it from the Go module proxy)"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=check, timeout=120)


def values_args(values: Path | None) -> list[str]:
    return ["-f", str(values)] if values else []


@cache
def rendered(which: str) -> tuple[dict[str, Any], ...]:
    """The chart's objects with one set of values, every optional part (monitors, rules, dashboards, an OIDC
    provider) switched on."""
    extra = [
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.dashboards.enabled=true,"
        "metrics.alertmanagerConfig.enabled=true",
        "--set",
        "auth.oidc.issuer=https://id.example.gov.cn,auth.oidc.jwksUrl=https://id.example.gov.cn/jwks.json",
    ]
    out = helm(
        "template", RELEASE, str(CHART), "--namespace", "heating", "--kube-version", KUBE_VERSION,
        *values_args(VALUE_FILES[which]), *extra,
    ).stdout  # fmt: skip
    return tuple(d for d in yaml.safe_load_all(out) if d)


def of_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def leaves(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, str(key)))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from leaves(value, (*path, str(i)))
    else:
        yield path, tree


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def least_replicas(objects: tuple[dict[str, Any], ...], deployment: dict[str, Any]) -> int:
    """A Deployment's fixed replicas, or its autoscaler's minimum (an autoscaled Deployment has no count of its own)."""
    name = deployment["metadata"]["name"]
    for o in objects:
        if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject") and o["spec"]["scaleTargetRef"]["name"] == name:
            return int(o["spec"].get("minReplicas", o["spec"].get("minReplicaCount", 1)))
    return int(deployment["spec"]["replicas"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return set(selector.get("matchLabels", {}).items()) <= set(labels.items()) and not selector.get("matchExpressions")


# --- helm itself --------------------------------------------------------------------------------------------------


def test_helm_is_built() -> None:
    version = helm("version", "--short").stdout
    assert version.startswith("v"), version


@pytest.mark.parametrize("which", VALUE_FILES)
def test_helm_lint_passes_strictly(which: str) -> None:
    result = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *values_args(VALUE_FILES[which]))
    assert "0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("services.intake.env.ADMIN_TOKEN=plain", "a secret among the plain settings"),
        ("auth.existingSecret=Not A Secret Name", "a value where a Secret's name belongs"),
        ("securityContext.readOnlyRootFilesystem=false", "a writable root filesystem"),
        ("services.dispatch.replicas=-1", "a negative replica count"),
        ("services.followup.resources=null", "no resources"),
        ("kafka.bootstrap=kafka", "a bootstrap address without a port"),
        ("unknown=1", "a value the chart does not know"),
    ],
)
def test_the_values_schema_refuses(setting: str, why: str) -> None:
    result = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION, "--set", setting, check=False)
    assert result.returncode != 0, f"accepted {why}: {setting}"
    assert "schema" in result.stderr.lower(), result.stderr


def test_a_network_policy_peer_that_names_nothing_is_refused() -> None:
    """An egress rule whose `to` is empty admits every address: the chart fails instead of rendering one."""
    result = helm(
        "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION,
        "--set", "networkPolicy.s3.namespaceSelector=null", check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "networkPolicy.s3 names no peer" in result.stderr, result.stderr


# --- the rendered objects -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", VALUE_FILES)
def test_every_object_is_valid_for_kubernetes(which: str) -> None:
    objects = rendered(which)
    assert objects
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), obj
        if obj["apiVersion"].startswith(CUSTOM_GROUPS):
            assert isinstance(obj.get("spec"), dict), obj["metadata"]["name"]
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("which", VALUE_FILES)
def test_every_deployment_is_probed_bounded_and_locked_down(which: str) -> None:
    objects = rendered(which)
    deployments = of_kind(objects, "Deployment")
    assert {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments} == set(SETTINGS)
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        assert pod["topologySpreadConstraints"]
        for container in containers(deployment):
            name = f"{deployment['metadata']['name']}/{container['name']}"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


@pytest.mark.parametrize("which", VALUE_FILES)
def test_a_deployment_of_more_than_one_replica_has_a_disruption_budget(which: str) -> None:
    objects = rendered(which)
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        if least_replicas(objects, deployment) > 1:
            assert len(mine) == 1, deployment["metadata"]["name"]
            assert mine[0]["spec"]["maxUnavailable"] == 1
        else:  # a budget over a single replica would block every node drain
            assert not mine, deployment["metadata"]["name"]
    if which == "production":
        assert len(budgets) == 3


def fence_of(workload: dict[str, Any], policies: list[dict[str, Any]]) -> dict[str, Any]:
    """The one NetworkPolicy that selects the workload's pods (none, or two that overlap, fail)."""
    labels = workload["spec"]["template"]["metadata"]["labels"]
    mine = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
    assert len(mine) == 1, workload["metadata"]["name"]
    return mine[0]


@pytest.mark.parametrize("which", VALUE_FILES)
def test_every_pod_is_fenced_by_a_network_policy(which: str) -> None:
    objects = rendered(which)
    policies = of_kind(objects, "NetworkPolicy")
    for deployment in of_kind(objects, "Deployment"):
        spec = fence_of(deployment, policies)["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        egress_ports = {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}
        assert {53, 5432, 9092} <= egress_ports, egress_ports  # DNS, its database, Kafka (S3's ports vary)
        assert all(rule.get("to") for rule in spec["egress"]), "an egress rule without a destination admits all"
        assert all(rule.get("from") for rule in spec["ingress"]), "an ingress rule without a source admits all"


@pytest.mark.parametrize("which", VALUE_FILES)
def test_secrets_come_from_secrets_and_every_variable_is_a_setting(which: str) -> None:
    objects = rendered(which)
    assert not of_kind(objects, "Secret"), "the chart renders no Secret: they are created beforehand, by name"
    for deployment in of_kind(objects, "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        settings = SETTINGS[component]
        prefix = f"{component.upper()}_"
        for env in containers(deployment)[0]["env"]:
            name = env["name"]
            assert name.startswith(prefix), name
            field, _, nested = name.removeprefix(prefix).lower().partition("__")
            assert field in settings.model_fields, f"{name}: {settings.__name__} has no setting {field}"
            if nested:
                sub = settings.model_fields[field].annotation
                assert sub is not None and nested in getattr(sub, "model_fields", {}), name
            if SECRET_WORDS.search(name) or name.endswith(("DATABASE_URL", "_KEYS", "_INTEGRATIONS")):
                assert "secretKeyRef" in env.get("valueFrom", {}), f"{name} is not read from a Secret"
                assert "value" not in env, name


def fake_secret(key: str) -> str:
    """A stand-in for what a Secret's key holds, good enough for the settings' production checks."""
    if key == "auth-private-key":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem.decode()
    if key == "database-url":
        return "postgresql+asyncpg://heat:s3cret-from-a-secret@heating-db-pooler:5432/heat"
    if key == "hotline-integrations":
        return json.dumps({"12345-CG": {"secret": "a-real-hotline-secret-0123456789"}})
    if key == "sms":
        return json.dumps(
            {
                "endpoint_url": "https://dysmsapi.aliyuncs.com/",
                "access_key_id": "a-real-key-id",
                "access_key_secret": "a-real-access-key-secret-0123456789",
                "sign_name": "供暖调度",
                "template_code": "SMS_123456789",
            }
        )
    if key in ("open311-api-keys", "sensor-gateway-keys"):
        return json.dumps({"client-1": "a-real-key-0123456789abcdef"})
    return f"a-real-{key}-0123456789abcdef"


def test_the_production_environment_is_accepted_by_the_services_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service's settings, built from its rendered environment (Secrets filled in), pass their production
    checks: the values are well-formed where the services parse them (JSON lists, URLs, nested photo settings)."""
    for deployment in of_kind(rendered("production"), "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        with monkeypatch.context() as env:
            for var in containers(deployment)[0]["env"]:
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                env.setenv(var["name"], fake_secret(ref["key"]) if ref else var["value"])
            settings = SETTINGS[component]()
        assert settings.environment == "production"
        assert settings.kafka_bootstrap == "heating-kafka-kafka-bootstrap:9092"
        assert settings.photos.endpoint_url == "https://oss-cn-north.example.gov.cn"
        if isinstance(settings, DispatchSettings):
            assert str(settings.console_followup_url).startswith("https://followup.")
            assert settings.notify.sms is not None and not settings.notify.allow_insecure_local
        else:
            assert settings.cors_origins == ["https://dispatch.heating.example.gov.cn"]
            assert settings.auth_jwks_url == "http://heating-dispatch:8002/.well-known/jwks.json"
        if isinstance(settings, IntakeSettings):
            assert settings.hotline_integrations and settings.open311_api_keys and settings.sensor_gateway_keys


@pytest.mark.parametrize("path", [CHART / "values.yaml", PRODUCTION], ids=lambda p: p.name)
def test_values_files_hold_secret_names_never_secret_values(path: Path) -> None:
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    for keys, value in leaves(values):
        leaf = keys[-1] if keys else ""
        if any(SECRET_WORDS.search(k) for k in keys if not k.isdigit()):
            assert REFERENCE.match(leaf) or leaf in {"enabled", "optional"}, f"{'.'.join(keys)} holds a value"
            assert value is None or isinstance(value, bool) or K8S_NAME.match(str(value)), ".".join(keys)
        text = str(value)
        assert "PRIVATE KEY" not in text and "change-me" not in text, ".".join(keys)


def test_the_optional_parts_are_off_by_default() -> None:
    out = helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"}, "CRDs only when asked for"
    assert kinds >= {"Deployment", "Service", "Ingress", "NetworkPolicy"}


def test_the_ingress_routes_public_paths_only() -> None:
    (ingress,) = of_kind(rendered("production"), "Ingress")
    paths = {
        (rule["host"].split(".")[0], p["path"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]
    }
    assert ("dispatch", "/console") in paths and ("dispatch", "/field") in paths
    assert ("intake", "/v1") in paths and ("followup", "/v1") in paths
    assert not {p for _, p in paths if p.startswith(("/admin", "/metrics"))}, paths
    (deployment,) = [
        d for d in of_kind(rendered("production"), "Deployment") if d["metadata"]["name"].endswith("-dispatch")
    ]
    env = {e["name"]: e.get("value") for e in containers(deployment)[0]["env"]}
    assert env["DISPATCH_CONSOLE_FOLLOWUP_URL"] == "https://followup.heating.example.gov.cn"
    assert env["DISPATCH_CONSOLE_INTAKE_URL"] == "https://intake.heating.example.gov.cn"


def test_notes_warn_when_not_highly_available() -> None:
    def notes(*args: str) -> str:
        out = helm("install", RELEASE, str(CHART), "--dry-run=client", *args).stdout  # no cluster contacted
        return out.partition("NOTES:")[2]

    single = notes()
    assert all(f"WARNING: {name} runs 1 replica" in single for name in SETTINGS), single
    assert "WARNING" not in notes("-f", str(PRODUCTION)), "three highly available services warned about"


# --- rules and dashboards: the same files as deploy/prometheus and deploy/grafana ---------------------------------


def test_the_chart_copies_of_rules_and_dashboards_are_current() -> None:
    assert helm_files.differences() == [], "stale copies in the chart: run python -m deploy.helm_files"


def test_prometheus_rules_and_dashboards_are_rendered_from_the_files() -> None:
    objects = rendered("default")
    rules = {r["metadata"]["name"].rsplit("-", 1)[1]: r["spec"] for r in of_kind(objects, "PrometheusRule")}
    for path in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")):
        assert rules.pop(path.stem) == yaml.safe_load(path.read_text(encoding="utf-8")), path.name
    assert not rules
    maps = [m for m in of_kind(objects, "ConfigMap") if m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    data = {name: text for m in maps for name, text in m["data"].items()}
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        assert json.loads(data.pop(path.name)) == json.loads(path.read_text(encoding="utf-8")), path.name
    assert not data
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/component", "the alerts select job=~intake|dispatch|…"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True, "the metrics' service label, which the inhibition matches, survives"


# --- the examples: Strimzi and CloudNativePG ----------------------------------------------------------------------
