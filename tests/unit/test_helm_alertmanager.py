"""The chart's AlertmanagerConfig (metrics.alertmanagerConfig) is deploy/alertmanager/alertmanager.yml: the same
routes, timings, inhibition and receivers, rendered with ``helm template`` as in test_helm_chart.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.test_helm_chart import CHART, RELEASE, ROOT, VALUE_FILES, of_kind, rendered


def alertmanager_form(spec: dict[str, Any]) -> dict[str, Any]:
    """An AlertmanagerConfig's route, inhibition and receivers written back in alertmanager.yml's terms."""

    def matchers(ms: list[dict[str, str]]) -> list[str]:
        return [f'{m["name"]}{m["matchType"]}"{m["value"]}"' for m in ms]

    def route(r: dict[str, Any]) -> dict[str, Any]:
        names = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval"}
        out = {names.get(k, "repeat_interval" if k == "repeatInterval" else k): v for k, v in r.items()}
        if "matchers" in out:
            out["matchers"] = matchers(out["matchers"])
        if "routes" in out:
            out["routes"] = [route(sub) for sub in out["routes"]]
        return out

    return {
        "route": route(spec["route"]),
        "inhibit_rules": [
            {
                "source_matchers": matchers(i["sourceMatch"]),
                "target_matchers": matchers(i["targetMatch"]),
                "equal": i["equal"],
            }
            for i in spec["inhibitRules"]
        ],
        "receivers": [
            {
                "name": r["name"],
                "webhook_configs": [
                    {"url": w["url"], "send_resolved": w["sendResolved"], "http_config": w["httpConfig"]}
                    for w in r["webhookConfigs"]
                ],
            }
            for r in spec["receivers"]
        ],
    }


@pytest.mark.parametrize("which", VALUE_FILES)
def test_alertmanager_config_carries_the_routes_of_alertmanager_yml(which: str) -> None:
    """The same routes, timings and inhibition as docker-compose's Alertmanager; webhooks to dispatch's Service with
    the bearer token from a Secret, by name; and dispatch's NetworkPolicy lets Alertmanager in."""
    objects = rendered(which)
    (config,) = of_kind(objects, "AlertmanagerConfig")
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    source = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    chart = alertmanager_form(config["spec"])
    assert chart["route"] == source["route"]
    assert chart["inhibit_rules"] == source["inhibit_rules"]
    pages = [r for r in chart["route"]["routes"] if r["matchers"] == ['severity="page"']]
    assert [r["receiver"] for r in pages] == ["oncall-page"]
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["metrics"]["alertmanagerConfig"]
    dispatch = f"http://{RELEASE}-dispatch:8002"
    for receiver, wanted in zip(chart["receivers"], source["receivers"], strict=True):
        assert receiver["name"] == wanted["name"]
        for webhook, want in zip(receiver["webhook_configs"], wanted["webhook_configs"], strict=True):
            assert webhook["url"] == want["url"].replace("http://dispatch:8002", dispatch), webhook["url"]
            assert webhook["send_resolved"] is True
            auth = webhook["http_config"]["authorization"]
            assert auth == {
                "type": "Bearer",
                "credentials": {"name": values["existingSecret"], "key": values["tokenKey"]},
            }
    (policy,) = [p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == f"{RELEASE}-dispatch"]
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert any(
        peer.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "alertmanager"} for peer in sources
    ), sources
