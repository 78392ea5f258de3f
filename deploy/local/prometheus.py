"""Prometheus of the project's own, without Docker: Debian's ``prometheus`` package, run as our own process.

``python -m deploy.local.prometheus install|up|down|status``

- ``install`` installs Debian's package (``prometheus`` and ``promtool``) when either is missing. The package's
  own service is kept from starting during the install and is disabled if systemd runs: nothing depends on a
  system service; we run our own process with its own data folder under ``.local/``.
- ``up`` scrapes the local services (``deploy/prometheus/prometheus.local.yml``: 127.0.0.1:8001-8003, same jobs
  and rules as docker-compose) on http://127.0.0.1:$PROMETHEUS_PORT (default 19090); ``down`` stops it.

Tests use ``PrometheusServer`` with a config made by ``config_for`` (their own ports, a 1 s scrape interval). How
the process is installed, started, waited for and stopped is ``deploy/local/daemon.py``'s; here is what is
Prometheus's own: its package, arguments and config, and its HTTP API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import yaml

from deploy.local.daemon import REPO, Daemon, DaemonProcess, cli
from deploy.local.daemon import write_config as write_config  # tests write their configs with it
from deploy.local.debian import binary as binary  # tests look for promtool with it

CONFIG_DIR = REPO / "deploy" / "prometheus"
COMPOSE_CONFIG = CONFIG_DIR / "prometheus.yml"
LOCAL_CONFIG = CONFIG_DIR / "prometheus.local.yml"
RULES_DIR = CONFIG_DIR / "rules"
RULE_TESTS_DIR = CONFIG_DIR / "tests"
DEFAULT_PORT = 19090
PACKAGE = "prometheus"

PROMETHEUS = Daemon(
    name="prometheus",
    title="Prometheus",
    package=PACKAGE,
    binaries=("prometheus", "promtool"),
    storage_flag="--storage.tsdb.path",
    extra_arguments=("--storage.tsdb.retention.time=7d", "--web.enable-lifecycle"),
    port_env="PROMETHEUS_PORT",
    default_port=DEFAULT_PORT,
    local_config=LOCAL_CONFIG,
)
STATE_DIR = PROMETHEUS.state_dir


def ensure_installed() -> None:
    """Install Debian's prometheus package if ``prometheus`` or ``promtool`` is missing. Idempotent."""
    PROMETHEUS.ensure_installed()


def config_for(
    targets: Mapping[str, str],
    *,
    scrape_interval: str = "5s",
    evaluation_interval: str | None = None,
    rules_dir: Path = RULES_DIR,
    alertmanagers: Sequence[str] = (),
) -> dict[str, Any]:
    """docker-compose's Prometheus config with each job scraping ``targets[job]`` (host:port) instead, and alerts
    sent to ``alertmanagers`` (host:port), or to none."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    if set(targets) != jobs:
        raise ValueError(f"targets for {sorted(targets)}, but the config scrapes {sorted(jobs)}")
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = evaluation_interval or scrape_interval
    config["rule_files"] = [str(rules_dir / "*.yml")]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    else:
        config.pop("alerting", None)
    return config


@dataclass
class PrometheusServer(DaemonProcess):
    """One Prometheus process: its config file, port, data folder, log and pid file."""

    daemon: ClassVar[Daemon] = PROMETHEUS
    port: int = DEFAULT_PORT
    state_dir: Path = STATE_DIR

    # -- HTTP API ------------------------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result as a list of {metric, value} (a scalar becomes one unlabelled sample)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts


def main() -> None:
    cli(PrometheusServer)


if __name__ == "__main__":
    main()
