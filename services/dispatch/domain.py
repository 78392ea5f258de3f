"""Pure dispatch rules: tiering, routing to unit types and instances, SLA clocks. No I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts.common import Category, Location, Priority, Tier, UnitType

# Which unit types a category convenes (联处 when more than one), and which tier it starts in.
ROUTES: dict[Category, tuple[UnitType, ...]] = {
    Category.COLD_ROOM: (UnitType.HEATING_COMPANY,),
    Category.LEAK: (UnitType.PROPERTY_MANAGER,),
    Category.BURST_PIPE: (UnitType.HEATING_COMPANY, UnitType.PROPERTY_MANAGER),
    Category.OUTAGE: (UnitType.HEATING_COMPANY,),
    Category.CLOGGED_FILTER: (UnitType.HEATING_COMPANY,),
    Category.AIR_LOCK: (UnitType.HEATING_COMPANY,),
    Category.UNDERFLOOR_IMBALANCE: (UnitType.HEATING_COMPANY,),
    Category.ICE_HAZARD: (UnitType.PROPERTY_MANAGER, UnitType.HOUSING_BUREAU),
    Category.METERING_RETROFIT: (UnitType.STREET_TASK_FORCE,),
    Category.FEE_DISPUTE: (UnitType.STREET_TASK_FORCE,),
    Category.SUBSIDY_QUESTION: (UnitType.STREET_TASK_FORCE,),
    Category.OTHER: (UnitType.STREET_TASK_FORCE,),
}

TIERS: dict[Category, Tier] = {
    Category.SUBSIDY_QUESTION: Tier.MINOR,
    Category.METERING_RETROFIT: Tier.COMPLEX,
    Category.FEE_DISPUTE: Tier.COMPLEX,
    Category.OTHER: Tier.COMPLEX,
}


def tier_for(category: Category) -> Tier:
    return TIERS.get(category, Tier.TECHNICAL)


def unit_types_for(category: Category) -> tuple[UnitType, ...]:
    return ROUTES.get(category, (UnitType.STREET_TASK_FORCE,))


def coverage_key(unit_type: UnitType, location: Location) -> tuple[str, str] | None:
    """Which registry node decides the unit instance of a type: substation, compound, district or street."""
    if unit_type is UnitType.HEATING_COMPANY:
        return ("substation", location.substation_id) if location.substation_id else None
    if unit_type is UnitType.PROPERTY_MANAGER:
        return ("compound", location.compound_id)
    if unit_type in (UnitType.HOUSING_BUREAU, UnitType.WATER_COMPANY):
        return ("district", location.district_id)
    return ("street", location.street_id)


@dataclass(frozen=True, slots=True)
class Sla:
    sign_in: timedelta
    on_site: timedelta
    resolve: timedelta

    def deadlines(self, start: datetime) -> tuple[datetime, datetime, datetime]:
        return start + self.sign_in, start + self.on_site, start + self.resolve


def _sla(sign_in_min: float, on_site_min: float, resolve_h: float) -> Sla:
    return Sla(timedelta(minutes=sign_in_min), timedelta(minutes=on_site_min), timedelta(hours=resolve_h))


# Defaults from public practice (DOMAIN.md): burst pipe 15 min / 1 h / 24 h; cold room 30 min, measured
# within 24 h (Lanzhou), fixed within 48 h; leaks on site within 1 h (Qingdao); outages repaired in 48 h.
DEFAULT_SLA: dict[Category, Sla] = {
    Category.BURST_PIPE: _sla(15, 60, 24),
    Category.ICE_HAZARD: _sla(15, 60, 24),
    Category.LEAK: _sla(30, 60, 24),
    Category.OUTAGE: _sla(15, 60, 48),
    Category.COLD_ROOM: _sla(30, 24 * 60, 48),
}
FALLBACK_SLA = _sla(60, 24 * 60, 72)
# Priority tightens every clock by this factor (an emergency cold room is not a normal one).
PRIORITY_FACTOR: dict[Priority, float] = {Priority.EMERGENCY: 0.5, Priority.URGENT: 0.75, Priority.NORMAL: 1.0}


def sla_for(category: Category, priority: Priority) -> Sla:
    base = DEFAULT_SLA.get(category, FALLBACK_SLA)
    f = PRIORITY_FACTOR[priority]
    return Sla(base.sign_in * f, base.on_site * f, base.resolve * f)


def raise_priority(priority: Priority) -> Priority:
    """A redo (发回重办) is more urgent than the round that failed."""
    return Priority.URGENT if priority is Priority.NORMAL else Priority.EMERGENCY
