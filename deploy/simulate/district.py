"""The district the season runs in: generated from a seed (streets, communities, grids, compounds, substations,
buildings, households with priority residents, the units that serve them, the people who act) or read from the
seed registry; shaped for intake's ``PUT /admin/registry`` and dispatch's ``PUT /admin/units``; tokens minted.

Pure: no I/O except reading the seed YAML. Names and phone numbers are fictional.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from deploy.seed import registry as seed_registry
from shared.auth import Principal, Role, TokenIssuer

STREET_NAMES = ("东岗", "雁滩", "拱星墩", "焦家湾", "盐场路", "靖远路", "草场街", "伏龙坪", "白银路", "张掖路")
COMMUNITY_NAMES = ("和平", "建设", "光明", "团结", "幸福", "新华", "民主", "胜利", "友谊", "育才", "东风", "红星")
COMPOUND_NAMES = (
    "粮库家属院",
    "电力小区",
    "铁路新村",
    "纺织厂家属院",
    "春晖小区",
    "东方花苑",
    "阳光嘉园",
    "金城花园",
    "滨河苑",
    "翠柳苑",
    "安居小区",
    "康乐小区",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "建国秀英志强海燕明丽兰平军红梅华玉珍桂芳伟敏静霞涛斌勇娟春秀凤英德福"
# 重点人群: about one household in twelve, mostly elderly people living alone (an assumption: docs/domain.md, Rules
# and figures).
PRIORITY_GROUPS = (("elderly_alone", 0.5), ("low_income", 0.3), ("disabled", 0.2))
PRIORITY_SHARE = 0.08


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    name: str
    compound_id: str
    grid_id: str
    substation_id: str | None


@dataclass(frozen=True, slots=True)
class Household:
    id: str
    building_id: str
    unit_no: str
    room: str
    resident_name: str | None = None
    phone: str | None = None
    priority_group: str | None = None


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    type: str
    name: str
    covers: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Person:
    role: str
    sub: str
    scope: str
    name: str


@dataclass(frozen=True)
class District:
    """A registry: both trees (geography and heat network), the units and the people."""

    id: str
    name: str
    areas: tuple[dict[str, Any], ...]
    buildings: tuple[Building, ...]
    households: tuple[Household, ...]
    units: tuple[Unit, ...]
    people: tuple[Person, ...]
    source: str = "generated"

    @cached_property
    def building(self) -> dict[str, Building]:
        return {b.id: b for b in self.buildings}

    @cached_property
    def homes_of(self) -> dict[str, list[Household]]:
        """building id → its households, in registry order."""
        out: dict[str, list[Household]] = defaultdict(list)
        for h in self.households:
            out[h.building_id].append(h)
        return dict(out)

    @cached_property
    def streets(self) -> list[str]:
        return [a["id"] for a in self.areas if a["kind"] == "street"]

    @cached_property
    def substations(self) -> list[str]:
        return sorted({b.substation_id for b in self.buildings if b.substation_id})

    @cached_property
    def names(self) -> dict[str, str]:
        """Display names of areas, buildings and units by id."""
        return (
            {a["id"]: a["name"] for a in self.areas}
            | {b.id: b.name for b in self.buildings}
            | {u.id: u.name for u in self.units}
            | {p.sub: f"{p.name}（{p.sub}）" if p.role == "grid_worker" else p.name for p in self.people}
        )

    def grid_of(self, household: Household) -> str:
        return self.building[household.building_id].grid_id

    @cached_property
    def worker_of_grid(self) -> dict[str, str]:
        """grid id → the grid worker who reports from it and visits it."""
        out: dict[str, str] = {}
        for p in self.people:
            if p.role == Role.GRID_WORKER.value:
                out.setdefault(p.scope, p.sub)
        return out

    def people_with(self, role: Role) -> list[Person]:
        return [p for p in self.people if p.role == role.value]

    def units_of(self, unit_type: str) -> list[Unit]:
        return [u for u in self.units if u.type == unit_type]

    # -- shapes of the admin APIs ------------------------------------------------------------------------------

    def intake_registry(self, sensors: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Intake's ``PUT /admin/registry`` body; ``sensors`` is (sensor id, household id) pairs."""
        return {
            "areas": list(self.areas),
            "buildings": [
                {
                    "id": b.id,
                    "name": b.name,
                    "compound_id": b.compound_id,
                    "grid_id": b.grid_id,
                    "substation_id": b.substation_id,
                }
                for b in self.buildings
            ],
            "households": [
                {
                    "id": h.id,
                    "building_id": h.building_id,
                    "unit_no": h.unit_no,
                    "room": h.room,
                    "resident_name": h.resident_name,
                    "phone": h.phone,
                    "priority_group": h.priority_group,
                }
                for h in self.households
            ],
            "sensors": [{"id": s, "household_id": h} for s, h in sensors or []],
        }

    def dispatch_units(self) -> dict[str, Any]:
        """Dispatch's ``PUT /admin/units`` body."""
        return {
            "units": [
                {"id": u.id, "type": u.type, "name": u.name, "district_id": self.id, "covers": u.covers}
                for u in self.units
            ]
        }

    def tokens(self, private_key: str) -> dict[str, str]:
        """A token for every person and unit, the district and an admin, signed with dispatch's private key
        (development credentials; service tokens, not revocable per account)."""
        signer = TokenIssuer(private_key)
        ttl = 365 * 24 * 3600
        out = {
            p.sub: signer.issue(Principal(role=Role(p.role), sub=p.sub, scope=p.scope), ttl_seconds=ttl)
            for p in self.people
        }
        for u in self.units:
            out[u.id] = signer.issue(Principal(role=Role.UNIT, sub=u.id, scope=self.id), ttl_seconds=ttl)
        out["admin"] = signer.issue(Principal(role=Role.ADMIN, sub="simulator"), ttl_seconds=ttl)
        return out


