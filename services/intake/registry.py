"""The registry: geography (district … compound), heat network (substations), buildings, households and sensors.
Loaded through the admin API; every report is placed and enriched from it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import messages
from services.intake.models import Area, Building, Household, Sensor
from services.intake.schemas import RegistryIn
from shared.errors import ApiError


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
            raise ApiError(422, "registry_incomplete", messages.REGISTRY_INCOMPLETE.format(id=b.id), "buildings")
        if b.grid_id not in parents or (b.substation_id is not None and b.substation_id not in parents):
            raise ApiError(422, "unknown_area", messages.BUILDING_AREA_UNKNOWN.format(id=b.id), "buildings")
        values = b.model_dump() | {"community_id": community, "street_id": street, "district_id": district}
        await session.execute(
            insert(Building).values(**values).on_conflict_do_update(index_elements=[Building.id], set_=values)
        )
    # A household of a building that is neither in this load nor already known would fail its foreign key.
    buildings = set((await session.scalars(select(Building.id))).all()) if registry.households else set()
    for h in registry.households:
        if h.building_id not in buildings:
            raise ApiError(422, "unknown_building", messages.HOUSEHOLD_BUILDING_UNKNOWN.format(id=h.id), "households")
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
                raise ApiError(422, "unknown_household", messages.SENSOR_HOUSEHOLD_UNKNOWN.format(id=s.id), "sensors")
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
