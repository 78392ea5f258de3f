from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.dispatch import domain
from services.dispatch.domain import Clock, Rules, load_rules
from services.dispatch.workdays import CHINA, WorkCalendar
from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import EscalationLevel

RULES = load_rules()
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
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CALENDAR = WorkCalendar()


def route(category: Category) -> tuple[UnitType, ...]:
    return domain.unit_types_for(RULES, category, domain.tier_for(RULES, category))


def test_cold_room_goes_to_the_heating_company_of_the_substation() -> None:
    assert route(Category.COLD_ROOM) == (UnitType.HEATING_COMPANY,)
    assert domain.coverage_key(UnitType.HEATING_COMPANY, LOC) == ("substation", "SS")


def test_burst_pipe_is_a_joint_dispatch() -> None:
    assert set(route(Category.BURST_PIPE)) == {UnitType.HEATING_COMPANY, UnitType.PROPERTY_MANAGER}


@pytest.mark.parametrize(
    ("unit_type", "expected"),
    [
        (UnitType.PROPERTY_MANAGER, ("compound", "CP")),
        (UnitType.HOUSING_BUREAU, ("district", "D")),
        (UnitType.STREET_TASK_FORCE, ("street", "S")),
        (UnitType.GRID, ("grid", "G")),
    ],
)
def test_each_unit_type_is_found_through_its_own_tree(unit_type: UnitType, expected: tuple[str, str]) -> None:
    assert domain.coverage_key(unit_type, LOC) == expected


def test_heating_company_without_substation_has_no_route() -> None:
    assert domain.coverage_key(UnitType.HEATING_COMPANY, LOC.model_copy(update={"substation_id": None})) is None


def test_three_tiers_decide_who_is_convened() -> None:
    assert domain.tier_for(RULES, Category.SUBSIDY_QUESTION) is Tier.MINOR
    assert route(Category.SUBSIDY_QUESTION) == (UnitType.GRID,)
    assert domain.tier_for(RULES, Category.METERING_RETROFIT) is Tier.COMPLEX
    assert route(Category.METERING_RETROFIT) == (UnitType.STREET_TASK_FORCE,)
    assert domain.tier_for(RULES, Category.COLD_ROOM) is Tier.TECHNICAL


def test_a_technical_category_without_a_route_goes_to_the_task_force() -> None:
    bare = RULES.model_copy(update={"routes": {}})
    assert domain.unit_types_for(bare, Category.COLD_ROOM, Tier.TECHNICAL) == (UnitType.STREET_TASK_FORCE,)


def test_every_category_has_somebody() -> None:
    for category in Category:
        assert route(category), category


def test_burst_pipe_sla_is_15_min_1_h_24_h() -> None:
    due = domain.sla_for(RULES, Category.BURST_PIPE, Priority.NORMAL).deadlines(T0, CALENDAR)
    assert (due[Clock.SIGN_IN] - T0, due[Clock.ON_SITE] - T0, due[Clock.RESOLVE] - T0) == (
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=24),
    )


def test_cold_room_sla_measure_within_24_h_fix_within_48_h() -> None:
    sla = domain.sla_for(RULES, Category.COLD_ROOM, Priority.NORMAL)
    assert (sla.sign_in, sla.on_site, sla.resolve) == (timedelta(minutes=30), timedelta(hours=24), timedelta(hours=48))


def test_priority_priority_residents_and_cold_snaps_tighten_every_clock() -> None:
    normal = domain.sla_for(RULES, Category.COLD_ROOM, Priority.NORMAL)
    urgent = domain.sla_for(RULES, Category.COLD_ROOM, Priority.URGENT)
    resident = domain.sla_for(RULES, Category.COLD_ROOM, Priority.NORMAL, priority_resident=True)
    snap = domain.sla_for(RULES, Category.COLD_ROOM, Priority.NORMAL, cold_snap=True)
    both = domain.sla_for(RULES, Category.COLD_ROOM, Priority.URGENT, priority_resident=True, cold_snap=True)
    assert normal.sign_in == timedelta(minutes=30)
    assert urgent.sign_in == timedelta(minutes=22.5)
    assert resident.sign_in == timedelta(minutes=24)
    assert snap.sign_in == timedelta(minutes=15)
    assert both.resolve == timedelta(hours=48 * 0.75 * 0.8 * 0.5)


