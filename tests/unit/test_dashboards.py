"""The Grafana dashboards (hand-written JSON in deploy/grafana/dashboards) are well-formed and honest.

Grafana is not installed here, so what a broken dashboard would show only in Grafana is checked from the JSON:
structure and layout, Chinese titles for the operators and English descriptions, the provisioned datasource,
and every query: valid PromQL (promtool parses it) that reads only metrics the code exports. That each query
also returns data from the running services is tests/e2e/test_observability.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.local.prometheus import binary
from tests.observability import (
    CJK,
    PROVISIONING_DIR,
    dashboards,
    exported_metric_names,
    metric_names,
    panel_queries,
    panels,
)

BOARDS = {"operations": "heating-operations", "units": "heating-units", "platform": "heating-platform"}
PANEL_TYPES = {"row", "stat", "gauge", "bargauge", "timeseries", "table"}


def datasource_uid() -> str:
    doc = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    (source,) = [d for d in doc["datasources"] if d["type"] == "prometheus"]
    return str(source["uid"])


def is_english(text: str) -> bool:
    """English prose; Chinese terms may be glossed in parentheses, e.g. "sign-ins (签收)"."""
    words = [w for w in text.replace("(", " ").split() if w.isascii() and any(c.isalpha() for c in w)]
    return len(words) >= 4 and len(CJK.findall(text)) <= len(text) // 10


def all_panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name, d in dashboards().items() for p in panels(d) if p.get("type") != "row"]


def test_the_three_boards_exist_with_their_uids() -> None:
    assert {name: d["uid"] for name, d in dashboards().items()} == BOARDS


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_header(name: str) -> None:
    d = dashboards()[name]
    assert CJK.search(d["title"]), "dashboard titles are Chinese"
    assert is_english(d["description"]), "dashboard descriptions are English"
    assert "heating" in d["tags"]
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["editable"] is False, "provisioned from files: changes go through the repository"
    assert d["templating"]["list"] == [], "no variables: the e2e test evaluates the queries as written"
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids are unique within a dashboard"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_layout_fits_the_grid_without_overlaps(name: str) -> None:
    taken: set[tuple[int, int]] = set()
    for p in dashboards()[name]["panels"]:
        g = p["gridPos"]
        assert 1 <= g["w"] and g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        assert g["h"] >= 1 and g["y"] >= 0, p["title"]
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, f"{p['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize(("name", "panel"), all_panels(), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_panel(name: str, panel: dict[str, Any]) -> None:
    assert panel["type"] in PANEL_TYPES
    assert CJK.search(panel["title"]), "panel titles are Chinese"
    assert is_english(panel.get("description", "")), "panel descriptions are English"
    uid = datasource_uid()
    assert panel["datasource"] == {"type": "prometheus", "uid": uid}
    targets = panel["targets"]
    assert targets, "every panel has a query"
    assert len({t["refId"] for t in targets}) == len(targets)
    for t in targets:
        assert t["datasource"]["uid"] == uid
        assert t["expr"].strip()
        assert t.get("instant") is not t.get("range"), "a query is either instant or range"
        assert t["instant"] is (panel["type"] in ("stat", "gauge", "bargauge", "table"))


def test_every_query_reads_only_metrics_the_code_exports() -> None:
    exported = exported_metric_names()
    unknown = {q.id: sorted(metric_names(q.promql) - exported) for q in panel_queries()}
    assert {k: v for k, v in unknown.items() if v} == {}
    assert all(metric_names(q.promql) for q in panel_queries()), "every query reads a metric"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression (as a recording rule), so a typo fails here, not in Grafana."""
    promtool = binary("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: run `python -m deploy.local.prometheus install` (part of `make stack`)")
    queries = panel_queries()
    rules = [{"record": f"dashboard:query_{i}", "expr": q.promql} for i, q in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout
