"""Authorization as a tested matrix (``deploy/authz_matrix.py``): every route of the three apps × every kind of
caller, each caller on its own object and on someone else's, against the services in-process on the real stack.
Also: a route without a row fails; guessed ids answer like someone else's; list filters naming someone else show
only one's own; the console's live stream moves only for what its caller may see; a resident's contact details
are whole for the unit that answers for the case and the grid worker, masked for overseers, and gone when the
unit no longer answers for it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr

from deploy.authz_matrix import EVERY_SERVICE, SERVICES, Access, Caller, Outcome, access, rows_of
from deploy.seed import registry
from services.dispatch import console
from services.dispatch.notify.settings import DEV_ALERT_TOKEN
from services.followup.models import SpotCheck
from services.intake.config import (
    DEV_HOTLINE_INTEGRATION,
    DEV_HOTLINE_SECRET,
    DEV_OPEN311_KEY,
    DEV_SENSOR_KEY,
    HotlineIntegration,
)
from services.intake.hotline import signed_headers
from services.intake.models import HotlineCallback, Report
from shared.auth import Principal, Role, issue
from shared.privacy import mask_name, mask_phone
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from tests.harness import wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
OTHER_PLATFORM, OTHER_SECRET = "12345-other", "other-platform-secret-for-tests"
SECRETS = {DEV_HOTLINE_INTEGRATION: DEV_HOTLINE_SECRET, OTHER_PLATFORM: OTHER_SECRET}
LEDGER_DAY = "2026-10-05"

# Each kind of caller that has an "own": who acts on its own objects, and who on someone else's (another grid,
# unit, street, district or 12345 platform). The objects of the test all belong to the first.
HOME = {
    Caller.GRID_WORKER: "GW-01",  # grid G-PHN-01 (community CM-PHN)
    Caller.UNIT: "U-PM-1",  # 安居物业: property manager of compound CP-LK
    Caller.TASK_FORCE: "TF-JYG",  # street S-JYG
    Caller.DISTRICT: "DIST-CG",  # district D-CG
    Caller.ADMIN: "admin",
    Caller.HOTLINE: DEV_HOTLINE_INTEGRATION,
}
AWAY = {
    Caller.GRID_WORKER: "GW-03",  # grid G-XC-01, another community of the same street
    Caller.UNIT: "U-PM-2",  # 春晖物业, another compound
    Caller.TASK_FORCE: "TF-OTHER",
    Caller.DISTRICT: "DIST-OTHER",
    Caller.HOTLINE: OTHER_PLATFORM,
}
ALERT_AUTH = {"Authorization": f"Bearer {DEV_ALERT_TOKEN}"}
ALERTS = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "AuthzProbe", "severity": "ticket", "service": "dispatch"},
            "annotations": {"summary": "授权测试"},
            "startsAt": "2026-12-05T00:00:00Z",
            "fingerprint": "authz",
        }
    ],
}
BEARER = {Caller.GRID_WORKER, Caller.UNIT, Caller.TASK_FORCE, Caller.DISTRICT, Caller.ADMIN}
# Fictional residents of the test's own building (so no other test's incident absorbs its reports).
NAMES = (
    "欧阳春华",
    "上官明月",
    "司马青云",
    "诸葛晓东",
    "东方红梅",
    "慕容秋实",
    "皇甫立新",
    "端木海川",
    "公孙永年",
    "令狐晴川",
    "宇文嘉禾",
    "尉迟长安",
    "呼延志远",
    "长孙若水",
)


def route_keys(app: FastAPI) -> set[str]:
    """Every route of an app as "METHOD /path" (HEAD, which Starlette adds to GET routes, aside)."""
    keys = set()
    for route in iter_route_contexts(app.routes):
        for method in (getattr(route.original_route, "methods", None) or set()) - {"HEAD"}:
            keys.add(f"{method} {route.path}")
    return keys


def apps(loop: Loop) -> dict[str, FastAPI]:
    return {"intake": loop.intake.app, "dispatch": loop.dispatch.app, "followup": loop.followup.app}


# -- the world the calls act on -------------------------------------------------------------------------------------


@dataclass
class World:
    loop: Loop
    tokens: dict[str, str]
    sfx: str
    registry: dict[str, Any]
    residents: dict[str, tuple[str, str]]  # household id → (name, phone)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → intake's view (admin)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → the assignee's view
    extension: str = ""
    ledger_visit: str = ""
    visit: str = ""
    spot_check: str = ""
    orders: dict[str, str] = field(default_factory=dict)  # 12345 platform → its order number
    callback: int = 0
    rules: dict[str, Any] = field(default_factory=dict)
    rules_version: int = 0
    open311: str = ""  # a request submitted through Open311: the only kind its anonymous list publishes
    notify_target: int = 0  # a target the admin may delete
    notification: int = 0  # a notification the admin may re-drive (409 when it is not parked: allowed)
    unit_target: int = 0  # a target of U-PM-1's own, which only U-PM-1 may delete

    def household(self, n: int) -> str:
        return f"H-AZ-{self.sfx}-{n}"

    @property
    def building(self) -> str:
        return f"B-AZ-{self.sfx}"

    @property
    def sensor(self) -> str:
        return f"S-AZ-{self.sfx}"

    def secrets(self) -> list[str]:
        return [s for pair in self.residents.values() for s in pair]

    def http(self, service: str) -> httpx.AsyncClient:
        return getattr(self.loop, service).http  # type: ignore[no-any-return]

    async def call(self, service: str, method: str, path: str, who: str, expect: int = 200, **kw: Any) -> Any:
        headers = ADMIN if who == "X-Admin-Token" else {"Authorization": f"Bearer {self.tokens[who]}"}
        r = await self.http(service).request(method, path, headers=headers, **kw)
        assert r.status_code == expect, f"{method} {path} as {who}: {r.status_code} {r.text}"
        return r.json()

    # The objects a kind of caller acts on: a grid worker a grid's minor case, a unit its technical case, the task
    # force a complex case of its street; supervisors and everyone else the unit's case.
    def key(self, kind: Caller, spare: bool = False) -> str:
        return {Caller.GRID_WORKER: "M", Caller.TASK_FORCE: "C"}.get(kind, "T") + ("2" if spare else "")

    def assignment(self, kind: Caller, spare: bool = False) -> str:
        return str(self.assignments[self.key(kind, spare)]["id"])

    def case(self, kind: Caller) -> str:
        return str(self.reports["M" if kind is Caller.GRID_WORKER else "T"]["case_id"])


class Guess(World):
    """The same world with every object id replaced by a well-formed id nobody has."""

    @staticmethod
    def fake(real: str) -> str:
        prefix, _, rest = real.rpartition("-")
        return f"{prefix}-{uuid.uuid4().hex[: len(rest)]}" if prefix else uuid.uuid4().hex[: len(real)]

    def assignment(self, kind: Caller, spare: bool = False) -> str:
        return self.fake(super().assignment(kind, spare))

    def case(self, kind: Caller) -> str:
        return self.fake(super().case(kind))


def guess(world: World) -> Guess:
    g = Guess(**{f: getattr(world, f) for f in World.__dataclass_fields__})
    g.reports = {
        k: {**v, "id": Guess.fake(v["id"]), "group_id": Guess.fake(v["group_id"])} for k, v in world.reports.items()
    }
    g.extension, g.visit, g.spot_check = (
        Guess.fake(world.extension),
        Guess.fake(world.visit),
        Guess.fake(world.spot_check),
    )
    g.orders = {k: f"GD{uuid.uuid4().hex[:12].upper()}" for k in world.orders}
    g.callback = world.callback + 10_000_000
    g.unit_target = world.unit_target + 10_000_000
    return g


def mint(role: Role, sub: str, scope: str) -> str:
    return issue(Principal(role=role, sub=sub, scope=scope), DEV_AUTH_PRIVATE_KEY)


async def report(w: World, key: str, n: int, category: str, description: str, unit: str) -> None:
    """A grid worker's report in the test's building, its case, and the assignment of ``unit`` for it."""
    body = {"household_id": w.household(n), "category": category, "description": description}
    r = await w.call("intake", "POST", "/v1/grid-reports", "GW-01", expect=201, json=body)

    async def linked() -> dict[str, Any] | None:
        seen = await w.call("intake", "GET", f"/v1/reports/{r['id']}", "admin")
        return seen if seen["case_id"] else None

    w.reports[key] = await wait_until(f"a case for report {key}", linked)
    w.assignments[key] = await assignment_of(w, unit, w.reports[key]["case_id"])


async def assignment_of(w: World, who: str, case_id: str) -> dict[str, Any]:
    async def assigned() -> dict[str, Any] | None:
        mine = await w.call("dispatch", "GET", "/v1/assignments", who, params={"include_done": "true"})
        return next((a for a in mine if a["case_id"] == case_id), None)

    found: dict[str, Any] = await wait_until(f"{who}'s assignment of {case_id}", assigned)
    return found


@pytest.fixture(scope="module")
async def world(loop: Loop) -> Any:
    sfx = uuid.uuid4().hex[:6]
    tokens = dict(loop.tokens)
    tokens["TF-OTHER"] = mint(Role.TASK_FORCE, "TF-OTHER", "S-OTHER")
    tokens["DIST-OTHER"] = mint(Role.DISTRICT, "DIST-OTHER", "D-OTHER")
    residents = {f"H-AZ-{sfx}-{n}": (name, f"139{uuid.uuid4().int % 10**8:08d}") for n, name in enumerate(NAMES, 1)}
    reg = {
        "buildings": [
            {
                "id": f"B-AZ-{sfx}",
                "name": "授权测试楼",
                "compound_id": "CP-LK",
                "grid_id": "G-PHN-01",
                "substation_id": "SS-01",
            }
        ],
        "households": [
            {
                "id": h,
                "building_id": f"B-AZ-{sfx}",
                "unit_no": "1",
                "room": h.rsplit("-", 1)[1],
                "resident_name": name,
                "phone": phone,
            }
            for h, (name, phone) in residents.items()
        ],
        "sensors": [{"id": f"S-AZ-{sfx}", "household_id": f"H-AZ-{sfx}-1"}],
    }
    w = World(loop, tokens, sfx, reg, residents)
    doc = registry.read()
    assert (await loop.intake.http.put("/admin/registry", json=reg, headers=ADMIN)).status_code == 200
    assert (
        await loop.dispatch.http.put("/admin/accounts", json=registry.dispatch_accounts(doc), headers=ADMIN)
    ).is_success
    platforms = loop.intake.app.state.context.settings.hotline_integrations
    platforms[OTHER_PLATFORM] = HotlineIntegration(secret=SecretStr(OTHER_SECRET))

    name1, phone1 = residents[w.household(1)]
    await asyncio.gather(
        # The description names the resident and the number: stored, shown and announced only redacted.
        report(w, "T", 1, "leak", f"{name1}家暖气片接口漏水，电话{phone1}", "U-PM-1"),
        report(w, "M", 2, "subsidy_question", "咨询供暖补贴", "GW-01"),
        report(w, "C", 3, "fee_dispute", "对供暖费有异议", "TF-JYG"),
        report(w, "V", 4, "leak", "阀门滴水", "U-PM-1"),
        report(w, "T2", 5, "leak", "管道滴水", "U-PM-1"),
        report(w, "M2", 6, "subsidy_question", "咨询减免政策", "GW-01"),
        report(w, "C2", 7, "fee_dispute", "收费争议", "TF-JYG"),
    )
    await wait_until(
        "intake to know who answers for T",
        lambda: _agency_has(w, "T", "U-PM-1"),
    )
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "leak", "attribute[household_id]": w.household(1)}
    r = await loop.intake.http.post("/open311/v2/requests.json", data=form | {"description": f"{name1}家暖气漏水"})
    assert r.status_code == 201, r.text
    w.open311 = r.json()[0]["service_request_id"]
    due = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    ext = await w.call(
        "dispatch",
        "POST",
        f"/v1/assignments/{w.assignment(Caller.UNIT)}/extensions",
        "U-PM-1",
        expect=201,
        json={"reason": "需更换主管道", "resolve_due": due},
    )
    w.extension = ext["id"]

    # V goes round the loop: fixed, visited, closed; then it is drawn for a spot-check.
    v = w.assignments["V"]["id"]
    for action, body in (("sign-in", None), ("arrive", None), ("resolve", {"action_taken": "更换阀门"})):
        await w.call("dispatch", "POST", f"/v1/assignments/{v}/{action}", "U-PM-1", json=body)

    async def visit() -> dict[str, Any] | None:
        owed = await w.call("followup", "GET", "/v1/visits", "GW-01", params={"status": "all"})
        return next((x for x in owed if x["case_id"] == w.reports["V"]["case_id"]), None)

    w.visit = (await wait_until("the return visit of V", visit))["id"]
    recorded = await w.call(
        "followup",
        "POST",
        f"/v1/visits/{w.visit}/record",
        "GW-01",
        json={"room_temps_c": [21.0], "satisfaction": "satisfied"},
    )
    assert recorded["status"] == "closed"
    now = datetime.now(UTC)
    async with loop.followup.runtime.sessions() as s, s.begin():
        check = SpotCheck(
            id=f"SC-AZ-{sfx}",
            street_id="S-JYG",
            district_id="D-CG",
            community_id="CM-PHN",
            week="2026-W40",
            case_id=w.reports["V"]["case_id"],
            round=1,
            household_id=w.household(4),
            building_id=w.building,
            unit_ids=["U-PM-1"],
            closed_at=now,
            standard_c=18.0,
            drawn_at=now,
            status="pending",
        )
        s.add(check)
    w.spot_check = check.id

    ledger = {"household_id": w.household(1), "visited_at": f"{LEDGER_DAY}T10:00:00+08:00", "residents_reached": 1}
    w.ledger_visit = (await w.call("intake", "POST", "/v1/visits", "GW-01", expect=201, json=ledger))["id"]

    for platform in (DEV_HOTLINE_INTEGRATION, OTHER_PLATFORM):
        order_no = f"GD{uuid.uuid4().hex[:12].upper()}"
        raw = json.dumps({"order_no": order_no, "household_id": w.household(9), "content": "暖气不热"}).encode()
        headers = signed_headers(platform, SECRETS[platform], raw) | {"Content-Type": "application/json"}
        assert (await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=headers)).status_code == 201
        w.orders[platform] = order_no
    async with loop.intake.runtime.sessions() as s, s.begin():
        dead = HotlineCallback(
            integration_id=DEV_HOTLINE_INTEGRATION,
            order_no=f"GD-AZ-{sfx}",
            report_id=w.reports["T"]["id"],
            seq=1,
            status="dispatched",
            payload={},
            state="dead",
            attempts=10,
            next_attempt_at=now,
        )
        s.add(dead)
    w.callback = dead.id
    in_force = (await w.call("dispatch", "GET", "/admin/rules", "X-Admin-Token"))[0]
    w.rules, w.rules_version = in_force["document"], in_force["version"]
    oncall = {"owner_kind": "ops", "owner_id": f"authz-{sfx}", "channel": "webhook", "name": "authz"}
    oncall["config"] = {"url": "http://127.0.0.1:9/alerts", "secret": "authz-secret"}
    await w.call("dispatch", "PUT", "/admin/notify/targets", "X-Admin-Token", json=oncall)
    r = await w.http("dispatch").post(f"/notify/v1/alertmanager?audience=authz-{sfx}", json=ALERTS, headers=ALERT_AUTH)
    assert r.status_code == 200 and r.json() == {"notifications": 1}, r.text
    listed = await w.call("dispatch", "GET", "/admin/notify/notifications", "X-Admin-Token")
    w.notification = listed[0]["id"]
    own = {"channel": "sms", "name": "authz-own", "config": {"phones": ["13800000001"]}}
    w.unit_target = (await w.call("dispatch", "PUT", "/v1/notify/targets", "U-PM-1", json=own))["id"]
    spare = {**oncall, "name": "authz-spare"}
    w.notify_target = (await w.call("dispatch", "PUT", "/admin/notify/targets", "X-Admin-Token", json=spare))["id"]

    async def scored() -> bool:
        card = await w.call("followup", "GET", "/v1/scorecards", "U-PM-1")
        return any(line["key"] == "U-PM-1" for line in card["lines"])

    await wait_until("follow-up to score U-PM-1", scored)
    yield w
    platforms.pop(OTHER_PLATFORM, None)


async def _agency_has(w: World, key: str, unit: str) -> bool:
    async with w.loop.intake.runtime.sessions() as s:
        found = await s.get(Report, w.reports[key]["id"])
        return found is not None and unit in (found.agency or "").split(",")


# -- one call per route -----------------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON
    form: dict[str, str] | None = None
    token_in_query: bool = False


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def _order(w: World) -> dict[str, Any]:
    return {"order_no": f"GD{uuid.uuid4().hex[:12].upper()}", "household_id": w.household(9), "content": "暖气不热"}


Build = Callable[[World, Caller], Call]


def _get(path: str) -> Build:
    return lambda w, k: Call("GET", path)


def _act(action: str, body: Any) -> Build:
    return lambda w, k: Call("POST", f"/v1/assignments/{w.assignment(k)}/{action}", body=body)


DECISION = {"approved": False, "note": "请先落实临时供暖措施"}
WARM = {"room_temps_c": [21.0], "satisfaction": "satisfied"}

BUILD: dict[tuple[str, str], Build] = {
    **{
        (EVERY_SERVICE, f"GET {p}"): _get(p)
        for p in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect")
    },
    (EVERY_SERVICE, "GET /docs/assets/{name}"): _get("/docs/assets/swagger-ui.css"),
    ("intake", "GET /v1/places"): _get("/v1/places"),
    **{
        (service, "POST /v1/photos/uploads"): lambda w, k: Call(
            "POST", "/v1/photos/uploads", body={"content_type": "image/jpeg"}
        )
        for service in ("intake", "dispatch", "followup")
    },
    # intake
    ("intake", "POST /v1/grid-reports"): lambda w, k: Call(
        "POST",
        "/v1/grid-reports",
        body={
            "household_id": w.household(8),
            "category": "leak",
            "description": "楼道暖气管滴水",
            "idempotency_key": f"az-{w.sfx}-r",
        },
    ),
    ("intake", "POST /v1/visits"): lambda w, k: Call(
        "POST",
        "/v1/visits",
        body={
            "household_id": w.household(1),
            "visited_at": f"{LEDGER_DAY}T11:00:00+08:00",
            "residents_reached": 1,
            "idempotency_key": f"az-{w.sfx}-v",
        },
    ),
    ("intake", "GET /v1/visits"): lambda w, k: Call("GET", "/v1/visits", {"day": LEDGER_DAY, "grid_id": "G-PHN-01"}),
    ("intake", "GET /v1/visits/summary"): lambda w, k: Call(
        "GET", "/v1/visits/summary", {"day": LEDGER_DAY, "grid_id": "G-PHN-01"}
    ),
    ("intake", "GET /v1/reports/{report_id}"): lambda w, k: Call("GET", f"/v1/reports/{w.reports['T']['id']}"),
    ("intake", "GET /v1/reports/{report_id}/contact"): lambda w, k: Call(
        "GET", f"/v1/reports/{w.reports['T']['id']}/contact"
    ),
    ("intake", "GET /v1/public/reports/{report_id}"): lambda w, k: Call(
        "GET", f"/v1/public/reports/{w.reports['T']['id']}"
    ),
    ("intake", "POST /hotline/v1/orders"): lambda w, k: Call("POST", "/hotline/v1/orders", body=_order(w)),
    ("intake", "GET /hotline/v1/orders/{order_no}"): lambda w, k: Call(
        "GET", f"/hotline/v1/orders/{w.orders[DEV_HOTLINE_INTEGRATION]}", {"nonce": uuid.uuid4().hex}
    ),
    **{
        ("intake", f"POST /hotline/v1/orders/{{order_no}}/{op}"): (
            lambda w, k, op=op, extra=extra: Call(
                "POST",
                f"/hotline/v1/orders/{w.orders[DEV_HOTLINE_INTEGRATION]}/{op}",
                body={"operation_id": f"OP-{uuid.uuid4().hex[:12]}", **extra},
            )
        )
        for op, extra in (
            ("supplement", {"content": "补充：卧室也不热"}),
            ("hurry", {"content": "催促办理"}),
            ("withdraw", {"reason": "居民已解决"}),
        )
    },
    ("intake", "POST /v1/sensor-readings"): lambda w, k: Call(
        "POST",
        "/v1/sensor-readings",
        body={"readings": [{"sensor_id": w.sensor, "measured_at": datetime.now(UTC).isoformat(), "temp_c": 21.5}]},
    ),
    ("intake", "PUT /admin/registry"): lambda w, k: Call("PUT", "/admin/registry", body=w.registry),
    ("intake", "GET /admin/incidents/{group_id}"): lambda w, k: Call(
        "GET", f"/admin/incidents/{w.reports['T']['group_id']}"
    ),
    ("intake", "GET /admin/hotline/callbacks"): lambda w, k: Call(
        "GET", "/admin/hotline/callbacks", {"order_no": f"GD-AZ-{w.sfx}"}
    ),
    ("intake", "POST /admin/hotline/callbacks/{callback_id}/redrive"): lambda w, k: Call(
        "POST", f"/admin/hotline/callbacks/{w.callback}/redrive"
    ),
    ("intake", "POST /admin/hotline/callbacks/redrive"): lambda w, k: Call(
        "POST",
        "/admin/hotline/callbacks/redrive",
        {"integration_id": DEV_HOTLINE_INTEGRATION, "order_no": f"GD-AZ-{w.sfx}"},
    ),
    ("intake", "GET /open311/v2/services.{fmt}"): lambda w, k: Call("GET", "/open311/v2/services.json"),
    ("intake", "GET /open311/v2/services/{service_code}.{fmt}"): lambda w, k: Call(
        "GET", "/open311/v2/services/leak.json"
    ),
    ("intake", "GET /open311/v2/requests.{fmt}"): lambda w, k: Call(
        "GET", "/open311/v2/requests.json", {"service_request_id": w.open311}
    ),
    ("intake", "GET /open311/v2/requests/{service_request_id}.{fmt}"): lambda w, k: Call(
        "GET", f"/open311/v2/requests/{w.open311}.json"
    ),
    ("intake", "POST /open311/v2/requests.{fmt}"): lambda w, k: Call(
        "POST",
        "/open311/v2/requests.json",
        form={
            "service_code": "leak",
            "attribute[household_id]": w.household(10),
            "description": "阳台暖气片漏水",
            "first_name": "晴川",
            "last_name": "令狐",
            "phone": w.residents[w.household(10)][1],
        },
    ),
    # dispatch: a filter naming someone else's unit or case changes nothing of what a caller sees
    ("dispatch", "GET /v1/assignments"): lambda w, k: Call(
        "GET", "/v1/assignments", {"include_done": "true", "unit_id": "U-PM-1", "case_id": w.case(k)}
    ),
    ("dispatch", "GET /v1/assignments/{assignment_id}"): lambda w, k: Call("GET", f"/v1/assignments/{w.assignment(k)}"),
    **{
        ("dispatch", f"POST /v1/assignments/{{assignment_id}}/{action}"): _act(action, body)
        for action, body in (
            ("sign-in", None),
            ("arrive", None),
            ("progress", {"note": "已上门查看"}),
            ("resolve", {"action_taken": "更换阀门", "measured_temp_c": 20.0}),
        )
    },
    ("dispatch", "POST /v1/assignments/{assignment_id}/return"): lambda w, k: Call(
        "POST", f"/v1/assignments/{w.assignment(k, spare=True)}/return", body={"reason": "not_our_area"}
    ),
    ("dispatch", "POST /v1/assignments/{assignment_id}/extensions"): lambda w, k: Call(
        "POST",
        f"/v1/assignments/{w.assignment(k)}/extensions",
        body={"reason": "需更换主管道", "resolve_due": (datetime.now(UTC) + timedelta(days=40)).isoformat()},
    ),
    ("dispatch", "GET /v1/extensions"): lambda w, k: Call("GET", "/v1/extensions", {"status": ""}),
    ("dispatch", "POST /v1/extensions/{extension_id}/decision"): lambda w, k: Call(
        "POST", f"/v1/extensions/{w.extension}/decision", body=DECISION
    ),
    ("dispatch", "GET /v1/cases"): lambda w, k: Call(
        "GET", "/v1/cases", {"status": "", "limit": "1000", "street_id": "S-JYG", "unit_id": "U-PM-1"}
    ),
    ("dispatch", "GET /v1/cases/{case_id}"): lambda w, k: Call("GET", f"/v1/cases/{w.case(k)}"),
    ("dispatch", "POST /v1/cases/{case_id}/tier"): lambda w, k: Call(
        "POST", f"/v1/cases/{w.case(k)}/tier", body={"tier": "minor" if k is Caller.GRID_WORKER else "technical"}
    ),  # the tier it has: nothing moves
    ("dispatch", "PUT /v1/districts/{district_id}/cold-snap"): lambda w, k: Call(
        "PUT", "/v1/districts/D-CG/cold-snap", body={"active": False}
    ),
    ("dispatch", "GET /v1/units"): lambda w, k: Call("GET", "/v1/units"),
    ("dispatch", "PUT /admin/units"): lambda w, k: Call(
        "PUT", "/admin/units", body=registry.dispatch_units(registry.read())
    ),
    ("dispatch", "GET /admin/rules"): lambda w, k: Call("GET", "/admin/rules"),
    ("dispatch", "PUT /admin/rules"): lambda w, k: Call("PUT", "/admin/rules", {"note": "authz test"}, body=w.rules),
    ("dispatch", "GET /admin/calendar/{year}"): lambda w, k: Call("GET", "/admin/calendar/2026"),
    # An amendment of a year no case of these tests reaches, so the other tests' deadlines stay as they expect.
    ("dispatch", "PUT /admin/calendar/{year}"): lambda w, k: Call(
        "PUT", "/admin/calendar/2099", body={"holidays": ["2099-01-01"], "make_up_workdays": []}
    ),
    ("dispatch", "POST /admin/rules/{version}/activate"): lambda w, k: Call(
        "POST", f"/admin/rules/{w.rules_version}/activate"
    ),  # the version in force: nothing moves
    ("dispatch", "PUT /admin/accounts"): lambda w, k: Call(
        "PUT", "/admin/accounts", body=registry.dispatch_accounts(registry.read())
    ),
    ("dispatch", "PUT /admin/notify/targets"): lambda w, k: Call(
        "PUT",
        "/admin/notify/targets",
        body={
            "owner_kind": "unit",
            "owner_id": "U-PM-1",
            "channel": "sms",
            "name": "authz",
            "config": {"phones": ["13800000000"]},
        },
    ),
    ("dispatch", "GET /admin/notify/targets"): lambda w, k: Call("GET", "/admin/notify/targets"),
    ("dispatch", "DELETE /admin/notify/targets/{target_id}"): lambda w, k: Call(
        "DELETE", f"/admin/notify/targets/{w.notify_target}"
    ),
    ("dispatch", "GET /admin/notify/notifications"): lambda w, k: Call("GET", "/admin/notify/notifications"),
    ("dispatch", "POST /admin/notify/notifications/{notification_id}/redrive"): lambda w, k: Call(
        "POST", f"/admin/notify/notifications/{w.notification}/redrive"
    ),
    ("dispatch", "POST /admin/notify/notifications/redrive"): lambda w, k: Call(
        "POST", "/admin/notify/notifications/redrive", {"target_id": "0"}
    ),
    ("dispatch", "GET /v1/notify/targets"): lambda w, k: Call("GET", "/v1/notify/targets"),
    ("dispatch", "PUT /v1/notify/targets"): lambda w, k: Call(
        "PUT", "/v1/notify/targets", body={"channel": "sms", "name": "authz", "config": {"phones": ["13800000000"]}}
    ),
    ("dispatch", "DELETE /v1/notify/targets/{target_id}"): lambda w, k: Call(
        "DELETE", f"/v1/notify/targets/{w.unit_target}"
    ),
    ("dispatch", "POST /notify/v1/alertmanager"): lambda w, k: Call(
        "POST", "/notify/v1/alertmanager", {"audience": "authz"}, body=ALERTS
    ),
    ("dispatch", "POST /v1/login"): lambda w, k: Call(
        "POST", "/v1/login", body={"username": "pm1", "password": "pm1-demo-2026"}
    ),
    ("dispatch", "GET /.well-known/jwks.json"): lambda w, k: Call("GET", "/.well-known/jwks.json"),
    ("dispatch", "GET /console"): lambda w, k: Call("GET", "/console"),
    ("dispatch", "GET /console/"): lambda w, k: Call("GET", "/console/"),
    ("dispatch", "GET /console/config.json"): lambda w, k: Call("GET", "/console/config.json"),
    ("dispatch", "GET /console/{name}"): lambda w, k: Call("GET", "/console/app.js"),
    ("dispatch", "GET /field"): lambda w, k: Call("GET", "/field"),
    ("dispatch", "GET /field/"): lambda w, k: Call("GET", "/field/"),
    ("dispatch", "GET /field/config.json"): lambda w, k: Call("GET", "/field/config.json"),
    ("dispatch", "GET /field/{name}"): lambda w, k: Call("GET", "/field/app.js"),
    ("dispatch", "GET /console/events"): lambda w, k: Call("GET", "/console/events", token_in_query=True),
    # followup
    ("followup", "GET /v1/visits"): lambda w, k: Call(
        "GET", "/v1/visits", {"status": "all", "case_id": w.reports["V"]["case_id"]}
    ),
    ("followup", "GET /v1/visits/{visit_id}"): lambda w, k: Call("GET", f"/v1/visits/{w.visit}"),
    ("followup", "POST /v1/visits/{visit_id}/record"): lambda w, k: Call(
        "POST", f"/v1/visits/{w.visit}/record", body=WARM
    ),
    ("followup", "POST /v1/spot-checks/draw"): lambda w, k: Call(
        "POST", "/v1/spot-checks/draw", {"street_id": "S-JYG"}
    ),
    ("followup", "GET /v1/spot-checks"): lambda w, k: Call("GET", "/v1/spot-checks", {"street_id": "S-JYG"}),
    ("followup", "GET /v1/spot-checks/{check_id}"): lambda w, k: Call("GET", f"/v1/spot-checks/{w.spot_check}"),
    ("followup", "POST /v1/spot-checks/{check_id}/record"): lambda w, k: Call(
        "POST", f"/v1/spot-checks/{w.spot_check}/record", body=WARM
    ),
    ("followup", "GET /v1/scorecards"): lambda w, k: Call("GET", "/v1/scorecards", {"unit_id": "U-PM-1"}),
    ("followup", "GET /v1/assessment"): lambda w, k: Call("GET", "/v1/assessment", {"unit_id": "U-PM-1"}),
    ("followup", "GET /v1/reports/daily"): lambda w, k: Call(
        "GET", "/v1/reports/daily", {"community_id": "CM-PHN", "date": _yesterday()}
    ),
    ("followup", "GET /v1/reports/season"): lambda w, k: Call(
        "GET", "/v1/reports/season", {"community_id": "CM-PHN", "start": _yesterday(), "end": _yesterday()}
    ),
}


def build(service: str, route: str) -> Build | None:
    return BUILD.get((service, route)) or BUILD.get((EVERY_SERVICE, route))


async def send(w: World, service: str, call: Call, kind: Caller, who: str | None) -> httpx.Response:
    headers: dict[str, str] = {}
    params = dict(call.params)
    if kind in BEARER:
        assert who is not None
        if call.token_in_query:
            params["token"] = w.tokens[who]
        else:
            headers["Authorization"] = f"Bearer {w.tokens[who]}"
    elif kind is Caller.ADMIN_TOKEN:
        headers |= ADMIN
    elif kind is Caller.OPEN311:
        params["api_key"] = DEV_OPEN311_KEY
    elif kind is Caller.SENSOR:
        headers["X-Api-Key"] = DEV_SENSOR_KEY
    elif kind is Caller.ALERTMANAGER:
        headers |= ALERT_AUTH
    url = call.path + (f"?{urlencode(params)}" if params else "")
    content: bytes | None = None
    if call.form is not None:
        content = urlencode(call.form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif call.body is not None:
        content = json.dumps(call.body, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    if kind is Caller.HOTLINE:
        assert who is not None
        signed = url.encode() if call.method == "GET" else (content or b"")
        headers |= signed_headers(who, SECRETS[who], signed)
    return await w.http(service).request(call.method, url, content=content, headers=headers)


# -- what a caller saw of the home object in a list -----------------------------------------------------------------


def _ids(body: Any) -> set[str]:
    return {x["id"] for x in body} if isinstance(body, list) else set()


async def _stream_shows_more_than_its_own(w: World, kind: Caller, who: str, r: httpx.Response) -> bool:
    """Whether a stream shows more than the caller's own API does (anything but a version digest and the count of
    its own open assignments)."""
    data = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    mine = await w.http("dispatch").get("/v1/assignments", headers={"Authorization": f"Bearer {w.tokens[who]}"})
    own = len(mine.json()) if mine.status_code == 200 else 0
    leaked = any(i in r.text for rep in w.reports.values() for i in (rep["id"], rep["case_id"]))
    return leaked or not data or data[-1]["open"] != own or set(data[-1]) != {"version", "open"}


SEEN: dict[tuple[str, str], Callable[[World, Caller, Any], bool]] = {
    ("intake", "GET /v1/visits"): lambda w, k, b: w.ledger_visit in _ids(b),
    ("intake", "GET /v1/places"): lambda w, k, b: any(p["building_id"] == f"B-AZ-{w.sfx}" for p in b),
    ("intake", "GET /v1/visits/summary"): lambda w, k, b: b["grid_id"] == "G-PHN-01",
    ("dispatch", "GET /v1/assignments"): lambda w, k, b: w.assignment(k) in _ids(b),
    ("dispatch", "GET /v1/extensions"): lambda w, k, b: w.extension in _ids(b),
    ("dispatch", "GET /v1/cases"): lambda w, k, b: w.case(k) in _ids(b),
    ("followup", "GET /v1/visits"): lambda w, k, b: w.visit in _ids(b),
    ("followup", "GET /v1/spot-checks"): lambda w, k, b: w.spot_check in _ids(b),
    ("followup", "POST /v1/spot-checks/draw"): lambda w, k, b: any(d["street_id"] == "S-JYG" for d in b),
    ("followup", "GET /v1/scorecards"): lambda w, k, b: any(line["key"] == "U-PM-1" for line in b["lines"]),
    ("followup", "GET /v1/assessment"): lambda w, k, b: any(line["key"] == "U-PM-1" for line in b["lines"]),
}


async def seen(w: World, service: str, route: str, kind: Caller, who: str | None, r: httpx.Response) -> bool | None:
    """Whether a list or aggregate answered with 2xx shows the home object; None for a single object."""
    if not r.is_success:
        return None
    if (service, route) == ("dispatch", "GET /console/events"):
        assert who is not None
        # "Someone else's" is the home caller's assignments: a stream that shows only the caller's own API view.
        return who == HOME.get(kind) or await _stream_shows_more_than_its_own(w, kind, who, r)
    probe = SEEN.get((service, route))
    return probe(w, kind, r.json()) if probe else None


def judge(expected: Outcome, r: httpx.Response, shown: bool | None) -> bool:
    if expected is Outcome.ALLOWED:
        return (r.status_code < 400 or r.status_code == 409) and shown is not False
    if expected is Outcome.HIDDEN:
        return r.status_code == 404 or (r.is_success and shown is False)
    return r.status_code == int(expected.value)


def check_contact(w: World, cell: Access, who: str, r: httpx.Response) -> str | None:
    """The contact route's answer: whole, or masked as the cell says."""
    if r.status_code != 200:
        return None
    body = r.json()
    name, phone = w.residents[w.household(1)]
    want = (mask_name(name), mask_phone(phone)) if cell.masked else (name, phone)
    if (body["resident_name"], body["phone"]) != want or body["masked"] is not cell.masked:
        return f"contact as {who}: {body}, expected {want} masked={cell.masked}"
    return None


def pii_in(w: World, r: httpx.Response) -> list[str]:
    return [s for s in w.secrets() if s in r.text]


# -- the tests --------------------------------------------------------------------------------------------------------


async def test_every_route_of_every_app_has_a_row_and_a_call(loop: Loop) -> None:
    missing, uncalled = [], []
    for service, app in apps(loop).items():
        for route in sorted(route_keys(app)):
            if access(service, route) is None:
                missing.append(f"{service} {route}")
            elif build(service, route) is None:
                uncalled.append(f"{service} {route}")
    assert not missing, "routes with no row in deploy/authz_matrix.py:\n" + "\n".join(missing)
    assert not uncalled, "routes with no call in BUILD of this test:\n" + "\n".join(uncalled)
    stale = [
        f"{service} {route}"
        for service in SERVICES
        for route in sorted({r for row in rows_of(service) for r in row.routes})
        if route not in route_keys(apps(loop)[service])
    ]
    assert not stale, "rows naming routes the apps do not have:\n" + "\n".join(stale)


async def test_the_matrix_holds_for_every_route_and_caller(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "STREAM_SECONDS", 0.3)
    monkeypatch.setattr(console, "POLL_SECONDS", 0.1)
    failures: list[str] = []
    calls = 0
    for service, app in apps(world.loop).items():
        for route in sorted(route_keys(app)):
            cells, make = access(service, route), build(service, route)
            assert cells is not None and make is not None, f"{service} {route}"
            for kind in Caller:
                cell = cells[kind]
                runs = [(HOME.get(kind), cell.own)]
                if kind in AWAY:
                    runs.append((AWAY[kind], cell.foreign))
                for who, expected in runs:
                    r = await send(world, service, make(world, kind), kind, who)
                    calls += 1
                    shown = await seen(world, service, route, kind, who, r)
                    label = f"{service} {route} as {kind.value}({who})"
                    if not judge(expected, r, shown):
                        failures.append(
                            f"{label}: expected {expected.value}, got {r.status_code} shown={shown} {r.text[:160]}"
                        )
                    contact_full = route.endswith("/contact") and r.status_code == 200 and not cell.masked
                    if not contact_full and (leak := pii_in(world, r)):
                        failures.append(f"{label}: personal data in the answer: {leak}")
                    if route.endswith("/contact") and (wrong := check_contact(world, cell, str(who), r)):
                        failures.append(wrong)
    assert not failures, f"{len(failures)} of {calls} calls broke the matrix:\n" + "\n".join(failures)


