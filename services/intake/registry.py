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
        values = b.model_dump() | {"community_id": community, "street_id": street, "district_id": district}
        await session.execute(
            insert(Building).values(**values).on_conflict_do_update(index_elements=[Building.id], set_=values)
        )
    for h in registry.households:
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
