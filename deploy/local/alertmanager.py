"""Alertmanager of the project's own, without Docker: Debian's ``prometheus-alertmanager``, run as our own process.

``python -m deploy.local.alertmanager install|up|down|status``

- ``install`` installs Debian's package (binaries ``prometheus-alertmanager`` and ``amtool``) when either is
  missing, with the package's own service kept from starting (``deploy/local/debian.py``).
- ``up`` runs it with ``deploy/alertmanager/alertmanager.local.yml`` (the docker-compose routes and inhibition,
  webhooks to dispatch on 127.0.0.1:8002) on http://127.0.0.1:$ALERTMANAGER_PORT (default 19093), where
  ``prometheus.local.yml`` sends its alerts; ``down`` stops it. Clustering is off: one instance, no gossip port.

Tests use ``AlertmanagerServer`` with a config made by ``config_for`` (their own port, webhooks to their own
receiver, seconds instead of minutes of grouping).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import yaml

from deploy.local.debian import NotInstalled, binary, ensure_package

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "deploy" / "alertmanager"
COMPOSE_CONFIG = CONFIG_DIR / "alertmanager.yml"
LOCAL_CONFIG = CONFIG_DIR / "alertmanager.local.yml"
STATE_DIR = REPO / ".local" / "alertmanager"
DEFAULT_PORT = 19093
PACKAGE = "prometheus-alertmanager"
SERVER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary
AMTOOL = "amtool"


def require(name: str) -> str:
    path = binary(name)
    if path is None:
        raise NotInstalled(
            f"{name} is not installed: run `python -m deploy.local.alertmanager install` (part of `make stack`), "
            f"which installs Debian's {PACKAGE} package"
        )
    return path


def ensure_installed() -> None:
    """Install Debian's prometheus-alertmanager package if the server or ``amtool`` is missing. Idempotent."""
    ensure_package(PACKAGE, (SERVER, AMTOOL), label="alertmanager")


# -- configuration -------------------------------------------------------------------------------------------


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


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- the process ---------------------------------------------------------------------------------------------


@dataclass
class AlertmanagerServer:
    """One Alertmanager process: its config file, port, data folder, log and pid file."""

    config_file: Path
    port: int = DEFAULT_PORT
    state_dir: Path = STATE_DIR

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "alertmanager.log"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "alertmanager.pid"

    @property
    def _storage(self) -> Path:
        return self.state_dir / "data"

    def pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        # guard against pid reuse: a process with a command line must be an alertmanager on our data folder
        if cmdline and f"--storage.path={self._storage}".encode() not in cmdline.split(b"\0"):
            return None
        return pid

    def start(self) -> int:
        if (pid := self.pid()) is not None:
            return pid
        exe = require(SERVER)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.config_file}",
                    f"--storage.path={self._storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no gossip port (9094 by default): a single instance
                ],
                cwd=self.state_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise RuntimeError(f"alertmanager exited; log:\n{self.tail()}")
            try:
                r = httpx.get(self.url + "/-/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"alertmanager not ready after {timeout}s ({last}); log:\n{self.tail()}")

    def stop(self, timeout: float = 15) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

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


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def local_server() -> AlertmanagerServer:
    return AlertmanagerServer(LOCAL_CONFIG, int(os.environ.get("ALERTMANAGER_PORT", DEFAULT_PORT)))


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    try:
        if command == "install":
            ensure_installed()
            print(f"[alertmanager] {require(SERVER)} and {require(AMTOOL)} are installed")
        elif command == "up":
            ensure_installed()
            server = local_server()
            server.start()
            server.wait_ready()
            print(f"Alertmanager 已就绪: {server.url} (config {LOCAL_CONFIG.relative_to(REPO)}, log {server.log_file})")
        elif command == "down":
            local_server().stop()
            print("Alertmanager 已停止")
        elif command == "status":
            server = local_server()
            pid = server.pid()
            print(
                f"alertmanager {'running pid ' + str(pid) if pid else 'stopped'}  {server.url}  log {server.log_file}"
            )
            raise SystemExit(0 if pid else 3)
        else:
            raise SystemExit(f"usage: python -m deploy.local.alertmanager install|up|down|status (not {command!r})")
    except NotInstalled as exc:
        raise SystemExit(f"[alertmanager] ERROR: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"[alertmanager] ERROR: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}"
        ) from None


if __name__ == "__main__":
    main()
