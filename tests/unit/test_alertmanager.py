"""Alertmanager's config (deploy/alertmanager) passes ``amtool check-config``, routes every alert of
deploy/prometheus/rules to a receiver chosen for its severity, and holds back a down service's other alerts; the local
config is the docker-compose one on localhost.

amtool comes from Debian's prometheus-alertmanager package, installed by `make stack`
(`python -m deploy.local.alertmanager install`); a missing amtool is a failure, never a skip.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from deploy.local.alertmanager import AMTOOL, COMPOSE_CONFIG, CONFIG_DIR, LOCAL_CONFIG, binary
from tests.observability import AlertRule, alert_rules

CONFIGS = [COMPOSE_CONFIG, LOCAL_CONFIG]
NOTIFY_PATH = "/notify/v1/alertmanager"
# severity → the receiver it reaches, and the audience dispatch's notifier forwards it to
RECEIVERS = {"page": "oncall-page", "ticket": "ops-ticket"}
AUDIENCES = {"oncall-page": "oncall", "ops-ticket": "ops-group"}
DEFAULT_RECEIVER = "ops-ticket"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = binary(AMTOOL)
    if exe is None:
        pytest.fail(
            "amtool is missing: run `python -m deploy.local.alertmanager install` (part of `make stack`), "
            "which installs Debian's prometheus-alertmanager package",
            pytrace=False,
        )
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def load(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return config


def routed_to(config: Path, **labels: str) -> list[str]:
    """The receivers an alert with ``labels`` reaches, as amtool resolves the routing tree."""
    result = amtool("config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items()))
    assert result.returncode == 0, result.stdout + result.stderr
    return [name.strip() for name in result.stdout.strip().split(",")]


def severity_routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level routes that match one severity, by that severity."""
    out = {}
    for route in config["route"]["routes"]:
        for matcher in route.get("matchers", []):
            if m := re.fullmatch(r'severity="(\w+)"', matcher):
                out[m.group(1)] = route
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_amtool_check_config(config: Path) -> None:
    result = amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "1 inhibit rules" in result.stdout, result.stdout


def test_local_config_is_the_compose_config_on_localhost() -> None:
    compose, local = load(COMPOSE_CONFIG), load(LOCAL_CONFIG)
    for receiver in compose["receivers"]:
        for webhook in receiver["webhook_configs"]:
            assert webhook["url"].startswith("http://dispatch:8002/"), webhook["url"]
            webhook["url"] = webhook["url"].replace("http://dispatch:8002/", "http://127.0.0.1:8002/")
    assert local == compose


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"severity": "page", "alertname": "OutboxRelayFailing", "service": "dispatch"}, "oncall-page"),
        ({"severity": "ticket", "alertname": "DeadLettersArrived", "service": "intake"}, "ops-ticket"),
        ({"alertname": "SomethingWithoutSeverity"}, DEFAULT_RECEIVER),
        ({"severity": "info", "alertname": "SomethingElse"}, DEFAULT_RECEIVER),
    ],
    ids=["page", "ticket", "no-severity", "unknown-severity"],
)
def test_routes_by_severity(config: Path, labels: dict[str, str], receiver: str) -> None:
    assert routed_to(config, **labels) == [receiver]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r.name)
def test_every_alert_routes_by_its_severity_explicitly(rule: AlertRule) -> None:
    """Each rule's severity has a route of its own (not the default's fall-through), to the receiver meant for it."""
    severity = rule.rule["labels"]["severity"]
    assert severity in severity_routes(load(COMPOSE_CONFIG)), f"no route for severity={severity}"
    assert routed_to(COMPOSE_CONFIG, alertname=rule.name, severity=severity) == [RECEIVERS[severity]]


def test_pages_come_fast_and_often_tickets_slow_and_seldom() -> None:
    routes = severity_routes(load(COMPOSE_CONFIG))
    page, ticket = routes["page"], routes["ticket"]
    assert page["receiver"] == "oncall-page" and ticket["receiver"] == "ops-ticket"
    assert (page["group_wait"], page["repeat_interval"]) == ("10s", "1h")
    assert ticket["repeat_interval"] == "12h"
    assert load(COMPOSE_CONFIG)["route"]["group_by"] == ["alertname", "service"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_receivers_post_to_dispatchs_notifier_with_a_bearer_token(config: Path) -> None:
    receivers = {r["name"]: r for r in load(config)["receivers"]}
    assert set(receivers) == set(AUDIENCES)
    for name, receiver in receivers.items():
        (webhook,) = receiver["webhook_configs"]
        url = urlsplit(webhook["url"])
        assert url.path == NOTIFY_PATH and parse_qs(url.query) == {"audience": [AUDIENCES[name]]}, webhook["url"]
        assert webhook["send_resolved"] is True, "the on-call hears when it is over"
        auth = webhook["http_config"]["authorization"]
        assert auth["type"] == "Bearer" and "credentials" not in auth, "the token comes from a file, never inline"
        token = CONFIG_DIR / auth["credentials_file"]  # Alertmanager resolves it beside the config
        assert token.is_file() and token.read_text().strip(), token


def test_service_down_holds_back_the_other_alerts_of_its_service() -> None:
    (inhibit,) = load(COMPOSE_CONFIG)["inhibit_rules"]
    assert inhibit["source_matchers"] == ['alertname="ServiceDown"']
    assert inhibit["target_matchers"] == ['alertname!="ServiceDown"']
    assert inhibit["equal"] == ["service"]
    rules = {r.name: r for r in alert_rules()}
    # ServiceDown reads `up`, whose job is the service: it copies it into the label the others carry
    assert rules["ServiceDown"].rule["labels"]["service"] == "{{ $labels.job }}"
    plumbing = [r for r in alert_rules() if r.file == "messaging.yml"]
    assert plumbing
    for rule in plumbing:  # every alert of the shared plumbing keeps the service it comes from
        assert re.search(r"\bby \(service\b", rule.expr), f"{rule.name} drops the service label"