async def test_a_guessed_id_answers_exactly_like_someone_elses(world: World) -> None:
    """For every route of an object, someone else's object and one that does not exist give the same answer."""
    fake = guess(world)
    compared = 0
    for service, app in apps(world.loop).items():
        for route in sorted(route_keys(app)):
            cells, make = access(service, route), build(service, route)
            if "{" not in route:
                continue
            assert cells is not None and make is not None
            for kind, who in AWAY.items():
                if cells[kind].own is not Outcome.ALLOWED or cells[kind].foreign is not Outcome.HIDDEN:
                    continue
                if (service, route) in SEEN or route == "GET /console/events":
                    continue
                theirs = await send(world, service, make(world, kind), kind, who)
                nobodys = await send(world, service, make(fake, kind), kind, who)
                assert theirs.status_code == nobodys.status_code == 404, (
                    service,
                    route,
                    who,
                    theirs.text,
                    nobodys.text,
                )
                assert theirs.content == nobodys.content, (service, route, who)
                compared += 1
    assert compared >= 15


async def test_list_filters_naming_someone_else_show_only_ones_own(world: World) -> None:
    t = world.reports["T"]
    mine = await world.call(
        "dispatch",
        "GET",
        "/v1/assignments",
        "U-PM-2",
        params={"include_done": "true", "unit_id": "U-PM-1", "case_id": t["case_id"]},
    )
    assert all(a["unit_id"] == "U-PM-2" for a in mine) and t["case_id"] not in {a["case_id"] for a in mine}
    assert await world.call("dispatch", "GET", "/v1/cases", "U-PM-2", expect=403, params={"unit_id": "U-PM-2"})
    street = await world.call("dispatch", "GET", "/v1/cases", "TF-OTHER", params={"status": "", "street_id": "S-JYG"})
    assert street == []
    ledger = await world.call("intake", "GET", "/v1/visits", "GW-03", params={"day": LEDGER_DAY, "grid_id": "G-PHN-01"})
    assert all(v["grid_id"] == "G-XC-01" for v in ledger)
    card = await world.call("followup", "GET", "/v1/scorecards", "U-PM-2", params={"unit_id": "U-PM-1"})
    assert [line["key"] for line in card["lines"]] in ([], ["U-PM-2"])
    hotline = await world.call("followup", "GET", "/v1/assessment", "U-PM-2", params={"unit_id": "U-PM-1"})
    assert [line["key"] for line in hotline["lines"]] in ([], ["U-PM-2"])
    visits = await world.call(
        "followup", "GET", "/v1/visits", "GW-03", params={"status": "all", "case_id": world.reports["V"]["case_id"]}
    )
    assert visits == []
    checks = await world.call("followup", "GET", "/v1/spot-checks", "TF-OTHER", params={"street_id": "S-JYG"})
    assert checks == []


