"""Follow-up metrics. Labels are bounded sets: district, outcome, reason, level, unit type, and unit ids (a
registry of at most a few hundred units) — never a case, a household, a person or free text.

Counters move only when the transaction that recorded the fact commits (``shared.db.after_commit``), so a handler
retried after a rollback never counts twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from prometheus_client import Counter, Gauge, Summary
from sqlalchemy import func, select, true

from services.followup import assessment, domain, queries
from services.followup.config import FollowupSettings
from services.followup.models import SpotCheck, Visit
from services.followup.states import SpotCheckStatus, VisitStatus
from shared.clock import TimeSource
from shared.loops import poll_forever
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

VISITS_SCHEDULED = Counter("followup_visits_scheduled_total", "Return visits owed (回访)", ["district"])
VISITS_RECORDED = Counter(
    "followup_visits_recorded_total",
    "Return-visit attempts recorded, by outcome (closed, reopened, unreached, cancelled)",
    ["district", "outcome"],
)
UNREACHED = "unreached"  # the VISITS_RECORDED outcome of an attempt that missed the resident (the visit stays pending)
VISITS_OVERDUE = Counter(
    "followup_visits_overdue_total", "Return visits past their deadline, escalated to the community", ["district"]
)
VERDICTS = Counter(
    "followup_verdicts_total",
    "Rounds decided: closed (办结) or reopened (发回重办)",
    ["district", "verdict", "reason"],
)
SPOT_CHECKS_DRAWN = Counter("followup_spot_checks_drawn_total", "Closed cases drawn for the weekly check", ["district"])
SPOT_CHECKS_RECORDED = Counter(
    "followup_spot_checks_recorded_total", "Weekly spot-checks recorded, by result", ["district", "result"]
)
PENDING_VISITS = Gauge("followup_visits_pending", "Return visits not yet concluded", ["district", "overdue"])
PENDING_SPOT_CHECKS = Gauge("followup_spot_checks_pending", "Spot-checks drawn and not yet recorded", ["district"])

# The counters under the unit scorecard (考核): rates are ratios of these.
UNIT_ASSIGNMENTS = Counter("followup_unit_assignments_total", "Assignments made to a unit", ["unit_id", "unit_type"])
UNIT_SIGN_INS = Counter(
    "followup_unit_sign_ins_total", "Sign-ins (签收) of a unit, on time or late", ["unit_id", "unit_type", "on_time"]
)
UNIT_RESOLUTIONS = Counter(
    "followup_unit_resolutions_total", "Resolutions of a unit, on time or late", ["unit_id", "unit_type", "on_time"]
)
UNIT_ESCALATIONS = Counter(
    "followup_unit_escalations_total", "Escalation steps on a unit's clocks", ["unit_id", "unit_type", "level"]
)
UNIT_RETURNS = Counter("followup_unit_returns_total", "Assignments a unit handed back (退单)", ["unit_id", "unit_type"])
UNIT_ROUNDS = Counter(
    "followup_unit_rounds_total", "Rounds a unit fixed, by verdict (closed, reopened)", ["unit_id", "verdict"]
)
UNIT_VISITS = Counter(
    "followup_unit_visits_total",
    "Return visits of rounds a unit fixed, by answer and by whether every room met the standard",
    ["unit_id", "satisfaction", "compliant"],
)
UNIT_VISIT_TEMP = Summary(
    "followup_unit_visit_temp_celsius", "Mean room temperature of return visits of a unit's rounds", ["unit_id"]
)

# The 12345 hotline's assessment (``assessment``) of each unit over the last ``assessment_gauge_days`` local days,
# the same figures as GET /v1/assessment of that period: rates 0–1 by indicator, and the composite 0–100.
ASSESSMENT_RATE = Gauge(
    "followup_assessment_rate",
    "The 12345 assessment of a unit over the last FOLLOWUP_ASSESSMENT_GAUGE_DAYS days, by indicator (0-1)",
    ["unit_id", "unit_type", "indicator"],
)
ASSESSMENT_COMPOSITE = Gauge(
    "followup_assessment_composite",
    "The weighted composite of response, resolution and satisfaction rates of a unit, same days (0-100)",
    ["unit_id", "unit_type"],
)


async def refresh_gauges(
    runtime: ServiceRuntime, settings: FollowupSettings, clock: TimeSource, every: float = 10.0
) -> None:
    """Pending and overdue visits, pending spot-checks and the units' assessment, from the database (every replica
    reports the same)."""

    async def step() -> bool:
        await refresh_once(runtime, settings, clock)
        return False

    await poll_forever(step, name="gauges", service=runtime.settings.service_name, idle=every)


async def refresh_once(runtime: ServiceRuntime, settings: FollowupSettings, clock: TimeSource) -> None:
    assert runtime.sessions is not None
    now = clock.now()
    last = domain.local_day(now, settings.zone)
    since = domain.day_window(last - timedelta(days=settings.assessment_gauge_days - 1), settings.zone)[0]
    async with runtime.sessions() as session:
        cohort, rounds, visits_, _ = await queries.scorecard_facts(session, start=since, end=now, scope=true())
        hurries = await queries.hurries_of(session, sorted({a.case_id for a in cohort}))
        visits = (
            await session.execute(
                select(Visit.district_id, Visit.overdue_at.is_not(None), func.count())
                .where(Visit.status == VisitStatus.PENDING)
                .group_by(Visit.district_id, Visit.overdue_at.is_not(None))
            )
        ).all()
        checks = (
            await session.execute(
                select(SpotCheck.district_id, func.count())
                .where(SpotCheck.status == SpotCheckStatus.PENDING)
                .group_by(SpotCheck.district_id)
            )
        ).all()
    PENDING_VISITS.clear()
    for district, overdue, count in visits:
        PENDING_VISITS.labels(district, str(bool(overdue)).lower()).set(count)
    PENDING_SPOT_CHECKS.clear()
    for district, count in checks:
        PENDING_SPOT_CHECKS.labels(district).set(count)
    lines = assessment.compute(
        cohort, rounds, visits_, hurries, by=assessment.By.UNIT, as_of=now, weights=settings.assessment_weights
    )
    ASSESSMENT_RATE.clear()
    ASSESSMENT_COMPOSITE.clear()
    for line in lines:
        unit_type = line.unit_type or ""
        for indicator in assessment.RATES:
            value: float | None = getattr(line, indicator)
            if value is not None:
                ASSESSMENT_RATE.labels(line.key, unit_type, indicator).set(value)
        if line.composite is not None:
            ASSESSMENT_COMPOSITE.labels(line.key, unit_type).set(line.composite)
