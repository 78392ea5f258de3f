"""The season's plan, from a seed alone: what arrives when (household visits, one-tap reports, 12345 orders,
sensor readings with cold spells), the cold-snap day, the burst pipe, the substation outage, how each unit
behaves, and the fates the actors draw from (is the room warm at the return visit? is the extension approved?).

Pure and reproducible: the same district, days, seed and rates give the same plan, byte for byte. Times are
simulated minutes since the first day's midnight.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from deploy.simulate.district import District, Household
from shared.contracts.common import Category

DAY = 1440.0

# How a day's arrivals spread over its hours: quiet nights, the morning peak (3,724 calls in two morning hours in
# Beijing, 2017), a second rise in the evening. Normalised to a mean of 1.
_HOURLY = (
    0.2,
    0.15,
    0.1,
    0.1,
    0.15,
    0.3,
    0.8,
    2.2,
    2.4,
    1.8,
    1.4,
    1.2,
    1.1,
    1.0,
    1.0,
    1.0,
    1.1,
    1.3,
    1.6,
    1.7,
    1.5,
    1.1,
    0.6,
    0.3,
)
HOURLY = tuple(w * 24 / sum(_HOURLY) for w in _HOURLY)

# What residents complain about (docs/domain.md, Categories; the shares are an assumption); the cold snap shifts the
# mix towards cold rooms.
MIX = {
    Category.COLD_ROOM: 52,
    Category.LEAK: 10,
    Category.AIR_LOCK: 8,
    Category.CLOGGED_FILTER: 7,
    Category.FEE_DISPUTE: 5,
    Category.SUBSIDY_QUESTION: 4,
    Category.OUTAGE: 3,
    Category.UNDERFLOOR_IMBALANCE: 3,
    Category.ICE_HAZARD: 2,
    Category.METERING_RETROFIT: 2,
    Category.OTHER: 1,
}
COLD_SNAP_MIX = {**MIX, Category.COLD_ROOM: 80, Category.AIR_LOCK: 10}

TEXTS: dict[Category, tuple[str, ...]] = {
    Category.COLD_ROOM: (
        "暖气不热，室温只有{t}度",
        "家里太冷了，暖气片温吞",
        "卧室温度不达标，只有{t}度",
        "暖气上热下凉，屋里冷",
    ),
    Category.LEAK: ("暖气片接口滴水", "阀门漏水，地上一摊水", "楼道暖气管渗水"),
    Category.AIR_LOCK: ("暖气片需要排气，有咕噜声", "暖气有空气，需要放气"),
    Category.CLOGGED_FILTER: ("入户滤网堵塞，暖气不热", "过滤器堵了"),
    Category.FEE_DISPUTE: ("对暖气费收费有异议", "物业多收了取暖费"),
    Category.SUBSIDY_QUESTION: ("咨询供暖补贴政策", "低保户取暖补助怎么申请"),
    Category.OUTAGE: ("整栋楼暖气停了", "家里没有暖气", "突然停暖"),
    Category.UNDERFLOOR_IMBALANCE: ("地暖一半热一半凉", "地暖分水器不均匀"),
    Category.ICE_HAZARD: ("楼道漏水挂冰，很危险", "外墙漏水结冰"),
    Category.METERING_RETROFIT: ("分户改造费用怎么算", "热计量改造想了解一下"),
    Category.OTHER: ("小区供暖问题想反映一下",),
    Category.BURST_PIPE: ("楼道暖气主管爆管，水往下流", "暖气管道爆裂，家里进水了", "楼里暖气主管爆了"),
}


@dataclass(frozen=True)
class Rates:
    """Per 100 households and simulated day (the cold-snap day multiplies reports and cold spells by ``surge``)."""

    ledger_visits: float = 15.0
    finding_share: float = 0.08
    grid_reports: float = 2.0
    hotline_orders: float = 3.0
    cold_spells: float = 1.0
    sensor_share: float = 0.25
    sensor_every_min: int = 30
    surge: float = 10.0

    def scaled(self, factor: float) -> Rates:
        """Every flow × ``factor`` (shares and the sensor cadence unchanged)."""
        return Rates(
            ledger_visits=self.ledger_visits * factor,
            finding_share=self.finding_share,
            grid_reports=self.grid_reports * factor,
            hotline_orders=self.hotline_orders * factor,
            cold_spells=self.cold_spells * factor,
            sensor_share=self.sensor_share,
            sensor_every_min=self.sensor_every_min,
            surge=self.surge,
        )


@dataclass(frozen=True)
class Arrival:
    """One thing that reaches intake: a household visit (``visit``), a one-tap report (``grid``) or a 12345 order
    (``hotline``). ``category`` None leaves the classification to intake."""

    at: float
    seq: int
    channel: str
    household_id: str | None
    building_id: str
    worker: str
    category: Category | None
    text: str
    temp_c: float | None = None
    residents: int = 0
    findings: tuple[tuple[Category | None, str], ...] = ()
    incident: str | None = None


@dataclass(frozen=True)
class ColdSpell:
    """A sensor household's room below 16 °C from ``start`` to ``end``: intake raises a report after 2 h."""

    sensor: int
    start: float
    end: float
    temp_c: float