async def test_a_joint_case_shows_each_unit_only_its_own_steps(world: World) -> None:
    """联处: a burst pipe convenes the heating company and the property manager. The task force sees every step;
    each unit sees who else was convened, and only its own assignment, notes and extension requests."""
    await report(world, "J", 13, "burst_pipe", "楼道暖气管爆裂", "U-PM-1")
    case_id = world.reports["J"]["case_id"]
    heat = (await assignment_of(world, "U-HEAT-1", case_id))["id"]
    await world.call("dispatch", "POST", f"/v1/assignments/{heat}/sign-in", "U-HEAT-1")
    await world.call(
        "dispatch", "POST", f"/v1/assignments/{heat}/progress", "U-HEAT-1", json={"note": "主阀需停水更换"}
    )
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ext = await world.call(
        "dispatch",
        "POST",
        f"/v1/assignments/{heat}/extensions",
        "U-HEAT-1",
        expect=201,
        json={"reason": "等待阀门配件", "resolve_due": due},
    )

    full = await world.call("dispatch", "GET", f"/v1/cases/{case_id}", "TF-JYG")
    assert {a["unit_id"] for a in full["assignments"]} == {"U-HEAT-1", "U-PM-1"}
    assert [e["id"] for e in full["extensions"]] == [ext["id"]] and "主阀需停水更换" in json.dumps(
        full, ensure_ascii=False
    )
    pm = await world.call("dispatch", "GET", f"/v1/cases/{case_id}", "U-PM-1")
    assert {a["unit_id"] for a in pm["assignments"]} == {"U-PM-1"} and pm["extensions"] == []
    text = json.dumps(pm, ensure_ascii=False)
    for theirs in (heat, ext["id"], "主阀需停水更换", "等待阀门配件"):
        assert theirs not in text, theirs
    convened = {e["detail"].get("unit_id") for e in pm["timeline"] if e["kind"] == "dispatched"}
    assert convened == {"U-HEAT-1", "U-PM-1"}  # who else is on the case is no secret
    own = await world.call("dispatch", "GET", f"/v1/cases/{case_id}", "U-HEAT-1")
    assert [e["id"] for e in own["extensions"]] == [ext["id"]] and "主阀需停水更换" in json.dumps(
        own, ensure_ascii=False
    )


