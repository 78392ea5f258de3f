"""The published schemas of the custom resources the chart and its examples use, vendored in deploy/helm/crds/.

The operators' CRDs are the only place their resources' fields are defined; kubernetes-validate knows none of them.
Each kind we render is checked against the ``openAPIV3Schema`` of the API version it is written in, taken from the
CRD the operator's own release publishes:

- CloudNativePG, prometheus-operator and KEDA are Go modules, and their module zips carry the generated CRDs
  (``config/crd/bases``, ``example/prometheus-operator-crd``): ``go mod download`` through the module proxy.
- Strimzi is Java. Its CRDs are generated at build time by Strimzi's CrdGenerator from the classes of
  ``io.strimzi:api``; the YAML files of its install bundle (packaging/install/cluster-operator/04x-Crd-*.yaml) are
  in no Maven artifact, but the api module's published test jar (``io.strimzi:api:<version>:jar:tests``) carries
  ``crds/v1/*.yaml``, generated in the same build by the same generator from the same classes, with the v1 API
  only: ``mvn dependency:copy`` from Maven Central. (1.2.0's test jar has none, so 0.51.0, which serves v1.)

``python -m deploy.helm_crds fetch`` downloads them into .local/ and rewrites deploy/helm/crds/; the tests never
download, they read the vendored files (``tests/unit/test_helm_crds.py``). Descriptions are left out to keep the
files small: they validate nothing. To move to another operator release, change its version in ``SOURCES`` and fetch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "deploy" / "helm" / "crds"
LOCAL = ROOT / ".local"
GO_PROXY = "https://proxy.golang.org"


@dataclass(frozen=True)
class GoModule:
    path: str
    version: str

    def describe(self) -> str:
        return f"Go module {self.path}@{self.version}"


@dataclass(frozen=True)
class MavenArtifact:
    coordinates: str  # groupId:artifactId:version[:packaging:classifier], as mvn dependency:copy takes it

    def describe(self) -> str:
        return f"Maven artifact {self.coordinates}"


@dataclass(frozen=True)
class Crd:
    """One kind at one API version, and the file of the release that defines it."""

    group: str
    kind: str
    version: str
    origin: GoModule | MavenArtifact
    file: str  # inside the module's folder or the artifact's jar

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def vendored(self) -> Path:
        return VENDORED / self.group / f"{self.kind}-{self.version}.json"


CNPG = GoModule("github.com/cloudnative-pg/cloudnative-pg", "v1.28.1")
PROMETHEUS_OPERATOR = GoModule("github.com/prometheus-operator/prometheus-operator", "v0.86.1")
KEDA = GoModule("github.com/kedacore/keda/v2", "v2.18.1")
STRIMZI = MavenArtifact("io.strimzi:api:0.51.0:jar:tests")
PROMETHEUS_CRDS = "example/prometheus-operator-crd"

SOURCES: tuple[Crd, ...] = (
    Crd("postgresql.cnpg.io", "Cluster", "v1", CNPG, "config/crd/bases/postgresql.cnpg.io_clusters.yaml"),
    Crd("postgresql.cnpg.io", "Pooler", "v1", CNPG, "config/crd/bases/postgresql.cnpg.io_poolers.yaml"),
    *(
        Crd("monitoring.coreos.com", kind, version, PROMETHEUS_OPERATOR, f"{PROMETHEUS_CRDS}/{file}")
        for kind, version, file in (
            ("PrometheusRule", "v1", "monitoring.coreos.com_prometheusrules.yaml"),
            ("ServiceMonitor", "v1", "monitoring.coreos.com_servicemonitors.yaml"),
            ("AlertmanagerConfig", "v1alpha1", "monitoring.coreos.com_alertmanagerconfigs.yaml"),
        )
    ),
    Crd("keda.sh", "ScaledObject", "v1alpha1", KEDA, "config/crd/bases/keda.sh_scaledobjects.yaml"),
    Crd("kafka.strimzi.io", "Kafka", "v1", STRIMZI, "crds/v1/040-Crd-kafka.yaml"),
    Crd("kafka.strimzi.io", "KafkaTopic", "v1", STRIMZI, "crds/v1/043-Crd-kafkatopic.yaml"),
    Crd("kafka.strimzi.io", "KafkaNodePool", "v1", STRIMZI, "crds/v1/045-Crd-kafkanodepool.yaml"),
)


def by_api(api_version: str, kind: str) -> Crd | None:
    return next((c for c in SOURCES if c.api_version == api_version and c.kind == kind), None)


# --- reading the vendored schemas ---------------------------------------------------------------------------------


def load(crd: Crd) -> dict[str, Any]:
    """The vendored ``openAPIV3Schema`` of one kind, as the operator's CRD publishes it (less descriptions)."""
    document: dict[str, Any] = json.loads(crd.vendored.read_text(encoding="utf-8"))
    schema: dict[str, Any] = document["openAPIV3Schema"]
    return schema


