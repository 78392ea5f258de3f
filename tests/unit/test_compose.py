"""docker-compose.yml, the Dockerfile and the Prometheus / Grafana files agree with the code.

No Docker engine is needed: each check reads a file and compares it with what the code expects (settings
fields, env prefixes, default ports, the init SQL's databases, Kafka's advertised listener, the operational
routes), so a rename on either side fails here rather than on someone's ``docker compose up``.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import re
import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from deploy.seed import registry as seed_registry
from services.dispatch.config import DispatchSettings
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY, ServiceSettings
from tests.keys import another_key

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
SERVICES = ("intake", "dispatch", "followup")
ALL_SERVICES = {"kafka", "postgres", "s3", *SERVICES, "seed", "prometheus", "alertmanager", "grafana"}

COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))

_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|\$(?P<bare>\w+)")


# -- helpers -------------------------------------------------------------------------------------------------


def service(name: str) -> dict[str, Any]:
    return COMPOSE["services"][name]  # type: ignore[no-any-return]


def substitute(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Compose's interpolation for what this file uses: ``${VAR:-default}``, ``${VAR-default}``, ``$$``."""
    environ = environ or {}

    def one(m: re.Match[str]) -> str:
        name = m.group("name") or m.group("bare")
        if m.group("op") == ":-":
            return environ.get(name) or m.group("default")
        if m.group("op") == "-":
            return environ.get(name, m.group("default"))
        assert name in environ, f"${{{name}}} has no default: the service would get an empty value"
        return environ[name]

    head, sep, tail = value.partition("$$")
    return _VAR.sub(one, head) + (sep and "$" + substitute(tail, environ))