async def test_the_live_stream_moves_only_for_what_its_caller_may_see(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "STREAM_SECONDS", 20.0)
    monkeypatch.setattr(console, "POLL_SECONDS", 0.2)
    http = world.http("dispatch")
    watchers = ("U-PM-1", "U-PM-2", "GW-03", "TF-JYG", "TF-OTHER", "DIST-OTHER")
    streams = {w: asyncio.create_task(http.get("/console/events", params={"token": world.tokens[w]})) for w in watchers}
    await asyncio.sleep(1.0)  # every stream has sent its first version
    started = asyncio.get_running_loop().time()
    await report(world, "S", 11, "leak", "卫生间暖气片漏水", "U-PM-1")
    assert asyncio.get_running_loop().time() - started < 17, "the case came too late for the streams to see it"
    answers = {w: await t for w, t in streams.items()}

    def versions(who: str) -> list[dict[str, Any]]:
        r = answers[who]
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
        return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]

    mine = await world.call("dispatch", "GET", "/v1/assignments", "U-PM-1")
    assert len(versions("U-PM-1")) >= 2 and versions("U-PM-1")[-1]["open"] == len(mine)
    assert len(versions("TF-JYG")) >= 2  # its street's timeline moved
    for other in ("U-PM-2", "GW-03", "TF-OTHER", "DIST-OTHER"):
        assert len(versions(other)) == 1, f"{other}'s stream moved for a case it may not see: {versions(other)}"
    for r in answers.values():
        for key in ("S", "T"):
            assert world.reports[key]["case_id"] not in r.text and world.reports[key]["id"] not in r.text
        assert world.assignments["S"]["id"] not in r.text and not pii_in(world, r)
    admin = await http.get("/console/events", params={"token": world.tokens["admin"]})
    assert admin.status_code == 403 and admin.json()["detail"]["code"] == "forbidden"


