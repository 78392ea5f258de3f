"""docker-compose's Alertmanager: Prometheus sends to it, it reads the routes of deploy/alertmanager/ and the token
it presents to dispatch's notifier, and posts to dispatch where dispatch listens."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from tests.unit.test_compose import REPO, bind_mounts, command, env, ports, prometheus_config


def test_prometheus_sends_alerts_to_the_alertmanager_service() -> None:
    config, _, _ = prometheus_config()
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    (port,) = {container for _, container in ports("alertmanager")}
    assert targets == [f"alertmanager:{port}"]


def test_alertmanager_reads_the_config_and_the_token_it_names() -> None:
    mounts = bind_mounts("alertmanager")
    assert f"--config.file={mounts['/etc/alertmanager/alertmanager.yml'][1]}" in command("alertmanager")
    host, _ = mounts["/etc/alertmanager/alertmanager.yml"]
    assert host == REPO / "deploy" / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(host.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            token = PurePosixPath("/etc/alertmanager") / webhook["http_config"]["authorization"]["credentials_file"]
            assert str(token) in mounts, f"{token} is not mounted"
            assert mounts[str(token)][0].is_file()
            host_port = f"dispatch:{env('dispatch')['DISPATCH_HTTP_PORT']}"
            assert webhook["url"].startswith(f"http://{host_port}/"), webhook["url"]