def test_unlisted_category_uses_the_default_clocks() -> None:
    assert domain.sla_for(RULES, Category.OTHER, Priority.NORMAL).resolve == timedelta(minutes=4320)


def test_escalation_chain_reminder_notice_supervision() -> None:
    length = timedelta(minutes=30)
    deadline = T0 + length
    notice = domain.next_escalation(RULES, EscalationLevel.REMINDER, deadline, length, calendar=CALENDAR)
    assert notice == (EscalationLevel.NOTICE, deadline + timedelta(minutes=15))
    supervision = domain.next_escalation(RULES, EscalationLevel.NOTICE, deadline, length, calendar=CALENDAR)
    assert supervision == (EscalationLevel.SUPERVISION, deadline + timedelta(minutes=30))
    assert domain.next_escalation(RULES, EscalationLevel.SUPERVISION, deadline, length, calendar=CALENDAR) is None


def test_non_urgent_categories_run_on_working_days_and_heating_emergencies_around_the_clock() -> None:
    fee = domain.sla_for(RULES, Category.FEE_DISPUTE, Priority.NORMAL)
    assert fee.working and (fee.sign_in, fee.resolve) == (timedelta(hours=8), timedelta(hours=8 * 15))
    for category in (Category.SUBSIDY_QUESTION, Category.METERING_RETROFIT):
        assert domain.sla_for(RULES, category, Priority.NORMAL).working, category
    for category in (Category.COLD_ROOM, Category.BURST_PIPE, Category.OUTAGE, Category.LEAK, Category.ICE_HAZARD):
        assert not domain.sla_for(RULES, category, Priority.EMERGENCY).working, category


def test_a_working_day_clock_shortened_by_priority_is_that_share_of_the_office_hours() -> None:
    urgent = domain.sla_for(RULES, Category.FEE_DISPUTE, Priority.URGENT)
    assert urgent.sign_in == timedelta(hours=6)  # 1 working day × 0.75
    # Friday 2026-11-20 15:00 in Shanghai: 2 hours left that day, 4 more on Monday from 09:00.
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=CHINA)
    assert urgent.deadlines(friday, CALENDAR)[Clock.SIGN_IN] == datetime(2026, 11, 23, 13, 0, tzinfo=CHINA)


def test_a_working_day_clocks_escalation_steps_count_working_time() -> None:
    # Due Friday 16:00; the 通报 half a working day (4 working hours) later lands on Monday 12:00, not Friday 20:00.
    deadline, length = datetime(2026, 11, 20, 16, 0, tzinfo=CHINA), timedelta(hours=8)
    step = domain.next_escalation(RULES, EscalationLevel.REMINDER, deadline, length, working=True, calendar=CALENDAR)
    assert step == (EscalationLevel.NOTICE, datetime(2026, 11, 23, 12, 0, tzinfo=CHINA))


def test_rules_in_minutes_without_a_unit_stay_valid_and_a_unit_must_be_known() -> None:
    doc = RULES.model_dump(mode="json")
    doc["sla"]["leak"] = {"sign_in": 5, "on_site": 30, "resolve": 600}
    assert Rules.model_validate(doc).sla["leak"].unit is domain.ClockUnit.MINUTES
    doc["sla"]["leak"] = {"unit": "fortnights", "sign_in": 1, "on_site": 1, "resolve": 1}
    with pytest.raises(ValidationError):
        Rules.model_validate(doc)
    doc["sla"]["leak"] = {"sign_in": 5, "on_site": 30, "resolve": 600}
    doc["working_hours"] = {"start": "17:00", "end": "09:00"}
    with pytest.raises(ValidationError, match="working hours must end after they start"):
        Rules.model_validate(doc)


