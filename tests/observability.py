"""What the dashboard and alert tests share: the dashboards' queries, the alert rules, Grafana's macros, and the
metric names a PromQL expression reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
PROVISIONING_DIR = REPO / "deploy" / "grafana" / "provisioning"
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
RULE_TESTS_DIR = REPO / "deploy" / "prometheus" / "tests"

# Grafana's macros, as the tests evaluate them: a rate window that spans a whole test run, an hour of "range".
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}

CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # uid
    panel: str  # title
    ref_id: str
    expr: str  # as written in the dashboard, with Grafana's macros

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref_id}"

    @property
    def promql(self) -> str:
        return promql(self.expr)


@dataclass(frozen=True)
class AlertRule:
    file: str
    group: str
    name: str
    expr: str
    rule: dict[str, Any]


def promql(expr: str) -> str:
    """A dashboard expression with Grafana's macros replaced, as Prometheus can evaluate it."""
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


@cache
def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard file, by file name (without .json)."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows included; the panels of a collapsed row too."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(d["uid"], p["title"], t["refId"], t["expr"])
        for d in dashboards().values()
        for p in panels(d)
        if p.get("type") != "row"
        for t in p.get("targets", [])
    ]


@cache
def rule_files() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(RULES_DIR.glob("*.yml"))}


def alert_rules() -> list[AlertRule]:
    return [
        AlertRule(name, group["name"], rule["alert"], rule["expr"], rule)
        for name, doc in rule_files().items()
        for group in doc["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


# -- metric names in PromQL ----------------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS |= {"inf", "nan", "Inf", "NaN"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (everything that is not a function, keyword or label)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    return {m.group(1) for m in _IDENT.finditer(text) if m.group(2) is None and m.group(1) not in _KEYWORDS}


@cache
def exported_metric_names() -> frozenset[str]:
    """Every sample name the services can export: their metric modules, the shared plumbing, faststream's
    Prometheus middleware, and Prometheus's own ``up``."""
    import importlib

    from faststream.prometheus.container import MetricsContainer
    from prometheus_client import REGISTRY, CollectorRegistry

    for module in (
        "shared.metrics",
        "shared.timers",
        "services.intake.metrics",
        "services.dispatch.metrics",
        "services.dispatch.notify.metrics",
        "services.followup.metrics",
    ):
        importlib.import_module(module)
    faststream = CollectorRegistry()
    MetricsContainer(faststream, custom_label_names=[])
    names = {"up"}
    for registry in (REGISTRY, faststream):
        for family in registry.collect():
            suffixes = {
                "counter": ("_total",),
                "gauge": ("",),
                "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("", "_count", "_sum"),
                "info": ("_info",),
            }.get(family.type, ("",))
            names |= {family.name + s for s in suffixes}
    return frozenset(names)