def generate(seed: int, *, streets: int = 1, entrances: int = 2, floors: int = 5, rooms_per_floor: int = 2) -> District:
    """A district of ``streets`` streets, each: 2 communities × (2 grids, 2 compounds × 3 buildings), 2 heat
    substations (one per compound of a community), a heating company per substation, a property manager per
    community, a street task force; one housing bureau and one water company for the district."""
    rng = random.Random(f"district:{seed}")
    tag = f"SIM{seed}"
    district_id = f"D-{tag}"
    areas: list[dict[str, Any]] = [{"id": district_id, "kind": "district", "name": "模拟区", "parent_id": None}]
    buildings: list[Building] = []
    households: list[Household] = []
    units: list[Unit] = []
    people: list[Person] = []
    n_building = 0
    for s in range(1, streets + 1):
        street_id = f"S-{tag}-{s}"
        short = STREET_NAMES[(s - 1) % len(STREET_NAMES)] + ("" if s <= len(STREET_NAMES) else str(s))
        areas.append({"id": street_id, "kind": "street", "name": short + "街道", "parent_id": district_id})
        substations = [f"SS-{tag}-{s}-{k}" for k in (1, 2)]
        for k, ss in enumerate(substations, start=1):
            areas.append({"id": ss, "kind": "substation", "name": f"{short}{k}号换热站", "parent_id": None})
            units.append(
                Unit(f"U-HEAT-{tag}-{s}-{k}", "heating_company", f"{short}第{k}供热公司", {"substation": [ss]})
            )
        units.append(Unit(f"U-TF-{tag}-{s}", "street_task_force", f"{short}街道工作专班", {"street": [street_id]}))
        people.append(Person("task_force", f"TF-{tag}-{s}", street_id, "街道工作专班"))
        for c in (1, 2):
            community_id = f"CM-{tag}-{s}-{c}"
            n_community = (s - 1) * 2 + c - 1
            community = COMMUNITY_NAMES[n_community % len(COMMUNITY_NAMES)] + "社区"
            areas.append({"id": community_id, "kind": "community", "name": community, "parent_id": street_id})
            grids = [f"G-{tag}-{s}-{c}-{g}" for g in (1, 2)]
            for g, grid_id in enumerate(grids, start=1):
                areas.append(
                    {"id": grid_id, "kind": "grid", "name": f"{community}第{g}网格", "parent_id": community_id}
                )
                people.append(Person("grid_worker", f"GW-{tag}-{s}-{c}-{g}", grid_id, _name(rng)))
            compounds = []
            for p in (1, 2):
                compound_id = f"CP-{tag}-{s}-{c}-{p}"
                compounds.append(compound_id)
                name = COMPOUND_NAMES[(n_community * 2 + p - 1) % len(COMPOUND_NAMES)]
                areas.append({"id": compound_id, "kind": "compound", "name": name, "parent_id": community_id})
                for b in range(1, 4):
                    n_building += 1
                    building = Building(
                        id=f"B-{tag}-{n_building}",
                        name=f"{name}{b}号楼",
                        compound_id=compound_id,
                        grid_id=grids[(b - 1) % 2],
                        substation_id=substations[p - 1],
                    )
                    buildings.append(building)
                    for e in range(1, entrances + 1):
                        for f in range(1, floors + 1):
                            for r in range(1, rooms_per_floor + 1):
                                households.append(_household(rng, building.id, n_building, e, f * 100 + r))
            units.append(Unit(f"U-PM-{tag}-{s}-{c}", "property_manager", f"{community}物业", {"compound": compounds}))
    units.append(Unit(f"U-HB-{tag}", "housing_bureau", "模拟区住建局", {"district": [district_id]}))
    units.append(Unit(f"U-WC-{tag}", "water_company", "模拟区供水公司", {"district": [district_id]}))
    people.append(Person("district", f"DIST-{tag}", district_id, "模拟区住建局督办"))
    return District(
        id=district_id,
        name="模拟区",
        areas=tuple(areas),
        buildings=tuple(buildings),
        households=tuple(households),
        units=tuple(units),
        people=tuple(people),
    )


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _household(rng: random.Random, building_id: str, n_building: int, entrance: int, room: int) -> Household:
    group = None
    if rng.random() < PRIORITY_SHARE:
        group = rng.choices([g for g, _ in PRIORITY_GROUPS], weights=[w for _, w in PRIORITY_GROUPS])[0]
    return Household(
        id=f"H-{building_id.removeprefix('B-')}-{entrance}-{room}",
        building_id=building_id,
        unit_no=str(entrance),
        room=str(room),
        resident_name=_name(rng),
        phone="139" + "".join(str(rng.randrange(10)) for _ in range(8)),
        priority_group=group,
    )


def from_seed(doc: dict[str, Any] | None = None) -> District:
    """The seed registry (``deploy/seed/registry.yaml``) as a district."""
    doc = doc or seed_registry.read()
    flat = seed_registry.intake_registry(doc)
    district_id = doc["district"]["id"]
    return District(
        id=district_id,
        name=doc["district"]["name"],
        areas=tuple(flat["areas"]),
        buildings=tuple(
            Building(b["id"], b["name"], b["compound_id"], b["grid_id"], b["substation_id"]) for b in flat["buildings"]
        ),
        households=tuple(
            Household(
                h["id"], h["building_id"], h["unit_no"], h["room"], h["resident_name"], h["phone"], h["priority_group"]
            )
            for h in flat["households"]
        ),
        units=tuple(Unit(u["id"], u["type"], u["name"], u.get("covers", {})) for u in doc["units"]),
        people=tuple(Person(p["role"], p["sub"], p["scope"], p.get("name", p["sub"])) for p in doc.get("people", [])),
        source="seed",
    )
