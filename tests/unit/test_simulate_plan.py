"""The simulator's plan and district are pure functions of the seed: the same seed gives the same season."""

from __future__ import annotations

from collections import Counter

from deploy.simulate import district, plan
from deploy.simulate.plan import DAY, Fates, Rates
from shared.contracts.common import Category


def _plan(seed: int = 7, days: int = 7) -> plan.Plan:
    return plan.build(district.generate(seed), days=days, seed=seed)


def test_the_same_seed_gives_the_same_district_and_plan() -> None:
    assert district.generate(3) == district.generate(3)
    assert _plan(3) == _plan(3)
    assert list(_plan(3).readings(0, 3 * DAY)) == list(_plan(3).readings(0, 3 * DAY))


def test_another_seed_gives_another_plan() -> None:
    a, b = _plan(1), _plan(2)
    assert a.arrivals != b.arrivals
    assert district.generate(1).households != district.generate(2).households


def test_the_generated_district_is_complete_and_consistent() -> None:
    d = district.generate(5, streets=2)
    ids = {a["id"] for a in d.areas}
    kinds = Counter(a["kind"] for a in d.areas)
    assert kinds["district"] == 1 and kinds["street"] == 2 and kinds["community"] == 4 and kinds["grid"] == 8
    assert all(b.compound_id in ids and b.grid_id in ids and b.substation_id in ids for b in d.buildings)
    assert len(d.households) == 2 * 12 * 20 and all(h.building_id in d.building for h in d.households)
    assert len({h.id for h in d.households}) == len(d.households)
    assert set(d.worker_of_grid) == {a["id"] for a in d.areas if a["kind"] == "grid"}
    share = sum(1 for h in d.households if h.priority_group) / len(d.households)
    assert 0.03 < share < 0.15  # 重点人群
    served = {s for u in d.units for s in u.covers.get("substation", [])}
    assert served == set(d.substations)  # every substation has its heating company
    compounds = {c for u in d.units for c in u.covers.get("compound", [])}
    assert compounds == {a["id"] for a in d.areas if a["kind"] == "compound"}
    body = d.intake_registry([("SN-1", d.households[0].id)])
    assert body["sensors"] == [{"id": "SN-1", "household_id": d.households[0].id}]
    assert {u["district_id"] for u in d.dispatch_units()["units"]} == {d.id}


def test_the_cold_snap_day_has_about_ten_times_the_reports() -> None:
    p = plan.build(district.generate(11, streets=3), days=5, seed=11)
    per_day = Counter(int(a.at // DAY) for a in p.arrivals if a.channel != "visit" and a.incident is None)
    others = [n for day, n in per_day.items() if day != p.cold_snap_day]
    ratio = per_day[p.cold_snap_day] / (sum(others) / len(others))
    assert 6 < ratio < 15


def test_the_burst_pipe_and_the_outage_are_many_reports_of_one_building_and_one_substation() -> None:
    d = district.generate(7)
    p = plan.build(d, days=7, seed=7)
    burst = [a for a in p.arrivals if a.incident == "burst_pipe"]
    assert len(burst) >= 8 and {a.building_id for a in burst} == {p.burst[1]}
    assert {a.category for a in burst} == {Category.BURST_PIPE}
    assert {a.channel for a in burst} == {"grid", "hotline"}
    outage = [a for a in p.arrivals if a.incident == "outage"]
    assert len(outage) >= 10
    assert {d.building[a.building_id].substation_id for a in outage} == {p.outage[1]}


def test_arrivals_are_ordered_numbered_and_within_the_season() -> None:
    p = _plan(days=3)
    assert [a.seq for a in p.arrivals] == list(range(1, len(p.arrivals) + 1))
    assert all(0 <= a.at < 3 * DAY + 1 for a in p.arrivals)
    assert [a.at for a in p.arrivals] == sorted(a.at for a in p.arrivals)


def test_sensor_readings_follow_the_cold_spells() -> None:
    p = _plan(days=2)
    spell = p.spells[0]
    inside = [t for s, m, t in p.readings(spell.start, spell.end) if s == spell.sensor]
    assert inside and all(t < 16.0 for t in inside)
    warm = [
        t for s, m, t in p.readings(0, 2 * DAY) if not any(x.sensor == s and x.start <= m < x.end for x in p.spells)
    ]
    assert min(warm) >= 18.0
    every = p.sensor_every_min
    assert sum(1 for _ in p.readings(0, DAY)) == len(p.sensors) * DAY / every


def test_rates_scale_the_flows() -> None:
    small = plan.build(district.generate(7), days=3, seed=7, rates=Rates().scaled(0.2))
    full = plan.build(district.generate(7), days=3, seed=7)
    assert len(small.arrivals) < len(full.arrivals) / 2


def test_units_have_one_bouncer_one_extender_and_a_share_of_latecomers() -> None:
    d = district.generate(7, streets=2)
    profiles = plan.profiles(d, seed=7, late_share=0.3)
    assert sum(1 for p in profiles.values() if p.bounce_share) == 1
    assert sum(1 for p in profiles.values() if p.extension_share) == 1
    bouncer = next(u for u, p in profiles.items() if p.bounce_share)
    assert next(u.type for u in d.units if u.id == bouncer) == "property_manager"
    late = [u for u, p in profiles.items() if p.late]
    assert 1 <= len(late) <= len(d.units)
    assert not any(profiles[u.id].late for u in d.units if u.type in ("street_task_force", "housing_bureau"))
    assert plan.profiles(d, seed=7, late_share=0.0) != profiles


def test_fates_are_reproducible_and_second_rounds_are_warm() -> None:
    f = Fates(seed=9)
    assert f.return_visit("H-1:cold_room", 1, 0) == Fates(seed=9).return_visit("H-1:cold_room", 1, 0)
    outcomes = [f.return_visit(f"H-{i}:cold_room", 1, 1) for i in range(400)]
    cold = sum(1 for reached, temps, _ in outcomes if reached and min(temps) < 18)
    assert 0.05 * 400 < cold < 0.3 * 400
    assert all(min(t) >= 18 for r, t, _ in (f.return_visit(f"H-{i}:x", 2, 0) for i in range(200)) if r)
    unreached = sum(1 for i in range(400) if not f.return_visit(f"H-{i}:x", 1, 0)[0])
    assert 0 < unreached < 60
    assert all(f.return_visit(f"H-{i}:x", 1, 1)[0] for i in range(200))  # the second attempt finds them home
