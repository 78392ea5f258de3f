"""Pure dispatch rules: tiering, routing, SLA clocks, the escalation chain. No I/O, no framework.

The rules are data (``Rules``, loaded from rules.yaml or a stored rule set); the functions here apply them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.dispatch.workdays import WorkCalendar, WorkingHours
from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import EscalationLevel

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.yaml")


class Clock(StrEnum):
    SIGN_IN = "sign_in"
    ON_SITE = "on_site"
    RESOLVE = "resolve"


class ClockUnit(StrEnum):
    """What a clock's numbers count: minutes around the clock, or working time on China's calendar (``workdays``)."""

    MINUTES = "minutes"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


class SlaClocks(BaseModel):
    """A category's clocks for a normal-priority case, all three in one unit (minutes when none is named)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: ClockUnit = ClockUnit.MINUTES
    sign_in: float = Field(gt=0)
    on_site: float = Field(gt=0)
    resolve: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SlaClocks:
        if not self.sign_in <= self.on_site <= self.resolve:
            raise ValueError("clocks must satisfy sign_in <= on_site <= resolve")
        return self

    def length(self, amount: float, working_day: timedelta) -> timedelta:
        """``amount`` of this entry's unit as a length: real time for minutes, working time otherwise."""
        if self.unit is ClockUnit.WORKING_DAYS:
            return working_day * amount
        return timedelta(hours=amount) if self.unit is ClockUnit.WORKING_HOURS else timedelta(minutes=amount)


class EscalationRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notice_after: float = Field(ge=0, description="Fraction of the clock's length after its deadline.")
    supervision_after: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationRules:
        if self.supervision_after < self.notice_after:
            raise ValueError("supervision must not come before notice")
        return self


class Rules(BaseModel):
    """One version of the dispatch rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version_note: str = Field(default="", max_length=300)
    tiers: dict[Category, Tier] = Field(default_factory=dict)
    routes: dict[Category, list[UnitType]] = Field(default_factory=dict)
    sla: dict[str, SlaClocks]
    priority_factor: dict[Priority, float]
    priority_resident_factor: float = Field(gt=0, le=1)
    cold_snap_factor: float = Field(gt=0, le=1)
    escalation: EscalationRules
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    bounce_limit: int = Field(ge=1)
    redo_limit: int = Field(ge=1)
    hurry_limit: int = Field(default=3, ge=1, description="催单 on a case that put it under district supervision.")
    household_priority: dict[Priority, int] = Field(
        default_factory=lambda: {Priority.URGENT: 5, Priority.EMERGENCY: 20},
        description="From how many affected households an incident's case is at least this priority (rule sets "
        "stored before it existed get the default).",
    )

    @model_validator(mode="after")
    def _complete(self) -> Rules:
        if "default" not in self.sla:
            raise ValueError("sla needs a 'default' entry")
        unknown = set(self.sla) - {"default"} - {c.value for c in Category}
        if unknown:
            raise ValueError(f"sla names unknown categories: {sorted(unknown)}")
        if set(self.priority_factor) != set(Priority):
            raise ValueError("priority_factor needs emergency, urgent and normal")
        if any(not 0 < f <= 1 for f in self.priority_factor.values()):
            raise ValueError("priority factors must be in (0, 1]")
        if any(n < 1 for n in self.household_priority.values()):
            raise ValueError("household_priority thresholds must be at least 1")
        urgent, emergency = (self.household_priority.get(p) for p in (Priority.URGENT, Priority.EMERGENCY))
        if urgent is not None and emergency is not None and emergency < urgent:
            raise ValueError("household_priority: emergency must not need fewer households than urgent")
        return self


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    return Rules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def tier_for(rules: Rules, category: Category) -> Tier:
    return rules.tiers.get(category, Tier.TECHNICAL)


def unit_types_for(rules: Rules, category: Category, tier: Tier) -> tuple[UnitType, ...]:
    """Who is convened: the grid for a minor case, the task force for a complex one, the category's units
    for a technical one (the task force when the rules name none)."""
    if tier is Tier.MINOR:
        return (UnitType.GRID,)
    if tier is Tier.COMPLEX:
        return (UnitType.STREET_TASK_FORCE,)
    return tuple(rules.routes.get(category, ())) or (UnitType.STREET_TASK_FORCE,)


def coverage_key(unit_type: UnitType, location: Location) -> tuple[str, str] | None:
    """Which registry node decides the unit instance of a type: substation, compound, district, street or grid."""
    if unit_type is UnitType.HEATING_COMPANY:
        return ("substation", location.substation_id) if location.substation_id else None
    if unit_type is UnitType.PROPERTY_MANAGER:
        return ("compound", location.compound_id)
    if unit_type in (UnitType.HOUSING_BUREAU, UnitType.WATER_COMPANY):
        return ("district", location.district_id)
    if unit_type is UnitType.GRID:
        return ("grid", location.grid_id)
    return ("street", location.street_id)


@dataclass(frozen=True, slots=True)
class Sla:
    """An assignment's clock lengths: around the clock, or (``working``) working time on the calendar."""

    sign_in: timedelta
    on_site: timedelta
    resolve: timedelta
    working: bool = False

    def length(self, clock: Clock) -> timedelta:
        return {Clock.SIGN_IN: self.sign_in, Clock.ON_SITE: self.on_site, Clock.RESOLVE: self.resolve}[clock]

    def deadlines(self, start: datetime, calendar: WorkCalendar) -> dict[Clock, datetime]:
        return {clock: later(start, self.length(clock), working=self.working, calendar=calendar) for clock in Clock}


