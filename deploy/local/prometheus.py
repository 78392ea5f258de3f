"""Prometheus of the project's own, without Docker: Debian's ``prometheus`` package, run as our own process.

``python -m deploy.local.prometheus install|up|down|status``

- ``install`` installs Debian's package (``prometheus`` and ``promtool``) when either is missing. The package's
  own service is kept from starting during the install and is disabled if systemd runs: nothing depends on a
  system service; we run our own process with its own data folder under ``.local/``.
- ``up`` scrapes the local services (``deploy/prometheus/prometheus.local.yml``: 127.0.0.1:8001-8003, same jobs
  and rules as docker-compose) on http://127.0.0.1:$PROMETHEUS_PORT (default 19090); ``down`` stops it.

Tests use ``PrometheusServer`` with a config made by ``config_for`` (their own ports, a 1 s scrape interval).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from deploy.local.debian import NotInstalled, binary, ensure_package

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "deploy" / "prometheus"
COMPOSE_CONFIG = CONFIG_DIR / "prometheus.yml"
LOCAL_CONFIG = CONFIG_DIR / "prometheus.local.yml"
RULES_DIR = CONFIG_DIR / "rules"
RULE_TESTS_DIR = CONFIG_DIR / "tests"
STATE_DIR = REPO / ".local" / "prometheus"
DEFAULT_PORT = 19090
PACKAGE = "prometheus"


def require(name: str) -> str:
    path = binary(name)
    if path is None:
        raise NotInstalled(
            f"{name} is not installed: run `python -m deploy.local.prometheus install` (part of `make stack`), "
            f"which installs Debian's {PACKAGE} package"
        )
    return path


def ensure_installed() -> None:
    """Install Debian's prometheus package if ``prometheus`` or ``promtool`` is missing. Idempotent."""
    ensure_package(PACKAGE, ("prometheus", "promtool"), label="prometheus")


# -- configuration -------------------------------------------------------------------------------------------


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


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- the process ---------------------------------------------------------------------------------------------


@dataclass
class PrometheusServer:
    """One Prometheus process: its config file, port, data folder, log and pid file."""

    config_file: Path
    port: int = DEFAULT_PORT
    state_dir: Path = STATE_DIR

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "prometheus.log"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "prometheus.pid"

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
        # guard against pid reuse: a process with a command line must be a prometheus on our data folder
        if cmdline and f"--storage.tsdb.path={self.state_dir / 'data'}".encode() not in cmdline.split(b"\0"):
            return None
        return pid

    def start(self) -> int:
        if (pid := self.pid()) is not None:
            return pid
        exe = require("prometheus")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.config_file}",
                    f"--storage.tsdb.path={self.state_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=7d",
                    "--web.enable-lifecycle",
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
                raise RuntimeError(f"prometheus exited; log:\n{self.tail()}")
            try:
                r = httpx.get(self.url + "/-/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready after {timeout}s ({last}); log:\n{self.tail()}")

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


def local_server() -> PrometheusServer:
    return PrometheusServer(LOCAL_CONFIG, int(os.environ.get("PROMETHEUS_PORT", DEFAULT_PORT)))


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    try:
        if command == "install":
            ensure_installed()
            print(f"[prometheus] {require('prometheus')} and {require('promtool')} are installed")
        elif command == "up":
            ensure_installed()
            server = local_server()
            server.start()
            server.wait_ready()
            print(f"Prometheus 已就绪: {server.url} (config {LOCAL_CONFIG.relative_to(REPO)}, log {server.log_file})")
        elif command == "down":
            local_server().stop()
            print("Prometheus 已停止")
        elif command == "status":
            server = local_server()
            pid = server.pid()
            print(f"prometheus {'running pid ' + str(pid) if pid else 'stopped'}  {server.url}  log {server.log_file}")
            raise SystemExit(0 if pid else 3)
        else:
            raise SystemExit(f"usage: python -m deploy.local.prometheus install|up|down|status (not {command!r})")
    except NotInstalled as exc:
        raise SystemExit(f"[prometheus] ERROR: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"[prometheus] ERROR: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}"
        ) from None


if __name__ == "__main__":
    main()