@dataclass(frozen=True)
class UnitProfile:
    late: bool = False  # signs in after the deadline (催办, and 通报 when very late)
    bounce_share: float = 0.0  # 退单: hands this share of its first-round assignments back
    extension_share: float = 0.0  # 延期: asks the task force for more time on this share


@dataclass(frozen=True)
class Plan:
    seed: int
    days: int
    arrivals: tuple[Arrival, ...]
    sensors: tuple[str, ...]  # household of sensor i
    spells: tuple[ColdSpell, ...]
    cold_snap_day: int
    burst: tuple[float, str]  # (when, building)
    outage: tuple[float, str]  # (when, substation)
    profiles: dict[str, UnitProfile] = field(default_factory=dict)
    sensor_every_min: int = 30

    def counts(self) -> dict[str, int]:
        out = {"visit": 0, "grid": 0, "hotline": 0, "findings": 0}
        for a in self.arrivals:
            out[a.channel] += 1
            out["findings"] += len(a.findings)
        out["sensors"] = len(self.sensors)
        out["cold_spells"] = len(self.spells)
        out["readings"] = sum(1 for _ in self.readings(0, self.days * DAY))
        return out

    def readings(self, start: float, end: float) -> Iterator[tuple[int, float, float]]:
        """(sensor, minute, °C) of every reading taken in [start, end): one per sensor every ``sensor_every_min``,
        each sensor on its own offset; a deterministic wobble around the room's warm temperature, or the spell's
        cold one."""
        every = self.sensor_every_min
        spells: dict[int, list[ColdSpell]] = {}
        for s in self.spells:
            if s.start < end and s.end > start:
                spells.setdefault(s.sensor, []).append(s)
        for i in range(len(self.sensors)):
            offset = (i * 7) % every
            k = math.ceil((start - offset) / every)
            while (t := offset + k * every) < end:
                cold = next((s for s in spells.get(i, ()) if s.start <= t < s.end), None)
                wobble = 0.4 * math.sin(k * 0.7 + i)
                base = cold.temp_c if cold else 19.5 + (i % 7) * 0.4
                yield i, t, round(base + wobble, 1)
                k += 1


