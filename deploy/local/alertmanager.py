"""Alertmanager of the project's own, without Docker: Debian's ``prometheus-alertmanager``, run as our own process.

``python -m deploy.local.alertmanager install|up|down|status``

- ``install`` installs Debian's package (binaries ``prometheus-alertmanager`` and ``amtool``) when either is
  missing, with the package's own service kept from starting (``deploy/local/debian.py``).
- ``up`` runs it with ``deploy/alertmanager/alertmanager.local.yml`` (the docker-compose routes and inhibition,
  webhooks to dispatch on 127.0.0.1:8002) on http://127.0.0.1:$ALERTMANAGER_PORT (default 19093), where
  ``prometheus.local.yml`` sends its alerts; ``down`` stops it. Clustering is off: one instance, no gossip port.

Tests use ``AlertmanagerServer`` with a config made by ``config_for`` (their own port, webhooks to their own
receiver, seconds instead of minutes of grouping). How the process is installed, started, waited for and stopped is
``deploy/local/daemon.py``'s; here is what is Alertmanager's own: its package, arguments and config, and its API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import yaml

from deploy.local.daemon import REPO, Daemon, DaemonProcess, cli
from deploy.local.daemon import write_config as write_config  # tests write their configs with it
from deploy.local.debian import binary as binary  # tests look for amtool and the server with it

CONFIG_DIR = REPO / "deploy" / "alertmanager"
COMPOSE_CONFIG = CONFIG_DIR / "alertmanager.yml"
LOCAL_CONFIG = CONFIG_DIR / "alertmanager.local.yml"
DEFAULT_PORT = 19093
PACKAGE = "prometheus-alertmanager"
SERVER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary
AMTOOL = "amtool"

ALERTMANAGER = Daemon(
    name="alertmanager",
    title="Alertmanager",
    package=PACKAGE,
    binaries=(SERVER, AMTOOL),
    storage_flag="--storage.path",
    extra_arguments=("--cluster.listen-address=",),  # no gossip port (9094 by default): a single instance
    port_env="ALERTMANAGER_PORT",
    default_port=DEFAULT_PORT,
    local_config=LOCAL_CONFIG,
)
STATE_DIR = ALERTMANAGER.state_dir


def ensure_installed() -> None:
    """Install Debian's prometheus-alertmanager package if the server or ``amtool`` is missing. Idempotent."""
    ALERTMANAGER.ensure_installed()


def config_for(
    notify_url: str, token_file: Path, *, group_wait: str = "1s", group_interval: str = "1s"
) -> dict[str, Any]:
    """docker-compose's Alertmanager config with every webhook sent to ``notify_url`` (scheme://host:port, the path
    and query kept) with the bearer token in ``token_file``, and every route's waits shortened for a test."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    base = urlsplit(notify_url)
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            url = urlsplit(webhook["url"])
            webhook["url"] = urlunsplit((base.scheme, base.netloc, url.path, url.query, ""))
            webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    routes = [config["route"], *config["route"].get("routes", [])]
    for route in routes:
        route["group_wait"] = group_wait
        route["group_interval"] = group_interval
    return config


@dataclass
class AlertmanagerServer(DaemonProcess):
    """One Alertmanager process: its config file, port, data folder, log and pid file."""

    daemon: ClassVar[Daemon] = ALERTMANAGER
    port: int = DEFAULT_PORT
    state_dir: Path = STATE_DIR

    # -- HTTP API v2 ---------------------------------------------------------------------------------------

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts as Prometheus sends them: ``[{labels, annotations, startsAt?, endsAt?}]``."""
        httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds, with ``status.state`` (active, suppressed) and ``status.inhibitedBy``."""
        r = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        r.raise_for_status()
        alerts: list[dict[str, Any]] = r.json()
        return alerts


def main() -> None:
    cli(AlertmanagerServer)


if __name__ == "__main__":
    main()
