"""The one rule of who oversees which area: the row check and the SQL filter agree, role by role."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql

from shared.auth import Principal, Role
from shared.scope import Remit, area_filter, oversees, remit

PLACE = {"district_id": "D1", "street_id": "S1", "grid_id": "G1"}

places = Table(
    "places",
    MetaData(),
    Column("district_id", String),
    Column("street_id", String),
    Column("grid_id", String),
)


def _sql(principal: Principal, *, with_grid: bool = True) -> str:
    where = area_filter(
        principal,
        district=places.c.district_id,
        street=places.c.street_id,
        grid=places.c.grid_id if with_grid else None,
    )
    query = select(places).where(where)
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (Principal(role=Role.ADMIN), Remit("all")),
        (Principal(role=Role.DISTRICT, scope="D1"), Remit("district", "D1")),
        (Principal(role=Role.TASK_FORCE, scope="S1"), Remit("street", "S1")),
        (Principal(role=Role.GRID_WORKER, sub="w1", scope="G1"), Remit("grid", "G1")),
        (Principal(role=Role.UNIT, sub="U1"), None),
    ],
)
def test_each_role_has_one_remit(principal: Principal, expected: Remit | None) -> None:
    assert remit(principal) == expected


def test_a_remit_names_what_it_covers() -> None:
    assert Remit("all").name == "all"
    assert Remit("street", "S1").name == "street:S1"


@pytest.mark.parametrize(
    ("principal", "sees_place", "sql_has"),
    [
        (Principal(role=Role.ADMIN), True, "true"),
        (Principal(role=Role.DISTRICT, scope="D1"), True, "places.district_id = 'D1'"),
        (Principal(role=Role.DISTRICT, scope="D2"), False, "places.district_id = 'D2'"),
        (Principal(role=Role.TASK_FORCE, scope="S1"), True, "places.street_id = 'S1'"),
        (Principal(role=Role.TASK_FORCE, scope="S9"), False, "places.street_id = 'S9'"),
        (Principal(role=Role.GRID_WORKER, sub="w", scope="G1"), True, "places.grid_id = 'G1'"),
        (Principal(role=Role.GRID_WORKER, sub="w", scope="G2"), False, "places.grid_id = 'G2'"),
        (Principal(role=Role.UNIT, sub="G1"), False, "false"),
    ],
)
def test_the_row_check_and_the_filter_say_the_same(principal: Principal, sees_place: bool, sql_has: str) -> None:
    assert oversees(principal, **PLACE) is sees_place
    assert sql_has in _sql(principal)


def test_a_level_the_place_has_not_is_seen_only_from_above() -> None:
    """A district flag has no street: the district and the admin see it, a task force does not."""
    assert oversees(Principal(role=Role.DISTRICT, scope="D1"), district_id="D1")
    assert oversees(Principal(role=Role.ADMIN), district_id="D1")
    assert not oversees(Principal(role=Role.TASK_FORCE, scope="S1"), district_id="D1")
    # A table without a grid column shows a grid worker nothing (it is not the grid worker's to oversee).
    assert "false" in _sql(Principal(role=Role.GRID_WORKER, sub="w", scope="G1"), with_grid=False)
    assert not oversees(Principal(role=Role.GRID_WORKER, sub="w", scope="G1"), district_id="D1", street_id="S1")
