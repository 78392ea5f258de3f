"""The registry: geography (district … compound), heat network (substations), buildings, households and sensors.
Loaded through the admin API; every report is placed and enriched from it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.base import NO_VALUE

from services.intake import texts
from services.intake.models import Area, Building, Household, Sensor
from services.intake.schemas import RegistryIn
from shared.contracts.common import Location, place_label
from shared.errors import Invalid


async def load_registry(session: AsyncSession, *, registry: RegistryIn) -> dict[str, int]:
    """Upsert areas, buildings, households and sensors. Idempotent."""
    for area in registry.areas:
        await session.execute(
            insert(Area)
            .values(**area.model_dump())
            .on_conflict_do_update(
                index_elements=[Area.id], set_={"kind": area.kind, "name": area.name, "parent_id": area.parent_id}
            )
        )
    await session.flush()
    parents = {a.id: a for a in (await session.scalars(select(Area))).all()}
    for b in registry.buildings:
        community = parents[b.compound_id].parent_id if b.compound_id in parents else None
        street = parents[community].parent_id if community in parents else None
        district = parents[street].parent_id if street in parents else None
        if community is None or street is None or district is None:
            raise Invalid("registry_incomplete", texts.REGISTRY_INCOMPLETE.format(id=b.id), "buildings")
        if b.grid_id not in parents or (b.substation_id is not None and b.substation_id not in parents):
            raise Invalid("unknown_area", texts.BUILDING_AREA_UNKNOWN.format(id=b.id), "buildings")
        values = b.model_dump() | {"community_id": community, "street_id": street, "district_id": district}
        await session.execute(
            insert(Building).values(**values).on_conflict_do_update(index_elements=[Building.id], set_=values)
        )
    # A household of a building that is neither in this load nor already known would fail its foreign key.
    buildings = set((await session.scalars(select(Building.id))).all()) if registry.households else set()
    for h in registry.households:
        if h.building_id not in buildings:
            raise Invalid("unknown_building", texts.HOUSEHOLD_BUILDING_UNKNOWN.format(id=h.id), "households")
        values = h.model_dump()
        await session.execute(
            insert(Household).values(**values).on_conflict_do_update(index_elements=[Household.id], set_=values)
        )
    await session.flush()
    if registry.sensors:
        known = set(
            (
                await session.scalars(
                    select(Household.id).where(Household.id.in_({s.household_id for s in registry.sensors}))
                )
            ).all()
        )
        for s in registry.sensors:
            if s.household_id not in known:
                raise Invalid("unknown_household", texts.SENSOR_HOUSEHOLD_UNKNOWN.format(id=s.id), "sensors")
            await session.execute(
                insert(Sensor)
                .values(id=s.id, household_id=s.household_id)
                .on_conflict_do_update(index_elements=[Sensor.id], set_={"household_id": s.household_id})
            )
    return {
        "areas": len(registry.areas),
        "buildings": len(registry.buildings),
        "households": len(registry.households),
        "sensors": len(registry.sensors),
    }


async def area_and_parents(session: AsyncSession, *, area_id: str) -> list[str]:
    """The area and every area above it (grid → community → street → district); empty for an unknown id."""
    chain: list[str] = []
    current: str | None = area_id
    while current is not None and current not in chain:
        parent = (await session.execute(select(Area.parent_id).where(Area.id == current))).first()
        if parent is None:
            break
        chain.append(current)
        current = parent[0]
    return chain


async def resident(session: AsyncSession, *, household_id: str | None) -> Household | None:
    """The household whose resident a report is about (None for a building-wide report)."""
    return await session.get(Household, household_id) if household_id else None


async def places_of_grid(session: AsyncSession, *, grid_id: str) -> list[dict[str, Any]]:
    """The buildings of a grid and their households, as people name them (小区 · 楼栋 · 单元 · 室), in that order:
    what a grid worker picks a place from. Never a resident's name or number."""
    compound = aliased(Area)
    rows = (
        await session.execute(
            select(Building, compound.name)
            .join(compound, compound.id == Building.compound_id)
            .where(Building.grid_id == grid_id)
            .order_by(compound.name, Building.name)
        )
    ).all()
    buildings = {b.id: (b, compound_name) for b, compound_name in rows}
    households = (
        await session.scalars(select(Household).where(Household.building_id.in_(list(buildings))))
        if buildings
        else None
    )
    by_building: dict[str, list[Household]] = {}
    for h in households.all() if households is not None else []:
        by_building.setdefault(h.building_id, []).append(h)
    out: list[dict[str, Any]] = []
    for b, compound_name in buildings.values():
        common = {"building_id": b.id, "compound_id": b.compound_id, "compound": compound_name, "building": b.name}
        out.append(
            common
            | {
                "household_id": None,
                "unit_no": None,
                "room": None,
                "priority_resident": False,
                "label": place_label(compound_name, b.name),
            }
        )
        for h in sorted(by_building.get(b.id, []), key=lambda h: (_natural(h.unit_no), _natural(h.room))):
            out.append(
                common
                | {
                    "household_id": h.id,
                    "unit_no": h.unit_no,
                    "room": h.room,
                    "priority_resident": bool(h.priority_group),
                    "label": place_label(compound_name, b.name, h.unit_no, h.room),
                }
            )
    return out


def _natural(text: str) -> tuple[int, str]:
    """Rooms in the order of their numbers (2 before 10); names without a number after."""
    digits = "".join(c for c in text if c.isascii() and c.isdigit())
    return (int(digits) if digits else 1 << 30, text)


# -- the registry's answers: where a report is ------------------------------------------------------------------


# Built once: building the select (the joins, the eager option) cost more CPU than running it, per report.
_HOUSEHOLD_PLACE = (
    select(Household, Building)
    .join(Building, Building.id == Household.building_id)
    .outerjoin(Building.compound)
    .options(contains_eager(Building.compound))
    .where(Household.id == bindparam("household_id"))
)


async def place(
    session: AsyncSession, household_id: str | None, building_id: str | None
) -> tuple[Building, Household | None]:
    """The registry entries a report names. Unknown ids are the caller's error, never a guess. The building's
    compound is read in the same statement, so ``location_of`` finds it in the session without another."""
    if household_id:
        row = (await session.execute(_HOUSEHOLD_PLACE, {"household_id": household_id})).first()
        if row is None:
            raise Invalid("unknown_household", texts.HOUSEHOLD_UNKNOWN, "household_id")
        household, building = row
        if building_id and building_id != household.building_id:
            raise Invalid("household_not_in_building", texts.HOUSEHOLD_NOT_IN_BUILDING, "building_id")
        return building, household
    if not building_id:
        raise Invalid("missing_place", texts.NEED_PLACE, "household_id")
    found = await session.get(Building, building_id)
    if found is None:
        raise Invalid("unknown_building", texts.BUILDING_UNKNOWN, "building_id")
    return found, None


async def location_of(session: AsyncSession, building: Building, household: Household | None) -> Location:
    joined = inspect(building).attrs.compound.loaded_value  # read with the building by ``place``
    compound = joined if joined is not NO_VALUE else await session.get(Area, building.compound_id)
    return Location(
        place_name=place_label(
            compound.name if compound else "",
            building.name,
            household.unit_no if household else None,
            household.room if household else None,
        ),
        district_id=building.district_id,
        street_id=building.street_id,
        community_id=building.community_id,
        grid_id=building.grid_id,
        compound_id=building.compound_id,
        building_id=building.id,
        household_id=household.id if household else None,
        substation_id=building.substation_id,
    )