def build(district: District, *, days: int, seed: int, rates: Rates | None = None, late_share: float = 0.3) -> Plan:
    rates = rates or Rates()
    rng = random.Random(f"plan:{seed}")
    homes = list(district.households)
    per100 = max(1.0, len(homes) / 100)  # a registry smaller than 100 households still sees a season
    cold_snap_day = int(days * 0.5)
    arrivals: list[Arrival] = []
    workers = district.worker_of_grid

    def worker(h: Household) -> str:
        return workers[district.grid_of(h)]

    weights = [3.0 if h.priority_group else 1.0 for h in homes]  # 重点人群 are visited more often
    for day in range(days):
        surge = rates.surge if day == cold_snap_day else 1.0
        mix = COLD_SNAP_MIX if day == cold_snap_day else MIX
        for hour in range(24):
            start = day * DAY + hour * 60
            for _ in range(_poisson(rng, rates.ledger_visits * per100 / 24 * HOURLY[hour])):
                h = rng.choices(homes, weights)[0]
                findings: tuple[tuple[Category | None, str], ...] = ()
                temp = round(rng.uniform(18.0, 23.0), 1)
                if rng.random() < min(0.9, rates.finding_share * (3 if surge > 1 else 1)):
                    cat = _category(rng, mix)
                    findings = ((cat if rng.random() < 0.7 else None, _text(rng, cat)),)
                    if cat is Category.COLD_ROOM:
                        temp = round(rng.uniform(13.0, 17.5), 1)
                arrivals.append(
                    Arrival(
                        start + rng.uniform(0, 60),
                        0,
                        "visit",
                        h.id,
                        h.building_id,
                        worker(h),
                        None,
                        "",
                        temp,
                        residents=rng.choice((1, 1, 2, 2, 3)),
                        findings=findings,
                    )
                )
            for channel, rate in (("grid", rates.grid_reports), ("hotline", rates.hotline_orders)):
                for _ in range(_poisson(rng, rate * surge * per100 / 24 * HOURLY[hour])):
                    h = rng.choice(homes)
                    arrivals.append(_report(rng, channel, start + rng.uniform(0, 60), h, worker(h), mix))
    burst_at = (int(days * 0.25) + 0.35) * DAY
    burst_building = rng.choice(district.buildings)
    for k, h in enumerate(
        rng.sample(district.homes_of[burst_building.id], min(12, len(district.homes_of[burst_building.id])))
    ):
        channel = "hotline" if k % 2 else "grid"
        at = burst_at + k * rng.uniform(3, 9)
        text = rng.choice(TEXTS[Category.BURST_PIPE])
        arrivals.append(
            Arrival(at, 0, channel, h.id, h.building_id, worker(h), Category.BURST_PIPE, text, incident="burst_pipe")
        )
    outage_at = (int(days * 0.75) + 0.25) * DAY
    substation = rng.choice(district.substations)
    fed = [h for h in homes if district.building[h.building_id].substation_id == substation]
    for k, h in enumerate(rng.sample(fed, min(15, len(fed)))):
        cat = Category.OUTAGE if k % 3 != 2 else Category.COLD_ROOM  # cold rooms of a fed building join the outage
        arrivals.append(
            Arrival(
                outage_at + k * rng.uniform(4, 12),
                0,
                "hotline" if k % 2 else "grid",
                h.id,
                h.building_id,
                worker(h),
                cat,
                _text(rng, cat),
                temp_c=round(rng.uniform(11.0, 15.0), 1) if cat is Category.COLD_ROOM else None,
                incident="outage",
            )
        )
    arrivals.sort(key=lambda a: a.at)
    arrivals = [_with_seq(a, n) for n, a in enumerate(arrivals, start=1)]

    sensor_homes = sorted(rng.sample(homes, max(1, round(len(homes) * rates.sensor_share))), key=lambda h: h.id)
    spells: list[ColdSpell] = []
    for day in range(days):
        surge = rates.surge if day == cold_snap_day else 1.0
        for _ in range(_poisson(rng, rates.cold_spells * surge * per100)):
            start = day * DAY + rng.uniform(0, DAY)
            spells.append(
                ColdSpell(
                    rng.randrange(len(sensor_homes)), start, start + rng.uniform(150, 480), rng.uniform(12.5, 15.5)
                )
            )
    spells.sort(key=lambda s: (s.start, s.sensor))
    return Plan(
        seed=seed,
        days=days,
        arrivals=tuple(arrivals),
        sensors=tuple(h.id for h in sensor_homes),
        spells=tuple(spells),
        cold_snap_day=cold_snap_day,
        burst=(burst_at, burst_building.id),
        outage=(outage_at, substation),
        profiles=profiles(district, seed=seed, late_share=late_share),
        sensor_every_min=rates.sensor_every_min,
    )