def json_schema(node: Any, *, closed: bool = True) -> Any:
    """An OpenAPI v3 structural schema (the subset CRDs use) as a JSON Schema that jsonschema's Draft 7 checks as
    the API server would with strict field validation (``kubectl apply --validate=strict``, the default):

    - ``x-kubernetes-int-or-string``: an integer or a string;
    - ``nullable``: null is also accepted;
    - an object with ``properties`` admits no other field, as the server refuses unknown fields, unless
      ``x-kubernetes-preserve-unknown-fields`` or ``additionalProperties`` says otherwise (an embedded resource
      keeps whatever its own schema says);
    - a pattern in Go's syntax that Python's ``re`` refuses is made one it takes (``python_pattern``);
    - a boolean ``exclusiveMinimum``/``exclusiveMaximum`` (OpenAPI 3.0) becomes Draft 7's number.

    ``format`` is not checked (Kubernetes' formats are its own) and neither are CEL rules
    (``x-kubernetes-validations``): those the server runs, not this test.
    """
    if isinstance(node, list):
        return [json_schema(n, closed=closed) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: json_schema(sub, closed=closed) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = json_schema(value, closed=closed)
        elif key.startswith("x-kubernetes-") or key in ("format", "nullable", "description", "example"):
            continue
        elif key == "pattern":
            out[key] = python_pattern(value)
        else:
            out[key] = value
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):
            if out.pop(bound) and limit in out:
                out[bound] = out.pop(limit)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*kinds, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    opens = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-embedded-resource")
    if closed and "properties" in node and "additionalProperties" not in node and not opens:
        out["additionalProperties"] = False
    return out


def python_pattern(pattern: str) -> str:
    """Go's RE2 lets ``(?i)`` stand inside a group and apply to its rest; Python only at the start. Such a pattern
    is checked case-insensitively as a whole: a little more lenient than the server, never stricter."""
    try:
        re.compile(pattern)
    except re.error:
        return "(?i)" + pattern.replace("(?i)", "")
    return pattern


# --- fetching them ------------------------------------------------------------------------------------------------


def go_module_dir(module: GoModule) -> Path:
    """The module's folder in .local/go/mod (the same cache as ``make helm``'s), downloaded through the proxy."""
    env = {
        **os.environ,
        "GOMODCACHE": str(LOCAL / "go" / "mod"),
        "GOFLAGS": "-modcacherw",
        "GOPROXY": os.environ.get("GOPROXY", GO_PROXY),
    }
    with tempfile.TemporaryDirectory() as scratch:  # outside any module, so go.mod files nearby play no part
        out = subprocess.run(
            ["go", "mod", "download", "-json", f"{module.path}@{module.version}"],
            cwd=scratch, env=env, capture_output=True, text=True, check=True, timeout=900,
        ).stdout  # fmt: skip
    return Path(json.loads(out)["Dir"])


def maven_jar(artifact: MavenArtifact) -> Path:
    """The artifact's jar in .local/crds, downloaded from Maven Central by Maven (its repository in .local/m2)."""
    target = LOCAL / "crds"
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={artifact.coordinates}", f"-DoutputDirectory={target}",
         f"-Dmaven.repo.local={LOCAL / 'm2'}"],
        check=True, timeout=900,
    )  # fmt: skip
    _group, name, version, *rest = artifact.coordinates.split(":")
    classifier = f"-{rest[1]}" if len(rest) > 1 else ""
    return target / f"{name}-{version}{classifier}.jar"


def read_source(crd: Crd, places: dict[GoModule | MavenArtifact, Path]) -> str:
    if crd.origin not in places:
        if isinstance(crd.origin, GoModule):
            places[crd.origin] = go_module_dir(crd.origin)
        else:
            places[crd.origin] = maven_jar(crd.origin)
    place = places[crd.origin]
    if isinstance(crd.origin, GoModule):
        return (place / crd.file).read_text(encoding="utf-8")
    with zipfile.ZipFile(place) as jar:
        return jar.read(crd.file).decode("utf-8")


def without_descriptions(node: Any) -> Any:
    """The schema less its prose: a ``description`` that is a string (a property named description is a schema)."""
    if isinstance(node, list):
        return [without_descriptions(n) for n in node]
    if isinstance(node, dict):
        return {k: without_descriptions(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    return node


class _CrdLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml has no types here
    """YAML 1.1's safe loader, less its ``=`` (the "value" tag nobody uses): CloudNativePG's CRD lists ``=`` among
    an enum's operators, which PyYAML otherwise cannot construct."""


_CrdLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def served_schema(crd: Crd, text: str) -> dict[str, Any]:
    document = yaml.load(text, Loader=_CrdLoader)  # a SafeLoader
    spec = document["spec"]
    assert document["kind"] == "CustomResourceDefinition" and spec["group"] == crd.group, crd.file
    assert spec["names"]["kind"] == crd.kind, f"{crd.file} defines {spec['names']['kind']}, not {crd.kind}"
    (version,) = [v for v in spec["versions"] if v["name"] == crd.version]
    assert version["served"], f"{crd.api_version} {crd.kind} is not served by {crd.origin.describe()}"
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def fetch() -> None:
    """Download every source and rewrite deploy/helm/crds/ with their schemas, nothing left over."""
    places: dict[GoModule | MavenArtifact, Path] = {}
    schemas = {crd: served_schema(crd, read_source(crd, places)) for crd in SOURCES}
    for group in {c.group for c in SOURCES}:
        shutil.rmtree(VENDORED / group, ignore_errors=True)
    for crd, schema in schemas.items():
        crd.vendored.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "apiVersion": crd.api_version,
            "kind": crd.kind,
            "source": {"from": crd.origin.describe(), "file": crd.file, "refresh": "python -m deploy.helm_crds fetch"},
            "openAPIV3Schema": without_descriptions(schema),
        }
        crd.vendored.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{crd.vendored.relative_to(ROOT)} ← {crd.origin.describe()} {crd.file}")


def main(argv: list[str]) -> int:
    if argv != ["fetch"]:
        print("usage: python -m deploy.helm_crds fetch", file=sys.stderr)
        return 2
    fetch()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
