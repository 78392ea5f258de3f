"""Dispatch metrics. Labels are bounded sets: district, category, tier, unit type, level, reason — never a
case id, a household or free text. The per-unit overdue gauge uses unit ids: a registry of at most a few
hundred units, not user input."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_TIME_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600)

CASES_OPENED = Counter("dispatch_cases_opened_total", "Cases opened", ["district", "category", "tier"])
ASSIGNMENTS = Counter("dispatch_assignments_total", "Assignments made (派单)", ["district", "unit_type"])
SIGNED_IN = Counter("dispatch_signed_in_total", "Assignments signed in (签收)", ["unit_type", "on_time"])
RESOLVED = Counter("dispatch_resolved_total", "Assignments resolved by the unit", ["unit_type", "on_time"])
ESCALATIONS = Counter(
    "dispatch_escalations_total", "Escalation steps (催办/通报/督办)", ["district", "unit_type", "level"]
)
RETURNS = Counter("dispatch_returns_total", "Assignments returned (退单)", ["district", "unit_type", "reason"])
EXTENSIONS = Counter("dispatch_extensions_total", "Extension decisions (延期)", ["district", "unit_type", "decision"])
REOPENED = Counter("dispatch_cases_reopened_total", "Rounds started again (发回重办)", ["district", "reason"])
CLOSED = Counter("dispatch_cases_closed_total", "Cases closed after the return visit", ["district", "category"])
TIME_TO_SIGN_IN = Histogram(
    "dispatch_time_to_sign_in_seconds", "From dispatch to sign-in", ["unit_type"], buckets=_TIME_BUCKETS
)
TIME_TO_ON_SITE = Histogram(
    "dispatch_time_to_on_site_seconds", "From dispatch to arrival on site", ["unit_type"], buckets=_TIME_BUCKETS
)
TIME_TO_RESOLVE = Histogram(
    "dispatch_time_to_resolve_seconds",
    "From dispatch to the unit's resolution",
    ["unit_type"],
    buckets=_TIME_BUCKETS,
)
OPEN_CASES = Gauge("dispatch_open_cases", "Cases not yet closed, by status and tier", ["status", "tier"])
OVERDUE_ASSIGNMENTS = Gauge(
    "dispatch_overdue_assignments", "Open assignments past a deadline", ["unit_id", "unit_type"]
)