def profiles(district: District, *, seed: int, late_share: float) -> dict[str, UnitProfile]:
    """How each unit behaves: a share sign in late; one property manager bounces orders (退单); one heating company
    asks for extensions (延期). The task force and the housing bureau are punctual."""
    rng = random.Random(f"units:{seed}")
    out: dict[str, UnitProfile] = {}
    ordinary = [u for u in district.units if u.type not in ("street_task_force", "housing_bureau")]
    late = set(u.id for u in rng.sample(ordinary, round(len(ordinary) * late_share))) if ordinary else set()
    managers = district.units_of("property_manager")
    heating = district.units_of("heating_company")
    bouncer = rng.choice(managers).id if managers else None
    extender = rng.choice(heating).id if heating else None
    for u in district.units:
        out[u.id] = UnitProfile(
            late=u.id in late,
            bounce_share=0.6 if u.id == bouncer else 0.0,
            extension_share=0.5 if u.id == extender else 0.0,
        )
    return out


def _with_seq(a: Arrival, seq: int) -> Arrival:
    return Arrival(
        round(a.at, 3),
        seq,
        a.channel,
        a.household_id,
        a.building_id,
        a.worker,
        a.category,
        a.text,
        a.temp_c,
        a.residents,
        a.findings,
        a.incident,
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation; Knuth's product underflows
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _category(rng: random.Random, mix: dict[Category, int]) -> Category:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _text(rng: random.Random, category: Category) -> str:
    return rng.choice(TEXTS[category]).format(t=rng.choice((13, 14, 15, 16)))


def _report(
    rng: random.Random, channel: str, at: float, h: Household, worker: str, mix: dict[Category, int]
) -> Arrival:
    category = _category(rng, mix)
    text = _text(rng, category)
    temp = round(rng.uniform(12.0, 17.5), 1) if category is Category.COLD_ROOM else None
    if channel == "hotline":
        # 12345 operators type what the caller said, often with the caller's name and number: intake redacts them.
        if rng.random() < 0.4 and h.resident_name and h.phone:
            text = f"{h.resident_name[0]}女士来电反映：{text}，联系电话{h.phone}"
        return Arrival(at, 0, channel, h.id, h.building_id, worker, category if rng.random() < 0.5 else None, text)
    return Arrival(at, 0, channel, h.id, h.building_id, worker, category, text, temp_c=temp)


# -- fates: what the actors draw, keyed by what the plan knows (never by the services' random ids) -------------


@dataclass(frozen=True)
class Fates:
    seed: int
    still_cold_share: float = 0.15  # first return visit still under 18 °C → 发回重办
    dissatisfied_share: float = 0.05
    unreached_share: float = 0.05  # nobody home at the first attempt
    approve_share: float = 0.7  # the task force approves this share of extensions

    def rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(k) for k in (self.seed, *key)))

    def return_visit(self, key: str, round_: int, attempt: int) -> tuple[bool, list[float], str | None]:
        """(reached, room temperatures, satisfaction) of a return-visit attempt."""
        rng = self.rng("visit", key, round_, attempt)
        if attempt == 0 and rng.random() < self.unreached_share:
            return False, [], None
        rooms = rng.choice((2, 2, 3))
        if round_ == 1 and rng.random() < self.still_cold_share:
            temps = [round(rng.uniform(14.5, 17.8), 1) for _ in range(rooms)]
            return True, temps, rng.choice(("dissatisfied", "dissatisfied", "mostly"))
        temps = [round(rng.uniform(18.3, 22.5), 1) for _ in range(rooms)]
        satisfied = "dissatisfied" if round_ == 1 and rng.random() < self.dissatisfied_share else None
        return True, temps, satisfied or rng.choice(("satisfied", "satisfied", "mostly"))

    def approve(self, key: str) -> bool:
        return self.rng("extension", key).random() < self.approve_share
