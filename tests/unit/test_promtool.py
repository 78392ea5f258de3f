"""The Prometheus config and alert rules pass promtool: `check config`, `check rules`, and the rules' own unit
tests (`test rules`, deploy/prometheus/tests) that show each alert firing, and not firing, on made-up series.

promtool comes from Debian's prometheus package, installed by `make stack`
(`python -m deploy.local.prometheus install`); a missing promtool is a failure, never a skip.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.local import alertmanager
from deploy.local.prometheus import COMPOSE_CONFIG, LOCAL_CONFIG, binary
from tests.observability import (
    CJK,
    RULE_TESTS_DIR,
    RULES_DIR,
    AlertRule,
    alert_rules,
    exported_metric_names,
    metric_names,
    rule_files,
)

SEVERITIES = {"page", "ticket"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = binary("promtool")
    if exe is None:
        pytest.fail(
            "promtool is missing: run `python -m deploy.local.prometheus install` (part of `make stack`), "
            "which installs Debian's prometheus package",
            pytrace=False,
        )
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


@pytest.mark.parametrize("config", [COMPOSE_CONFIG, LOCAL_CONFIG], ids=lambda p: p.name)
def test_check_config(config: Path) -> None:
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_files())} rule files found" in result.stdout


def test_check_rules() -> None:
    files = sorted(RULES_DIR.glob("*.yml"))
    result = promtool("check", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", *map(str, rule_test_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_unit_tests_that_show_it_firing() -> None:
    firing: set[str] = set()
    tested_files: set[str] = set()
    for path in rule_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        tested_files |= {Path(f).name for f in doc["rule_files"]}
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    firing.add(case["alertname"])
    assert tested_files == set(rule_files())
    assert {r.name for r in alert_rules()} <= firing


def test_local_config_is_the_compose_config_on_localhost() -> None:
    compose = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    local = yaml.safe_load(LOCAL_CONFIG.read_text(encoding="utf-8"))
    for job in compose["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = ["127.0.0.1:" + t.rsplit(":", 1)[1] for t in static["targets"]]
    # alerts: compose's alertmanager:9093, the local Alertmanager's port (deploy/local/alertmanager.py)
    (alertmanagers,) = compose["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    alertmanagers["static_configs"] = [{"targets": [f"127.0.0.1:{alertmanager.DEFAULT_PORT}"]}]
    assert local == compose


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r.name)
def test_alert_conventions(rule: AlertRule) -> None:
    assert rule.rule["labels"]["severity"] in SEVERITIES
    annotations = rule.rule["annotations"]
    assert CJK.search(annotations["summary"]), "summaries are Chinese, for the duty officer"
    description = annotations["description"]
    assert not CJK.search(description) and len(description.split()) >= 10, "descriptions are English"
    assert metric_names(rule.expr) <= exported_metric_names(), "rules read only metrics the code exports"


def test_primed_dead_letter_reasons_are_the_shared_consumers_reasons() -> None:
    """shared.metrics.prime creates the dead-letter series at zero for every reason the shared code can give, so
    DeadLettersArrived sees their first dead letter as an increase."""
    from shared import consumer, events, metrics

    sources = Path(events.__file__).read_text(encoding="utf-8") + Path(consumer.__file__).read_text(encoding="utf-8")
    reasons = set(re.findall(r'BadEvent\(\s*"(\w+)"', sources)) | set(re.findall(r'reason="(\w+)"', sources))
    assert reasons == set(metrics.DEAD_LETTER_REASONS)
