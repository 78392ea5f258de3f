from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch import domain
from shared.contracts.common import Category, Location, Priority, Tier, UnitType

LOC = Location(
    district_id="D",
    street_id="S",
    community_id="C",
    grid_id="G",
    compound_id="CP",
    building_id="B",
    household_id="H",
    substation_id="SS",
)


def test_cold_room_goes_to_the_heating_company_of_the_substation() -> None:
    assert domain.unit_types_for(Category.COLD_ROOM) == (UnitType.HEATING_COMPANY,)
    assert domain.coverage_key(UnitType.HEATING_COMPANY, LOC) == ("substation", "SS")


def test_burst_pipe_is_a_joint_dispatch() -> None:
    assert set(domain.unit_types_for(Category.BURST_PIPE)) == {UnitType.HEATING_COMPANY, UnitType.PROPERTY_MANAGER}


@pytest.mark.parametrize(
    ("unit_type", "expected"),
    [
        (UnitType.PROPERTY_MANAGER, ("compound", "CP")),
        (UnitType.HOUSING_BUREAU, ("district", "D")),
        (UnitType.STREET_TASK_FORCE, ("street", "S")),
    ],
)
def test_each_unit_type_is_found_through_its_own_tree(unit_type: UnitType, expected: tuple[str, str]) -> None:
    assert domain.coverage_key(unit_type, LOC) == expected


def test_heating_company_without_substation_has_no_route() -> None:
    assert domain.coverage_key(UnitType.HEATING_COMPANY, LOC.model_copy(update={"substation_id": None})) is None


def test_tiers() -> None:
    assert domain.tier_for(Category.SUBSIDY_QUESTION) is Tier.MINOR
    assert domain.tier_for(Category.METERING_RETROFIT) is Tier.COMPLEX
    assert domain.tier_for(Category.COLD_ROOM) is Tier.TECHNICAL


def test_burst_pipe_sla_is_15_min_1_h_24_h() -> None:
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    sign_in, on_site, resolve = domain.sla_for(Category.BURST_PIPE, Priority.NORMAL).deadlines(start)
    assert (sign_in - start, on_site - start, resolve - start) == (
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=24),
    )


def test_cold_room_sla_and_priority_tightening() -> None:
    normal = domain.sla_for(Category.COLD_ROOM, Priority.NORMAL)
    assert (normal.sign_in, normal.on_site, normal.resolve) == (
        timedelta(minutes=30),
        timedelta(hours=24),
        timedelta(hours=48),
    )
    urgent = domain.sla_for(Category.COLD_ROOM, Priority.URGENT)
    assert urgent.sign_in < normal.sign_in and urgent.resolve < normal.resolve


def test_redo_raises_priority_up_to_emergency() -> None:
    assert domain.raise_priority(Priority.NORMAL) is Priority.URGENT
    assert domain.raise_priority(Priority.URGENT) is Priority.EMERGENCY
    assert domain.raise_priority(Priority.EMERGENCY) is Priority.EMERGENCY


def test_every_category_has_a_route() -> None:
    for category in Category:
        assert domain.unit_types_for(category), category