def raw_env(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def env(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    return {k: substitute(v, environ) for k, v in raw_env(name).items()}


def default_of(value: str) -> str:
    m = _VAR.fullmatch(value)
    assert m and m.group("op"), f"{value!r} is not a ${{VAR:-default}} reference"
    return m.group("default")


def ports(name: str) -> list[tuple[int, int]]:
    """Published (host, container) pairs."""
    out = []
    for p in service(name).get("ports", []):
        if isinstance(p, dict):
            out.append((int(p["published"]), int(p["target"])))
        else:
            *_, host, container = str(p).split(":")
            out.append((int(host), int(container.split("/")[0])))
    return out


def bind_mounts(name: str) -> dict[str, tuple[Path, str]]:
    """Container path → (host path, container path) of the service's bind mounts (sources starting with . or /)."""
    out = {}
    for v in service(name).get("volumes", []):
        if isinstance(v, dict):
            source, target = substitute(v["source"]), v["target"]
            if v.get("type") != "bind":
                continue
        else:
            source, target = str(v).split(":")[:2]
            if not source.startswith((".", "/")):
                continue
        out[target] = ((COMPOSE_FILE.parent / source).resolve(), target)
    return out


def command(name: str) -> list[str]:
    cmd = service(name)["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{name}.config")
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"services.{name}.config should define one settings class, found {classes}"
    return classes[0]


def prefix(name: str) -> str:
    return str(settings_class(name).model_config["env_prefix"])


def healthcheck_text(name: str) -> str:
    test = service(name)["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def module_file(module: str) -> Path:
    base = REPO.joinpath(*module.split("."))
    return base / "__main__.py" if base.is_dir() else base.with_suffix(".py")


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def copy_sources() -> list[str]:
    sources = []
    for keyword, rest in dockerfile_instructions():
        if keyword in ("COPY", "ADD"):
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            assert "--from" not in rest, "a multi-stage COPY: teach this test about it"
            sources += args[:-1]
    return sources


def pyproject_readme() -> str:
    import tomllib

    return str(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["readme"])


def in_image(path: Path) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == s.rstrip("/") or rel.startswith(s.rstrip("/") + "/") for s in copy_sources())


def module_in_image(module: str) -> bool:
    """The module's file and the ``__init__.py`` of every package above it are copied into the image."""
    parts = module.split(".")
    packages = [REPO.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]
    return all(in_image(p) for p in [*packages, module_file(module)])


def init_sql_databases() -> set[str]:
    mounts = bind_mounts("postgres")
    scripts = [host for target, (host, _) in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/")]
    assert scripts, "postgres mounts no init script into /docker-entrypoint-initdb.d"
    sql = "\n".join(p.read_text(encoding="utf-8") for p in scripts)
    return set(re.findall(r'CREATE\s+DATABASE\s+"?(\w+)"?', sql, flags=re.IGNORECASE))


def advertised_listeners() -> dict[str, str]:
    value = env("kafka")["KAFKA_ADVERTISED_LISTENERS"]
    return dict(item.split("://", 1) for item in value.split(","))


def clean_env(monkeypatch: pytest.MonkeyPatch, env_prefix: str) -> None:
    """Only the compose environment reaches the settings, not the developer's shell."""
    import os

    for key in list(os.environ):
        if key.upper().startswith(env_prefix.upper()):
            monkeypatch.delenv(key)


def app_routes(name: str, settings: ServiceSettings) -> set[str]:
    main = importlib.import_module(f"services.{name}.main")
    app = main.create_app(settings)
    return {getattr(route, "path", "") for route in app.routes}


# -- the file as a whole ---------------------------------------------------------------------------------------


def test_compose_has_the_whole_topology() -> None:
    assert set(COMPOSE["services"]) == ALL_SERVICES


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, spec in COMPOSE["services"].items():
        for v in spec.get("volumes", []):
            source = substitute(v["source"]) if isinstance(v, dict) else str(v).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts volume {source!r}, not declared under volumes:"


def test_every_interpolation_has_a_default() -> None:
    for name in COMPOSE["services"]:
        for key, value in raw_env(name).items():
            substitute(value)  # raises on a ${VAR} without default
            assert "${" not in substitute(value), f"{name}.{key}"


# -- infrastructure --------------------------------------------------------------------------------------------


def test_kafka_is_a_single_kraft_node_advertising_its_service_name() -> None:
    e = env("kafka")
    assert e["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node, _, voter = e["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node == e["KAFKA_NODE_ID"]
    listeners = dict(item.split("://", 1) for item in e["KAFKA_LISTENERS"].split(","))
    assert listeners["CONTROLLER"].rsplit(":", 1)[1] == voter.rsplit(":", 1)[1]
    assert voter.split(":")[0] == "kafka"
    host, port = advertised_listeners()["PLAINTEXT"].split(":")
    assert host == "kafka" and listeners["PLAINTEXT"].rsplit(":", 1)[1] == port
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert e[key] == "1", key
    assert e["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert "kafka-broker-api-versions.sh" in healthcheck_text("kafka")


def test_postgres_creates_one_database_per_service() -> None:
    assert init_sql_databases() >= set(SERVICES)
    assert "pg_isready" in healthcheck_text("postgres")


# -- the three services ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_names_a_module_in_the_image(name: str) -> None:
    module, *args = command(name)
    assert module == f"services.{name}"
    assert args == ["serve"]
    assert module_file(module) == REPO / "services" / name / "__main__.py"
    assert module_file(module).is_file()
    assert service(name).get("build") in (".", {"context": "."}), f"{name} runs the image of the root Dockerfile"
    assert module_in_image(module), f"the Dockerfile does not copy {module} and its packages"


@pytest.mark.parametrize("name", SERVICES)
def test_service_env_names_are_settings_fields(name: str) -> None:
    cls = settings_class(name)
    assert prefix(name) == f"{name.upper()}_"
    for key in raw_env(name):
        assert key.startswith(prefix(name)), f"{name}: {key} does not have the prefix {prefix(name)}"
        field, _, nested = key.removeprefix(prefix(name)).lower().partition("__")
        assert field in cls.model_fields, f"{name}: {key} sets no field of {cls.__name__} (typo or renamed field?)"
        if nested:  # FIELD__SUB sets one field of a nested settings model
            model = cls.model_fields[field].annotation
            assert nested in getattr(model, "model_fields", {}), f"{name}: {key} sets no field of {model}"
    keys = "AUTH_PRIVATE_KEY" if name == "dispatch" else "AUTH_JWKS_URL"  # the issuer signs, the others verify
    required = {"DATABASE_URL", "KAFKA_BOOTSTRAP", "HTTP_HOST", "HTTP_PORT", keys, "ADMIN_TOKEN"}
    assert {prefix(name) + f for f in required} <= set(raw_env(name))


@pytest.mark.parametrize("name", SERVICES)
def test_service_port_is_the_settings_default_and_is_published(name: str) -> None:
    port = int(env(name)[prefix(name) + "HTTP_PORT"])
    assert port == settings_class(name).model_fields["http_port"].default
    assert ports(name) == [(port, port)]
    assert env(name)[prefix(name) + "HTTP_HOST"] == "0.0.0.0", "bound to loopback the port is unreachable"


@pytest.mark.parametrize("name", SERVICES)
def test_service_database_is_created_by_postgres(name: str) -> None:
    url = make_url(env(name)[prefix(name) + "DATABASE_URL"])
    pg = env("postgres")
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "postgres" and url.port == 5432
    assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
    assert url.database == name
    assert url.database in init_sql_databases()


@pytest.mark.parametrize("name", SERVICES)
def test_service_uses_kafkas_advertised_listener(name: str) -> None:
    assert env(name)[prefix(name) + "KAFKA_BOOTSTRAP"] == advertised_listeners()["PLAINTEXT"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_infrastructure(name: str) -> None:
    depends = service(name)["depends_on"]
    for dep in ("kafka", "postgres"):
        assert depends[dep]["condition"] == "service_healthy"
        assert "healthcheck" in service(dep)


@pytest.mark.parametrize("name", SERVICES)
def test_service_secrets_default_to_the_dev_placeholders(name: str) -> None:
    raw = raw_env(name)
    if name == "dispatch":
        assert default_of(raw[prefix(name) + "AUTH_PRIVATE_KEY"]) == ""  # the development key
    else:
        assert default_of(raw[prefix(name) + "AUTH_JWKS_URL"]) == "http://dispatch:8002/.well-known/jwks.json"
    assert default_of(raw[prefix(name) + "ADMIN_TOKEN"]) == DEV_ADMIN_TOKEN


@pytest.mark.parametrize("name", SERVICES)
def test_service_settings_validate_from_the_compose_env(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(monkeypatch, prefix(name))
    e = env(name)
    for key, value in e.items():
        monkeypatch.setenv(key, value)
    settings = settings_class(name)()
    assert settings.http_port == ports(name)[0][1]
    assert settings.http_host == "0.0.0.0"
    assert settings.database_url == e[prefix(name) + "DATABASE_URL"]
    assert settings.kafka_bootstrap == advertised_listeners()["PLAINTEXT"]
    if isinstance(settings, DispatchSettings):
        assert settings.auth_private_key.get_secret_value() == DEV_AUTH_PRIVATE_KEY
    else:
        assert settings.auth_jwks_url == "http://dispatch:8002/.well-known/jwks.json"
    assert settings.admin_token.get_secret_value() == DEV_ADMIN_TOKEN
    assert settings.environment == "development"
    # The routes the health check and Prometheus hit are served by that app.
    assert {"/healthz", "/readyz", "/metrics"} <= app_routes(name, settings)


@pytest.mark.parametrize("name", SERVICES)
def test_production_refuses_the_placeholder_secrets(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(monkeypatch, prefix(name))
    for key, value in env(name, {"ENVIRONMENT": "production"}).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="placeholder"):
        settings_class(name)()
    real = {
        "ENVIRONMENT": "production",
        "AUTH_PRIVATE_KEY": another_key(),
        "ADMIN_TOKEN": "t" * 32,
        "S3_ACCESS_KEY": "heat-prod",
        "S3_SECRET_KEY": "s" * 32,
        "NOTIFY_ALERT_TOKEN": "n" * 32,
    }
    for key, value in env(name, real).items():
        monkeypatch.setenv(key, value)
    assert settings_class(name)().environment == "production"


@pytest.mark.parametrize("name", SERVICES)
def test_service_healthcheck_asks_readyz_on_its_port(name: str) -> None:
    port = int(env(name)[prefix(name) + "HTTP_PORT"])
    check = healthcheck_text(name)
    assert f"http://127.0.0.1:{port}/readyz" in check
    assert "curl" not in check and "wget" not in check, "python:3.11-slim has neither curl nor wget"


# -- the seed job ----------------------------------------------------------------------------------------------


def test_seed_runs_the_registry_once_against_the_services() -> None:
    module, *args = command("seed")
    assert module == "deploy.seed.registry" and args == []
    assert module_file(module).is_file() and module_in_image(module)
    assert service("seed")["restart"] == "no"
    read = set(re.findall(r"os\.environ\.get\(\s*\"(\w+)\"", inspect.getsource(seed_registry.main)))
    assert set(raw_env("seed")) == read, "the seed job sets exactly the variables deploy.seed.registry reads"
    for var, target in (("INTAKE_URL", "intake"), ("DISPATCH_URL", "dispatch")):
        port = int(env(target)[prefix(target) + "HTTP_PORT"])
        assert env("seed")[var] == f"http://{target}:{port}"
        assert service("seed")["depends_on"][target]["condition"] == "service_healthy"
        assert env("seed")["ADMIN_TOKEN"] == env(target)[prefix(target) + "ADMIN_TOKEN"]
        assert raw_env("seed")["ADMIN_TOKEN"] == raw_env(target)[prefix(target) + "ADMIN_TOKEN"]


# -- Prometheus and Grafana ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["postgres", "prometheus", "grafana"])
def test_bind_mounts_exist_in_the_repo(name: str) -> None:
    mounts = bind_mounts(name)
    assert mounts
    for host, target in mounts.values():
        assert host.exists(), f"{name} mounts {host} at {target}: missing"
        assert host.is_relative_to(REPO)


def prometheus_config() -> tuple[dict[str, Any], PurePosixPath, Path]:
    mounts = bind_mounts("prometheus")
    host, target = mounts["/etc/prometheus/prometheus.yml"]
    return yaml.safe_load(host.read_text(encoding="utf-8")), PurePosixPath(target), host


def test_prometheus_scrapes_exactly_the_three_services() -> None:
    config, _, _ = prometheus_config()
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        jobs[job["job_name"]] = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = {name: {f"{name}:{env(name)[prefix(name) + 'HTTP_PORT']}"} for name in SERVICES}
    assert jobs == expected


def test_prometheus_rule_files_resolve_inside_the_container() -> None:
    config, target, host = prometheus_config()
    mounts = bind_mounts("prometheus")
    for pattern in config["rule_files"]:
        container_dir = str((target.parent / pattern).parent)
        assert container_dir in mounts, f"rule_files {pattern!r} looks in {container_dir}, which is not mounted"
        host_dir, _ = mounts[container_dir]
        assert host_dir == (host.parent / pattern).parent, "the local copy must resolve the same pattern"
        assert list(host_dir.glob(PurePosixPath(pattern).name)), f"no rule file matches {pattern!r}"


def test_service_down_alert_watches_the_scrape_jobs() -> None:
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules/services.yml").read_text(encoding="utf-8"))
    group = next(g for g in rules["groups"] if g["name"] == "heating-services")
    rule = next(r for r in group["rules"] if r.get("alert") == "ServiceDown")
    jobs = re.search(r'job=~"([^"]+)"', rule["expr"])
    assert jobs and set(jobs.group(1).split("|")) == set(SERVICES)
    assert rule["labels"]["severity"] == "page"
    assert "{{ $labels.job }}" in rule["annotations"]["summary"]


def test_grafana_provisions_prometheus_and_the_dashboards_folder() -> None:
    mounts = bind_mounts("grafana")
    provisioning, _ = mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text(encoding="utf-8"))
    (source,) = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    prom_port = ports("prometheus")[0][1]
    assert source["uid"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == f"http://prometheus:{prom_port}"
    providers = yaml.safe_load((provisioning / "dashboards/dashboards.yml").read_text(encoding="utf-8"))
    for provider in providers["providers"]:
        assert provider["type"] == "file"
        assert provider["options"]["path"] in mounts, "the dashboards provider reads a folder that is not mounted"
    assert env("grafana")["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env("grafana")["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


# -- the image -------------------------------------------------------------------------------------------------


def test_dockerfile_runs_modules_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    entry = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert yaml.safe_load(entry[-1]) == ["python", "-m"]
    assert yaml.safe_load(cmd[-1]) == command("intake")
    assert pyproject_readme() in copy_sources(), "pip install . needs the readme pyproject.toml declares"


@pytest.mark.parametrize("source", copy_sources())
def test_dockerfile_copy_sources_exist_and_are_not_ignored(source: str) -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for pattern in ignored:
        pattern = pattern.removeprefix("**/").rstrip("/")
        assert not fnmatch.fnmatch(source.rstrip("/"), pattern), f".dockerignore {pattern!r} hides {source}"
        assert not source.startswith(pattern + "/"), f".dockerignore {pattern!r} hides {source}"
    assert (REPO / source).exists(), f"the Dockerfile copies {source}, which does not exist"