def test_redo_raises_priority_up_to_emergency() -> None:
    assert domain.raise_priority(Priority.NORMAL) is Priority.URGENT
    assert domain.raise_priority(Priority.URGENT) is Priority.EMERGENCY
    assert domain.raise_priority(Priority.EMERGENCY) is Priority.EMERGENCY


@pytest.mark.parametrize(
    ("households", "priority", "expected"),
    [
        (1, Priority.NORMAL, Priority.NORMAL),
        (4, Priority.NORMAL, Priority.NORMAL),
        (5, Priority.NORMAL, Priority.URGENT),
        (19, Priority.NORMAL, Priority.URGENT),
        (20, Priority.NORMAL, Priority.EMERGENCY),
        (20, Priority.URGENT, Priority.EMERGENCY),
        (5, Priority.EMERGENCY, Priority.EMERGENCY),  # never lowered
        (0, Priority.URGENT, Priority.URGENT),
    ],
)
def test_affected_households_raise_the_priority_5_urgent_20_emergency(
    households: int, priority: Priority, expected: Priority
) -> None:
    assert domain.priority_for_households(RULES, priority, households) is expected


def test_rule_sets_stored_before_household_priority_get_the_default() -> None:
    doc = RULES.model_dump(mode="json")
    del doc["household_priority"]
    old = Rules.model_validate(doc)
    assert old.household_priority == {Priority.URGENT: 5, Priority.EMERGENCY: 20}
    only_urgent = Rules.model_validate(doc | {"household_priority": {"urgent": 3}})
    assert domain.priority_for_households(only_urgent, Priority.NORMAL, 100) is Priority.URGENT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sla": {"cold_room": {"sign_in": 30, "on_site": 60, "resolve": 90}}}, "default"),
        ({"sla": {"default": {"sign_in": 90, "on_site": 60, "resolve": 120}}}, "sign_in <= on_site"),
        (
            {
                "sla": {
                    "default": {"sign_in": 1, "on_site": 2, "resolve": 3},
                    "no_such": {"sign_in": 1, "on_site": 2, "resolve": 3},
                }
            },
            "unknown",
        ),
        ({"priority_factor": {"emergency": 0.5, "urgent": 0.75}}, "priority_factor"),
        ({"escalation": {"notice_after": 1.0, "supervision_after": 0.5}}, "supervision"),
        ({"bounce_limit": 0}, "bounce_limit"),
        ({"household_priority": {"urgent": 0}}, "at least 1"),
        ({"household_priority": {"urgent": 20, "emergency": 5}}, "fewer households"),
    ],
)
def test_bad_rules_are_refused(change: dict[str, object], message: str) -> None:
    doc = RULES.model_dump(mode="json") | change
    with pytest.raises(ValidationError, match=message):
        Rules.model_validate(doc)


def test_the_readme_clock_table_states_the_uplifts_the_code_applies() -> None:
    """The README's uplift table (a redo round and an incident's size raise the priority) says what the code does."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    redo = next(line for line in readme.splitlines() if line.startswith("  | 发回重办 redo round"))
    steps = [Priority.NORMAL, domain.raise_priority(Priority.NORMAL)]
    steps.append(domain.raise_priority(steps[-1]))
    minutes = [domain.sla_for(RULES, Category.COLD_ROOM, p).sign_in.total_seconds() / 60 for p in steps]
    assert steps == [Priority.NORMAL, Priority.URGENT, Priority.EMERGENCY]
    assert "normal → urgent → emergency" in redo and "30 → 22.5 → 15 min" in redo
    assert minutes == [30, 22.5, 15] and "`raise_priority` in `services/dispatch/domain.py`" in redo
    size = next(line for line in readme.splitlines() if line.startswith("  | incident size"))
    urgent, emergency = RULES.household_priority[Priority.URGENT], RULES.household_priority[Priority.EMERGENCY]
    assert f"≥ {urgent} affected households → at least urgent, ≥ {emergency} → emergency" in size