async def test_the_resident_is_reachable_only_while_the_unit_answers_for_the_case(world: World) -> None:
    await report(world, "X", 12, "leak", "厨房暖气片漏水", "U-PM-1")
    path = f"/v1/reports/{world.reports['X']['id']}/contact"
    name, phone = world.residents[world.household(12)]

    async def contact(who: str, expect: int = 200) -> Any:
        return await world.call("intake", "GET", path, who, expect=expect)

    await wait_until("intake to learn U-PM-1 answers for X", lambda: _agency_has(world, "X", "U-PM-1"))
    assert await contact("U-PM-1") == {
        "report_id": world.reports["X"]["id"],
        "household_id": world.household(12),
        "resident_name": name,
        "phone": phone,
        "masked": False,
    }
    assert (await contact("GW-01"))["phone"] == phone
    tf = await contact("TF-JYG")
    assert (tf["resident_name"], tf["phone"], tf["masked"]) == (mask_name(name), mask_phone(phone), True)
    for stranger in ("U-PM-2", "U-HEAT-1", "GW-03", "TF-OTHER", "DIST-OTHER"):
        assert (await contact(stranger, 404))["detail"]["code"] == "report_not_found"

    # 退单: the unit hands the case back and can no longer reach the resident; the street's own unit takes it.
    a = world.assignments["X"]["id"]
    await world.call("dispatch", "POST", f"/v1/assignments/{a}/return", "U-PM-1", json={"reason": "not_our_area"})
    await wait_until("U-PM-1 to lose the contact", lambda: _gone(world, path, "U-PM-1"))
    await wait_until("intake to learn the task force unit answers for X", lambda: _agency_has(world, "X", "U-TF-JYG"))
    assert (await contact("U-TF-JYG"))["phone"] == phone

    # Re-tiering withdraws the round's units: they lose the contact too (the grid now settles it).
    await world.call(
        "dispatch", "POST", f"/v1/cases/{world.reports['X']['case_id']}/tier", "TF-JYG", json={"tier": "minor"}
    )
    await wait_until("U-TF-JYG to lose the contact", lambda: _gone(world, path, "U-TF-JYG"))
    assert (await contact("GW-01"))["phone"] == phone

    # A closed case: the unit that fixed it no longer reaches the resident; overseers still see the masked form.
    closed = f"/v1/reports/{world.reports['V']['id']}/contact"
    await wait_until("V closed in intake", lambda: _gone(world, closed, "U-PM-1"))
    assert (await world.call("intake", "GET", closed, "TF-JYG"))["masked"] is True


async def _gone(w: World, path: str, who: str) -> bool:
    r = await w.http("intake").get(path, headers={"Authorization": f"Bearer {w.tokens[who]}"})
    return r.status_code == 404
