"""The registry of units (heating companies, property managers, task forces …) and the places each serves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import texts
from services.dispatch.models import Unit, UnitCoverage
from shared.contracts.common import UnitType
from shared.db import forget
from shared.errors import Invalid


async def load_units(session: AsyncSession, *, units: list[dict[str, Any]]) -> int:
    """Upsert units and replace their coverage, in a few statements however many units come (a district's
    thousands of property managers). Idempotent: loading the same file twice changes nothing. A place served by two
    units of one type is refused (422): routing must find exactly one."""
    latest = {item["id"]: item for item in units}  # a unit listed twice: its last entry counts
    covered: dict[tuple[str, str, str], str] = {}  # (unit type, scope kind, scope id) → unit id
    for item in latest.values():
        for scope_kind, scope_ids in item.get("covers", {}).items():
            for scope_id in scope_ids:
                key = (UnitType(item["type"]).value, scope_kind, scope_id)
                if covered.setdefault(key, item["id"]) != item["id"]:
                    raise _coverage_conflict(key, covered[key], item["id"])
    others = select(UnitCoverage).where(UnitCoverage.unit_id.not_in(list(latest)))
    for cov in (await session.scalars(others)).all():
        key = (cov.unit_type, cov.scope_kind, cov.scope_id)
        if key in covered:
            raise _coverage_conflict(key, cov.unit_id, covered[key])
    rows = [
        {"id": i, "type": UnitType(u["type"]).value, "name": u["name"], "district_id": u["district_id"]}
        for i, u in latest.items()
    ]
    for chunk in _chunks(rows):
        upsert = insert(Unit).values(chunk)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[Unit.id],
                set_={column: upsert.excluded[column] for column in ("type", "name", "district_id")},
            )
        )
    for ids in _chunks(list(latest)):
        await session.execute(delete(UnitCoverage).where(UnitCoverage.unit_id.in_(ids)))
    coverage = [{"unit_type": t, "scope_kind": k, "scope_id": s, "unit_id": u} for (t, k, s), u in covered.items()]
    for chunk in _chunks(coverage):
        await session.execute(insert(UnitCoverage).values(chunk))
    forget(session)  # who covers what, as routing read it earlier in this transaction (``routing.find_assignee``)
    return len(units)


async def list_units(session: AsyncSession) -> list[Unit]:
    """The registry's units (id, type, name, district), by id: what a page needs to show a unit by its name."""
    return list((await session.scalars(select(Unit).order_by(Unit.id))).all())


def _chunks(items: list[Any], size: int = 5000) -> list[list[Any]]:
    # A statement takes at most 32,767 parameters: 5,000 rows of four columns stay below it.
    return [items[i : i + size] for i in range(0, len(items), size)]


def _coverage_conflict(key: tuple[str, str, str], one: str, other: str) -> Invalid:
    unit_type, scope_kind, scope_id = key
    return Invalid(
        "coverage_conflict",
        texts.COVERAGE_CONFLICT.format(kind=scope_kind, id=scope_id, type=unit_type, one=one, other=other),
        "units",
    )