def later(start: datetime, length: timedelta, *, working: bool, calendar: WorkCalendar) -> datetime:
    """``start`` plus ``length``: of working time on ``calendar`` for a working clock, else around the clock."""
    return calendar.add(start, length) if working else start + length


def sla_for(
    rules: Rules, category: Category, priority: Priority, *, priority_resident: bool = False, cold_snap: bool = False
) -> Sla:
    """A case's clocks: its category's (else the default's), shortened by the factors. A working-day clock shortened
    below a day becomes that share of a day's office hours (1 working day × 0.75 = 6 working hours)."""
    base = rules.sla.get(category.value, rules.sla["default"])
    factor = rules.priority_factor[priority]
    if priority_resident:
        factor *= rules.priority_resident_factor
    if cold_snap:
        factor *= rules.cold_snap_factor
    day = rules.working_hours.length
    return Sla(
        base.length(base.sign_in * factor, day),
        base.length(base.on_site * factor, day),
        base.length(base.resolve * factor, day),
        working=base.unit is not ClockUnit.MINUTES,
    )


CHAIN = (EscalationLevel.REMINDER, EscalationLevel.NOTICE, EscalationLevel.SUPERVISION)


def next_escalation(
    rules: Rules,
    level: EscalationLevel,
    deadline: datetime,
    length: timedelta,
    *,
    working: bool = False,
    calendar: WorkCalendar,
) -> tuple[EscalationLevel, datetime] | None:
    """After ``level`` fired for a clock of ``length`` due at ``deadline``: the next step and when, or None. The
    offsets run on the clock's own calendar: a working-day clock's 通报 and 督办 skip nights, weekends and holidays."""
    if level is EscalationLevel.REMINDER:
        step, after = EscalationLevel.NOTICE, rules.escalation.notice_after
    elif level is EscalationLevel.NOTICE:
        step, after = EscalationLevel.SUPERVISION, rules.escalation.supervision_after
    else:
        return None
    return step, later(deadline, length * after, working=working, calendar=calendar)


def raise_priority(priority: Priority) -> Priority:
    """A redo (发回重办) is more urgent than the round that failed: normal → urgent, urgent → emergency."""
    return Priority.URGENT if priority is Priority.NORMAL else Priority.EMERGENCY


_RANK = {Priority.NORMAL: 0, Priority.URGENT: 1, Priority.EMERGENCY: 2}


def priority_for_households(rules: Rules, priority: Priority, households: int) -> Priority:
    """An incident's priority once it affects ``households`` (``household_priority``: default ≥ 5 urgent, ≥ 20
    emergency). Only ever raises: a case already more urgent keeps its priority."""
    reached = [p for p, least in rules.household_priority.items() if households >= least]
    return max([priority, *reached], key=_RANK.__getitem__)


class ReturnReason(StrEnum):
    """退单 reason codes."""

    NOT_OUR_AREA = "not_our_area"  # 非本单位辖区
    NOT_OUR_EQUIPMENT = "not_our_equipment"  # 非本单位设施
    RESIDENT_ABSENT = "resident_absent"  # 居民不在家
    DUPLICATE = "duplicate"  # 重复派单
    OTHER = "other"
