"""Dispatch metrics. Labels are bounded sets: district, category, tier, unit type, level, reason — never a
case id, a household or free text. The per-unit gauges use unit ids: a registry of at most a few hundred
units, not user input."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from services.dispatch.domain import ReturnReason
from services.dispatch.states import ExtensionStatus
from shared.contracts.common import Category, Tier, UnitType
from shared.contracts.dispatch import EscalationLevel
from shared.contracts.followup import ReopenReason
from shared.states import values

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
OPERATIONS = Counter(
    "dispatch_hotline_operations_total", "12345 operations applied to cases (撤单/补充诉求/催单)", ["district", "kind"]
)
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
TIME_TO_CLOSE = Histogram(
    "dispatch_time_to_close_seconds",
    "From the case opening to its closing after the return visit",
    ["category"],
    buckets=(3600, 14400, 43200, 86400, 172800, 259200, 345600, 604800, 1209600),
)
OPEN_CASES = Gauge("dispatch_open_cases", "Cases not yet closed, by status and tier", ["status", "tier"])
OVERDUE_ASSIGNMENTS = Gauge(
    "dispatch_overdue_assignments", "Open assignments past a deadline", ["unit_id", "unit_type"]
)
PAST_SUPERVISION = Gauge(
    "dispatch_assignments_past_supervision",
    "Open assignments whose clock is still running after its last escalation step (督办) fired",
    ["unit_id", "unit_type"],
)

# The on-time counters and the time histograms exist at zero for every unit type from the start, so the SLA
# ratios and their alert see the first late sign-in as an increase instead of a series appearing at 1.
for _unit_type in UnitType:
    for _on_time in ("true", "false"):
        SIGNED_IN.labels(_unit_type.value, _on_time)
        RESOLVED.labels(_unit_type.value, _on_time)
    for _histogram in (TIME_TO_SIGN_IN, TIME_TO_ON_SITE, TIME_TO_RESOLVE):
        _histogram.labels(_unit_type.value)

# Console sign-in: outcomes (ok, failed, locked) and lockouts begun, by what was locked (account or address).
LOGINS = Counter("dispatch_logins_total", "Console sign-in attempts by outcome", ["outcome"])
LOGIN_LOCKOUTS = Counter("dispatch_login_lockouts_total", "Sign-in lockouts begun", ["kind"])
LOGIN_REFUSED_LOCKED = Counter("dispatch_login_throttled_total", "Sign-ins refused with 429 during a lockout", ["kind"])
TOKENS_REVOKED = Counter("dispatch_account_tokens_revoked_total", "Token versions bumped", ["reason"])
for _outcome in ("ok", "failed", "locked", "busy"):
    LOGINS.labels(_outcome)
for _kind in ("account", "address"):
    LOGIN_LOCKOUTS.labels(_kind)
    LOGIN_REFUSED_LOCKED.labels(_kind)
for _reason in ("deactivated", "password", "identity"):
    TOKENS_REVOKED.labels(_reason)


EXTENSION_DECISIONS = values(set(ExtensionStatus) - {ExtensionStatus.PENDING})


def prime_districts(districts: Iterable[str]) -> None:
    """The district-labelled counters exist at zero for every district of the registry.

    ``increase()`` cannot see the first event of a series that appears at 1: without this, the first case of
    each district and category after a restart would be missing from every dashboard total. Cheap to repeat.
    """
    unit_types = [t.value for t in UnitType]
    for district in districts:
        for category in Category:
            CLOSED.labels(district, category.value)
            for tier in Tier:
                CASES_OPENED.labels(district, category.value, tier.value)
        for reason in ReopenReason:
            REOPENED.labels(district, reason.value)
        ESCALATIONS.labels(district, "case", EscalationLevel.SUPERVISION.value)  # 退单/重办 limits reached
        for unit_type in unit_types:
            ASSIGNMENTS.labels(district, unit_type)
            for level in EscalationLevel:
                ESCALATIONS.labels(district, unit_type, level.value)
            for return_reason in ReturnReason:
                RETURNS.labels(district, unit_type, return_reason.value)
            for decision in EXTENSION_DECISIONS:
                EXTENSIONS.labels(district, unit_type, decision)
