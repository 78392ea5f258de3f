"""The shared daemon machinery (deploy/local/daemon.py) without starting one: the local instances the command line
runs, the status and usage lines it prints, and the pid-reuse guard. Starting, readiness and stopping run against the
real binaries in tests/integration/test_alertmanager_routing.py and tests/e2e/test_observability.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.local import alertmanager, daemon, prometheus
from deploy.local.daemon import REPO, DaemonProcess, cli


@pytest.mark.parametrize(
    ("process", "port_env", "default_port"),
    [
        (prometheus.PrometheusServer, "PROMETHEUS_PORT", 19090),
        (alertmanager.AlertmanagerServer, "ALERTMANAGER_PORT", 19093),
    ],
)
def test_the_local_instance_reads_its_port_from_the_environment(
    process: type[DaemonProcess], port_env: str, default_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(port_env, raising=False)
    assert process.local().port == default_port
    monkeypatch.setenv(port_env, "45678")
    local = process.local()
    assert (local.port, local.config_file) == (45678, process.daemon.local_config)
    assert local.state_dir == REPO / ".local" / process.daemon.name == process(local.config_file).state_dir


def test_status_of_a_stopped_daemon_says_so_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(daemon, "REPO", tmp_path)  # .local/prometheus under tmp_path, not the stack's
    monkeypatch.setenv("PROMETHEUS_PORT", "45678")
    with pytest.raises(SystemExit) as exited:
        cli(prometheus.PrometheusServer, ["status"])
    assert exited.value.code == 3
    log = tmp_path / ".local" / "prometheus" / "prometheus.log"
    assert capsys.readouterr().out == f"prometheus stopped  http://127.0.0.1:45678  log {log}\n"


def test_an_unknown_command_is_answered_with_the_usage() -> None:
    with pytest.raises(SystemExit) as exited:
        cli(alertmanager.AlertmanagerServer, ["restart"])
    assert exited.value.code == "usage: python -m deploy.local.alertmanager install|up|down|status (not 'restart')"


def test_a_pid_file_naming_another_process_is_no_daemon_of_ours(tmp_path: Path) -> None:
    server = alertmanager.AlertmanagerServer(tmp_path / "alertmanager.yml", 45678, tmp_path)
    assert server.pid() is None
    (tmp_path / "alertmanager.pid").write_text(str(os.getpid()))  # alive, but not on our data folder
    assert server.pid() is None
