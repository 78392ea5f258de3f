"""The field app (/field/) on a phone — Debian's Chromium with mobile emulation (390 × 844, touch) — against the three
services as processes on the real stack: a grid worker's one-tap report with a photo; actions queued offline,
the browser closed and reopened, delivered exactly once when the signal returns, a refused one kept with the
server's reason; a crew's 签收 → 到场 → 办结 with a photo; a 回访 with a photo that closes the case.

Benchmarks are printed, not asserted: the first load in bytes (the app's own files, the service worker's
precache included; the API's answers apart) and the offline start (navigation to the signed-in screen, served by
the service worker with no network). ``UPDATE_SCREENSHOTS=1`` writes the screenshots to docs/screenshots/field/.

Every screen a test takes a screenshot of is also checked by axe-core (``tests.e2e.axe``): no serious or critical
violation.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from playwright.sync_api import Playwright, expect, sync_playwright

from deploy.platform12345 import Platform
from shared.photos import PhotoStore, PhotoStoreSettings
from shared.settings import DEV_ADMIN_TOKEN
from tests.e2e.conftest import Running
from tests.e2e.field_browser import CHROMIUM, Phone, photo_file
from tests.harness import PG_PORT, S3_ENDPOINT

T = TypeVar("T")
ZONE = ZoneInfo("Asia/Shanghai")
FLOW = 30_000  # ms: an action travels the phone's outbox → service → Kafka → the other services well within this

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-wqy-microhei", pytrace=False)
    with sync_playwright() as p:
        yield p


@pytest.fixture
def phones(playwright: Playwright, running: Running, tmp_path: Path) -> Iterator[Any]:
    """Open a phone (a persistent profile per name, so it can be closed and opened again)."""
    opened: list[Phone] = []

    def open_phone(name: str, *, offline: bool = False) -> Phone:
        phone = Phone(playwright.chromium, tmp_path / name, running.services.url("dispatch"), offline=offline)
        opened.append(phone)
        return phone

    yield open_phone
    for phone in opened:
        phone.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def query(running: Running, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Read a service's own database: what the server stored, counted beside what the phone says."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database=running.services.databases[service]
        )
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return off_thread(run)


def off_thread(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a thread of its own (Playwright's sync API runs a loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def photo_size(key: str) -> tuple[int, int]:
    info = off_thread(lambda: PhotoStore(PhotoStoreSettings(endpoint_url=S3_ENDPOINT)).inspect(key))
    return info.width, info.height


def resolved_case(running: Running, household: str, category: str) -> tuple[str, dict[str, Any]]:
    """A case fixed by its heating company through the API, so a return visit is owed: (case id, the visit)."""
    report = running.client.grid_report(
        "GW-01", household_id=household, category=category, description="居民反映暖气不热", measured_temp_c=15.0
    )
    case_id = running.client.wait_case_of("GW-01", report["id"], timeout=30)
    a = running.client.wait_assignment("U-HEAT-1", case_id, timeout=30)
    # The e2e tests share one set of services: a (household, category) another test reported is grouped into its case.
    assert a["status"] == "dispatched", (
        f"{household}/{category} joined another test's case {case_id}: pick another pair"
    )
    for action in ("sign-in", "arrive"):
        running.client.act("U-HEAT-1", a["id"], action)
    running.client.act("U-HEAT-1", a["id"], "resolve", action_taken="清洗过滤器，排气", measured_temp_c=19.0)
    return case_id, running.client.wait_visit("GW-01", case_id, timeout=30)


def test_one_tap_report_with_a_photo(running: Running, phones: Any, tmp_path: Path) -> None:
    phone = phones("gw01")
    page = phone.open()
    phone.shot("01-login.png")
    page.fill("input[name=username]", "gw01")
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="登录").tap()
    expect(page.locator(".login .notice.error")).to_have_text("用户名或密码错误")
    phone.sign_in("gw01", "gw01-demo-2026", "王军")
    expect(page.locator(".card.household")).to_have_count(3)  # the grid's households, from intake's places
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.shot("02-grid-today.png")
    loaded = phone.app_bytes()
    print(f"\n[bench] field app first load: {loaded['files']} bytes of the app's files, {loaded['api']} bytes of API")

    page.locator(".big-actions").get_by_role("link", name="一键上报").tap()
    page.locator(".choice", has_text="粮库家属院").tap()
    page.locator(".choice", has_text="1号楼").tap()
    phone.shot("03-report-place-unit.png")
    page.locator(".choice", has_text="1单元").tap()
    page.locator(".choice", has_text="102室").tap()
    expect(page.locator(".picked-label")).to_have_text("粮库家属院 · 1号楼 · 1单元 · 102室")
    page.locator("button.cat[data-category=underfloor_imbalance]").tap()
    page.fill("textarea[name=description]", "地暖南侧回路不热，北侧正常")
    page.fill("input[name=measured_temp_c]", "16.5")
    page.set_input_files("input[name=photo]", str(photo_file(tmp_path, size=(4000, 3000))))
    expect(page.locator(".thumb img")).to_have_count(1)
    phone.shot("04-report-form.png")
    page.get_by_role("button", name="上报", exact=True).tap()
    phone.wait_outbox(0)
    expect(page.locator(".toast")).to_contain_text("已发送")

    rows = query(
        running,
        "intake",
        "SELECT id, category, measured_temp_c, photo_refs, location FROM reports "
        "WHERE channel = 'grid_report' AND description LIKE '%地暖南侧回路不热%'",
    )
    assert len(rows) == 1, rows
    report = rows[0]
    assert report["category"] == "underfloor_imbalance" and report["measured_temp_c"] == 16.5
    (key,) = _json(report["photo_refs"])
    width, height = photo_size(key)
    assert max(width, height) <= 1600, (width, height)  # shrunk on the phone (canvas) before it was sent

    # The place comes back first next time (recent places).
    page.locator(".big-actions").get_by_role("link", name="一键上报").tap()
    expect(page.locator(".choices .choice.place").first).to_have_text("粮库家属院 · 1号楼 · 1单元 · 102室")
    phone.shot("05-report-recent-places.png")


def test_offline_actions_are_delivered_exactly_once_after_the_browser_restarts(
    running: Running, phones: Any, tmp_path: Path
) -> None:
    _, visit = resolved_case(running, "H-LK-1-102", "underfloor_imbalance")
    phone = phones("gw01-offline")
    page = phone.open()
    phone.sign_in("gw01", "gw01-demo-2026", "王军")
    expect(page.locator(f".card.visit[data-visit-id='{visit['id']}']")).to_be_visible()
    expect(page.locator(".card.household")).to_have_count(3)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the app's files are cached for offline

    phone.offline(True)
    expect(page.locator(".top .net")).to_be_visible()
    # 1. 访民问暖, no problem found
    page.locator(".card.household[data-household-id='H-LK-1-101']").get_by_role("link", name="走访").tap()
    page.fill("input[name=measured_temp_c]", "19.5")
    page.get_by_role("button", name="增加").tap()
    phone.shot("06-ledger-form.png")
    page.get_by_role("button", name="记入台账").tap()
    phone.wait_outbox(1)
    # 2. 一键上报 with a photo: kept on the phone until the signal returns
    page.locator(".card.household[data-household-id='H-LK-2-201']").get_by_role("link", name="上报").tap()
    page.locator("button.cat[data-category=clogged_filter]").tap()
    page.fill("textarea[name=description]", "进户阀门处过滤器堵塞离线记录")
    page.set_input_files("input[name=photo]", str(photo_file(tmp_path)))
    expect(page.locator(".thumb img")).to_have_count(1)
    page.get_by_role("button", name="上报", exact=True).tap()
    phone.wait_outbox(2)
    # 3. the return visit owed
    page.locator(f".card.visit[data-visit-id='{visit['id']}']").tap()
    page.fill("input[name=room_temp_0]", "20.5")
    page.locator("button[data-satisfaction=satisfied]").tap()
    page.get_by_role("button", name="提交回访").tap()
    expect(page.locator(".visit-form .notice.error")).to_have_text("请拍摄温度计照片")  # follow-up's rule, offline too
    page.set_input_files("input[name=photo]", str(photo_file(tmp_path, "thermometer.jpg")))
    expect(page.locator(".thumb img")).to_have_count(1)
    page.get_by_role("button", name="提交回访").tap()
    phone.wait_outbox(3)
    # 4. another 访民问暖
    page.locator(".card.household[data-household-id='H-LK-2-201']").get_by_role("link", name="走访").tap()
    page.fill("input[name=measured_temp_c]", "18")
    page.get_by_role("button", name="记入台账").tap()
    phone.wait_outbox(4)
    page.locator(".outbox-chip").tap()
    expect(page.locator(".outbox .item")).to_have_count(4)
    phone.shot("07-outbox-offline.png")
    phone.close()

    # Meanwhile a colleague records the same return visit from another phone: the app's will be refused.
    running.client.record_visit("GW-01", visit["id"], reached=True, room_temps_c=[20.0], satisfaction="satisfied")

    phone = phones("gw01-offline", offline=True)  # the same profile, no network
    started = time.monotonic()
    page = phone.open("/field/#/outbox")
    expect(page.locator(".top .who .name")).to_have_text("王军")
    expect(page.locator(".outbox .item")).to_have_count(4)
    wall = time.monotonic() - started
    ready = page.evaluate("performance.getEntriesByName('field-ready')[0].startTime")
    print(f"\n[bench] field app offline start: {ready:.0f} ms to the signed-in screen ({wall * 1000:.0f} ms wall)")
    phone.wait_outbox(4)

    phone.offline(False)
    phone.wait_outbox(0, refused=1, timeout=FLOW)
    refused = page.locator(".outbox .item.parked")
    expect(refused).to_have_count(1)
    expect(refused).to_have_attribute("data-kind", "return_visit")
    expect(refused.locator(".reason")).to_have_text("该回访已完成或已取消，无需重复登记")
    expect(refused.get_by_role("link", name="修改")).to_be_visible()
    expect(refused.get_by_role("button", name="放弃")).to_be_visible()
    phone.shot("08-outbox-refused.png")

    # Exactly once, on the server.
    today = datetime.now(ZONE).date().isoformat()
    ledger = running.client.call("intake", "GET", f"/v1/visits?day={today}", who="GW-01")
    assert sorted(v["household_id"] for v in ledger if v["household_id"] in ("H-LK-1-101", "H-LK-2-201")) == [
        "H-LK-1-101",
        "H-LK-2-201",
    ], ledger
    (by_phone,) = [v for v in ledger if v["household_id"] == "H-LK-1-101"]
    assert by_phone["measured_temp_c"] == 19.5 and by_phone["residents_reached"] == 2
    rows = query(
        running, "intake", "SELECT photo_refs FROM reports WHERE description LIKE '%进户阀门处过滤器堵塞离线记录%'"
    )
    assert len(rows) == 1 and len(_json(rows[0]["photo_refs"])) == 1, rows
    recorded = running.client.call("followup", "GET", f"/v1/visits/{visit['id']}", who="GW-01")
    assert recorded["room_temps_c"] == [20.0]  # the colleague's, not the refused one's

    # The refused action is discarded by the person, never silently.
    refused.get_by_role("button", name="放弃").tap()
    refused.get_by_role("button", name="确认放弃").tap()
    phone.wait_outbox(0, refused=0)
    expect(page.locator(".outbox .item")).to_have_count(0)


def test_a_crew_signs_in_arrives_and_resolves_with_a_photo(running: Running, phones: Any, tmp_path: Path) -> None:
    report = running.client.grid_report(
        "GW-01", household_id="H-LK-1-101", category="air_lock", description="暖气片上热下凉，需要排气"
    )
    case_id = running.client.wait_case_of("GW-01", report["id"], timeout=30)
    a = running.client.wait_assignment("U-HEAT-1", case_id, timeout=30)

    phone = phones("heat1-crew")
    phone.context.grant_permissions(["geolocation"], origin=running.services.url("dispatch"))
    phone.context.set_geolocation({"latitude": 36.061234, "longitude": 103.834567, "accuracy": 25})
    page = phone.open()
    phone.sign_in("heat1-crew", "heat1-crew-demo-2026", "城关第一供热公司")
    card = page.locator(f"article.assignment[data-id='{a['id']}']")
    expect(card).to_be_visible()
    expect(card.locator(".badge.resident")).to_have_text("重点人群")  # 独居老人
    expect(card.locator(".clock")).to_contain_text("签收剩余")
    phone.shot("09-crew-assignments.png")

    card.get_by_role("button", name="签收").tap()
    expect(page.locator(".toast")).to_contain_text("已发送：签收", timeout=FLOW)
    phone.wait_outbox(0)
    expect(card).to_have_attribute("data-status", "signed_in", timeout=FLOW)
    card.locator(".card-link").tap()
    detail = page.locator(".assignment-detail")
    expect(detail).to_have_attribute("data-status", "signed_in")
    page.get_by_role("button", name="延期").tap()
    page.fill("textarea[name=reason]", "需更换户内阀门，配件明日到货")
    phone.shot("10-crew-extension-form.png")
    page.locator(".form-extensions").get_by_role("button", name="取消").tap()
    page.get_by_role("button", name="退单").tap()
    phone.shot("11-crew-return-form.png")
    page.locator(".form-return").get_by_role("button", name="取消").tap()
    phone.shot("12-crew-assignment.png")

    page.locator("input[name=with_position]").check()
    page.get_by_role("button", name="到场", exact=True).tap()
    expect(page.locator(".toast")).to_contain_text("已发送：到场", timeout=FLOW)
    phone.wait_outbox(0)
    expect(detail).to_have_attribute("data-status", "on_site", timeout=FLOW)
    page.get_by_role("button", name="办结", exact=True).tap()
    page.fill("textarea[name=action_taken]", "逐组排气，暖气片上下均热")
    page.fill("input[name=measured_temp_c]", "20.5")
    page.set_input_files("input[name=photo]", str(photo_file(tmp_path)))
    expect(page.locator(".form-resolve .thumb img")).to_have_count(1)
    phone.shot("13-crew-resolve-form.png")
    page.locator(".form-resolve").get_by_role("button", name="提交").tap()
    expect(page.locator(".toast")).to_contain_text("已发送：办结", timeout=FLOW)  # a refusal would show its reason
    phone.wait_outbox(0)
    expect(page.locator(".cards.assignments, .empty")).to_be_visible()
    expect(page.locator(f"article.assignment[data-id='{a['id']}']")).to_have_count(0)

    case = running.client.case("TF-JYG", case_id)
    (mine,) = [x for x in case["assignments"] if x["unit_id"] == "U-HEAT-1"]
    assert mine["status"] == "resolved" and mine["measured_temp_c"] == 20.5
    assert mine["arrival_position"] == {"lat": 36.061, "lon": 103.835, "accuracy_m": 100.0}  # coarse, ~100 m
    kinds = [e["kind"] for e in case["timeline"]]
    for kind in ("signed_in", "arrived", "unit_resolved"):
        assert kinds.count(kind) == 1, kinds  # each action once
    (stored,) = query(running, "dispatch", "SELECT photo_refs FROM assignments WHERE id = $1", a["id"])
    (key,) = _json(stored["photo_refs"])
    assert max(photo_size(key)) <= 1600
    # The phone's shrunk copy kept when the photo was taken (its own EXIF time, nothing else), so the photo is not
    # flagged as taken outside the job.
    (photo,) = mine["photos"]
    assert photo["key"] == key and photo["taken_at"] and photo["outside_window"] is False, photo


def test_a_return_visit_with_a_photo_closes_the_case(running: Running, phones: Any, tmp_path: Path) -> None:
    case_id, visit = resolved_case(running, "H-LK-2-201", "underfloor_imbalance")
    phone = phones("gw01-visit")
    page = phone.open()
    phone.sign_in("gw01", "gw01-demo-2026", "王军")
    card = page.locator(f".card.visit[data-visit-id='{visit['id']}']")
    expect(card).to_contain_text("粮库家属院 · 2号楼 · 2单元 · 201室")
    expect(card.locator(".clock")).to_contain_text("剩余")
    card.tap()
    page.fill("input[name=room_temp_0]", "20.5")
    page.fill("input[name=room_temp_1]", "19.8")
    page.locator("button[data-satisfaction=satisfied]").tap()
    page.fill("textarea[name=notes]", "地暖各回路均热，居民满意")
    page.set_input_files("input[name=photo]", str(photo_file(tmp_path, "thermometer.jpg")))
    expect(page.locator(".thumb img")).to_have_count(1)
    phone.shot("14-return-visit-form.png")
    page.get_by_role("button", name="提交回访").tap()
    expect(page.locator(".toast")).to_contain_text("已发送：回访", timeout=FLOW)
    phone.wait_outbox(0)
    expect(page.locator(f".card.visit[data-visit-id='{visit['id']}']")).to_have_count(0, timeout=FLOW)

    running.client.wait_for(
        f"{case_id} closed", lambda: running.client.case("TF-JYG", case_id)["status"] == "closed" or None, timeout=30
    )
    recorded = running.client.call("followup", "GET", f"/v1/visits/{visit['id']}", who="GW-01")
    assert recorded["status"] == "closed" and recorded["room_temps_c"] == [20.5, 19.8]
    (key,) = recorded["photo_refs"]
    assert max(photo_size(key)) <= 1600


def test_a_crew_sees_how_many_households_an_incident_affects(running: Running, phones: Any) -> None:
    # A burst pipe is its building's incident: the second household's report joins the first one's case.
    first = running.client.grid_report(
        "GW-02", household_id="H-DF-3-301", category="burst_pipe", description="楼道暖气管爆了"
    )
    case_id = running.client.wait_case_of("GW-02", first["id"], timeout=30)
    second = running.client.grid_report(
        "GW-02", household_id="H-DF-3-302", category="burst_pipe", description="楼下管子爆了，一直喷水"
    )
    assert running.client.wait_case_of("GW-02", second["id"], timeout=30) == case_id
    running.client.wait_for(
        "two households on the case",
        lambda: running.client.case("TF-JYG", case_id)["affected_households"] == 2,
        timeout=30,
    )
    a = running.client.wait_assignment("U-HEAT-2", case_id, timeout=30)
    phone = phones("heat2-crew")
    page = phone.open()
    phone.sign_in("heat2-crew", "heat2-crew-demo-2026", "城关第二供热公司")
    card = page.locator(f"article.assignment[data-id='{a['id']}']")
    expect(card.locator(".badge.households")).to_have_text("影响 2 户")
    expect(card.locator(".badge.p-emergency")).to_have_text("紧急")


def test_a_crew_hears_what_a_12345_caller_added(running: Running, phones: Any) -> None:
    """补充诉求 and 催单 reach the unit holding the case: on its card and its assignment (from the list the phone
    keeps)."""
    sfx = uuid.uuid4().hex[:6].upper()
    household = f"H-FA-{sfx}-1"
    registry = {
        "buildings": [
            {
                "id": f"B-FA-{sfx}",
                "name": "现场端测试楼",
                "compound_id": "CP-DFHY",
                "grid_id": "G-PHN-02",
                "substation_id": "SS-02",
            }
        ],
        "households": [{"id": household, "building_id": f"B-FA-{sfx}", "unit_no": "1", "room": "101"}],
    }
    r = httpx.put(
        running.services.url("intake") + "/admin/registry", json=registry, headers={"X-Admin-Token": DEV_ADMIN_TOKEN}
    )
    assert r.status_code == 200, r.text
    platform = Platform(running.services.url("intake"))
    order = platform.order(household_id=household, content="居民来电：暖气不热")
    case_id = running.client.wait_case_of("GW-02", order["report_id"], timeout=30)
    a = running.client.wait_assignment("U-HEAT-2", case_id, timeout=30)
    platform.operate(order["order_no"], "supplement", content="家中有卧床老人，请优先处理")
    platform.operate(order["order_no"], "hurry", content="还是不热")
    running.client.wait_for(
        "the hurry on the case", lambda: running.client.case("TF-JYG", case_id)["hurries"] == 1, timeout=30
    )

    phone = phones("heat2-crew")
    page = phone.open()
    phone.sign_in("heat2-crew", "heat2-crew-demo-2026", "城关第二供热公司")
    card = page.locator(f"article.assignment[data-id='{a['id']}']")
    expect(card.locator(".badge.esc")).to_have_text("12345催单 1 次")
    card.click()
    notes = page.locator(".caller-notes li")
    expect(notes).to_have_count(2)
    expect(notes.nth(0)).to_contain_text("补充诉求")
    expect(notes.nth(0)).to_contain_text("家中有卧床老人，请优先处理")
    expect(notes.nth(1)).to_contain_text("催单")
    phone.shot("16-crew-caller-notes.png")
