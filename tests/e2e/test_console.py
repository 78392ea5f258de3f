"""The dispatch console in Debian's Chromium (headless, driven by Playwright with the system browser) against the
three services as processes: a whistle shows up live in the unit's list, the dispatcher signs in and resolves it,
the task force reads the timeline and approves an extension, and another unit sees nothing of it — not in its
list, not by typing the id, not on its live-update stream.

Screenshots of each view go to ``artifacts/console/`` (ignored by git); the helpers are in ``browser.py``, the
phone layout is ``test_console_phone.py``'s.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import LIVE, ZONE, Console, kinds, launch, whistle
from tests.e2e.conftest import Running
from tests.photo_factory import phone_jpeg

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def console(browser: Browser, running: Running) -> Iterator[Any]:
    opened: list[Console] = []

    def open_console() -> Console:
        opened.append(Console(browser, running))
        return opened[-1]

    yield open_console
    for c in opened:
        c.close()


def test_a_whistle_shows_up_live_and_the_dispatcher_resolves_it(running: Running, console: Any, tmp_path: Path) -> None:
    c = console()
    c.shot("01-login.png")
    c.sign_in("heat1", "not-the-password")
    expect(c.page.locator(".login .notice.error")).to_have_text("用户名或密码错误")
    page = c.signed_in("heat1", "heat1-demo", "城关第一供热公司")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    case_id = whistle(running, "GW-01", "H-LK-2-201")  # 低保户: a priority resident, urgent
    row = page.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row).to_be_visible(timeout=LIVE)
    assert page.evaluate("window.sameDocument") is True
    expect(row.locator(".badge.resident")).to_have_text("重点人群")
    expect(row.locator(".badge.p-urgent")).to_have_text("加急")
    expect(row.locator(".clock")).to_contain_text("签收剩余")
    expect(row).to_have_class(re.compile(r"\bt-ok\b"))
    c.shot("02-unit-new-whistle.png")

    row.get_by_role("button", name="签收").click()  # one click
    detail = page.locator(".detail-pane")
    expect(detail.locator(".detail-notice")).to_have_text("已签收")
    expect(row).to_have_attribute("data-status", "signed_in")
    expect(row.locator(".clock")).to_contain_text("到场剩余")

    detail.get_by_role("button", name="到场", exact=True).click()
    expect(detail.locator(".detail-notice")).to_have_text("已到场")
    detail.get_by_role("button", name="进展").click()
    page.fill("textarea[name=note]", "已入户测温15.5°C，排查楼内管线")
    detail.locator(".form-progress").get_by_role("button", name="提交").click()
    expect(detail.locator(".detail-notice")).to_have_text("进展已记录")

    detail.get_by_role("button", name="办结", exact=True).click()
    page.fill("textarea[name=action_taken]", "排气、清洗滤网，室温恢复")
    page.fill("input[name=measured_temp_c]", "99")
    detail.locator(".form-resolve").get_by_role("button", name="提交").click()
    expect(detail.locator(".form-notice")).to_have_text("实测室温：数值过大")  # the API's 422, in Chinese
    c.shot("03-unit-resolve-error.png")
    page.fill("input[name=measured_temp_c]", "20.5")
    photo = tmp_path / "fix.jpg"  # taken now, in Lanzhou's local time, as a phone writes it
    photo.write_bytes(phone_jpeg(taken=datetime.now(ZoneInfo(ZONE)).strftime("%Y:%m:%d %H:%M:%S")))
    page.set_input_files("input[name=photo]", str(photo))
    detail.locator(".form-resolve").get_by_role("button", name="提交").click()
    expect(detail.locator(".detail-notice")).to_have_text("已办结，等待网格员回访")
    expect(row).to_have_count(0)  # no longer open
    assert kinds(page)[:8] == [
        "reported",
        "opened",
        "dispatched",
        "signed_in",
        "arrived",
        "progress",
        "unit_resolved",
        "resolved",
    ]
    c.shot("04-unit-resolved.png")

    case = running.client.case("TF-JYG", case_id)
    (mine,) = [a for a in case["assignments"] if a["unit_id"] == "U-HEAT-1"]
    assert mine["status"] == "resolved" and mine["measured_temp_c"] == 20.5
    assert mine["action_taken"] == "排气、清洗滤网，室温恢复"
    (taken,) = mine["photos"]
    assert not taken["outside_window"] and taken["taken_at"]

    # The task force sees the fix's photo and, once the grid worker's 回访 is in, its thermometer photo too.
    visit = running.client.wait_visit("GW-01", case_id)
    running.client.record_visit("GW-01", visit["id"], room_temps_c=[20.5], satisfaction="satisfied")
    running.client.wait_for("the case to close", lambda: running.client.case("TF-JYG", case_id)["status"] == "closed")
    tf = console()
    tp = tf.signed_in("jyg", "jyg-demo-2026", "嘉峪关路街道工作专班")
    tp.get_by_label("状态", exact=True).select_option("closed")
    tp.locator(f"tr.row[data-case-id='{case_id}']").click()
    photos = tp.locator(".detail-pane li.photo")
    expect(photos).to_have_count(2)  # the fix's, then the return visit's thermometer
    expect(photos.nth(0)).to_contain_text("城关第一供热公司 办结")
    expect(photos.nth(1)).to_contain_text("第1轮回访")
    for i in range(2):
        expect(photos.nth(i).locator("img")).to_have_js_property("complete", True)
        assert photos.nth(i).locator("img").evaluate("img => img.naturalWidth") > 0  # loaded from S3 under the CSP
    expect(tp.locator(".detail-pane .badge.flag")).to_have_count(0)
    tf.shot("08-task-force-case-photos.png")


def test_the_task_force_reads_the_timeline_and_approves_an_extension(running: Running, console: Any) -> None:
    unit = console()
    up = unit.signed_in("heat2", "heat2-demo", "城关第二供热公司")
    case_id = whistle(running, "GW-03", "H-CH-48-201")
    row = up.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row).to_be_visible(timeout=LIVE)
    row.get_by_role("button", name="签收").click()
    unit_detail = up.locator(".detail-pane")
    expect(unit_detail.locator(".detail-notice")).to_have_text("已签收")
    unit_detail.get_by_role("button", name="延期").click()
    wanted = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=6)).replace(hour=10, minute=0, second=0, microsecond=0)
    up.fill("input[name=resolve_due]", wanted.strftime("%Y-%m-%dT%H:%M"))
    up.fill("textarea[name=reason]", "主管道需更换，需停水施工")
    unit_detail.locator(".form-extensions").get_by_role("button", name="提交").click()
    expect(unit_detail.locator(".detail-notice")).to_contain_text("延期申请已提交")

    tf = console()
    tp = tf.signed_in("jyg", "jyg-demo-2026", "嘉峪关路街道工作专班")
    case_row = tp.locator(f"tr.row[data-case-id='{case_id}']")
    expect(case_row).to_be_visible()
    case_row.click()
    detail = tp.locator(".detail-pane")
    expect(detail.locator(".case-head .mono")).to_have_text(case_id)
    expect(detail.locator(".stage.done")).to_have_text(["发现", "上报", "调度", "处置"])
    events = detail.locator(".timeline .event")
    expect(events).to_have_count(5)
    assert kinds(tp) == ["reported", "opened", "dispatched", "signed_in", "extension_requested"]
    heat2 = "城关第二供热公司"  # U-HEAT-2, by its name (GET /v1/units)
    expect(events.locator(".event-actor")).to_have_text(["网格员", "调度系统", "调度系统", heat2, heat2])
    expect(events.nth(4).locator(".event-detail")).to_have_text("主管道需更换，需停水施工")
    expect(detail.locator(".extension .ext-status")).to_have_text("待审批")
    tf.shot("05-task-force-case-timeline.png")

    detail.locator(".extension").get_by_role("button", name="批准", exact=True).click()
    expect(detail.locator(".extension .ext-status")).to_have_text("已批准")
    expect(events).to_have_count(6)
    expect(events.nth(5)).to_have_attribute("data-kind", "extension_decided")
    expect(events.nth(5).locator(".event-actor")).to_have_text("TF-JYG")
    tf.shot("06-task-force-extension-approved.png")

    (a,) = running.client.case("U-HEAT-2", case_id)["assignments"]
    assert datetime.fromisoformat(a["resolve_due"]) == wanted
    # The dispatcher sees the decision without reloading.
    expect(unit_detail.locator(".extension .ext-status")).to_have_text("已批准", timeout=LIVE)

    tp.get_by_role("tab", name="延期审批").click()
    expect(tp.locator(f".tab-panel:not([hidden]) .extension[data-case-id='{case_id}']")).to_have_count(0)

    tp.get_by_role("tab", name="日报与考核").click()
    expect(tp.locator(".report-text")).to_contain_text("日报告")
    expect(tp.locator(".report-text")).to_contain_text("排查问题")
    expect(tp.locator(".scorecard tr[data-unit='U-HEAT-2']")).to_be_visible()
    # the 12345 hotline's assessment beside it, in Chinese
    expect(tp.locator("table.assessment tr[data-unit='U-HEAT-2']")).to_be_visible()
    expect(tp.locator("table.assessment th")).to_contain_text(["排名", "单位", "案件数", "响应率", "解决率", "满意率"])
    tf.shot("07-task-force-report-and-scorecards.png")

    # Re-tier: a complex case is the task force's own; the unit's assignment is withdrawn, live.
    tp.get_by_role("tab", name="辖区案件").click()
    case_row.click()
    detail.locator(".retier select").select_option("complex")
    detail.get_by_role("button", name="调整分级").click()
    expect(detail.locator(".case-tier")).to_have_text("复杂·专班牵头")
    expect(row).to_have_count(0, timeout=LIVE)


class Stream:
    """A console's live-update stream read from its own thread: every event, as (name, data).

    Plain ``http.client``, so that ``close`` can shut the socket down under the blocked reader at once (the
    server then sees the disconnect and ends the stream, rather than at its time limit)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        url = urlsplit(base_url)
        self._conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=40)
        self._conn.request("GET", "/console/events?" + urlencode({"token": token}))
        self._response = self._conn.getresponse()
        assert self._response.status == 200
        assert self._response.getheader("content-type", "").startswith("text/event-stream")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        name = ""
        try:
            while line := self._response.readline():
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    name = text.removeprefix("event: ")
                elif text.startswith("data: "):
                    self.events.append((name, json.loads(text.removeprefix("data: "))))
        except (OSError, ValueError, http.client.HTTPException):
            pass  # shut down by the test

    def raw(self) -> str:
        return json.dumps(self.events)

    def close(self) -> None:
        if self._conn.sock is not None:
            self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._conn.close()


def token(running: Running, username: str, password: str) -> str:
    r = httpx.post(running.services.url("dispatch") + "/v1/login", json={"username": username, "password": password})
    r.raise_for_status()
    return str(r.json()["token"])


def test_an_incident_shows_how_many_households_it_affects(running: Running, console: Any) -> None:
    # A burst pipe is its building's incident: the second household's report joins the first one's case.
    case_id = whistle(running, "GW-01", "H-LK-1-101", category="burst_pipe")
    second = running.client.grid_report(
        "GW-01", household_id="H-LK-1-102", category="burst_pipe", description="楼道暖气管爆了，一直在喷水"
    )
    assert running.client.wait_case_of("GW-01", second["id"], timeout=30) == case_id
    running.client.wait_for(
        "two households on the case",
        lambda: running.client.case("TF-JYG", case_id)["affected_households"] == 2,
        timeout=30,
    )
    c = console()
    page = c.signed_in("pm1", "pm1-demo-2026", "安居物业")
    row = page.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row.locator(".badge.households")).to_have_text("影响 2 户")
    row.click()
    detail = page.locator(".detail-pane")
    expect(detail.locator(".case-head .badge.households")).to_have_text("影响 2 户")
    expect(detail.locator(".case-households")).to_have_text("2 户 · 2 次上报")
    expect(detail.locator(".timeline .event[data-kind='grouped'] .event-kind")).to_have_text("同一事件再报")
    c.shot("09-incident-households.png")


def test_another_unit_sees_nothing_of_it(running: Running, console: Any) -> None:
    dispatch = running.services.url("dispatch")
    c = console()
    page = c.signed_in("heat1", "heat1-demo", "城关第一供热公司")
    # opened once the browser is up: a stream lasts 15 s (console.STREAM_SECONDS) and this one does not reconnect
    other = Stream(dispatch, token(running, "heat1", "heat1-demo"))
    owner = Stream(dispatch, token(running, "heat2", "heat2-demo"))
    try:
        deadline = time.monotonic() + 10
        while not (other.events and owner.events) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert other.events and owner.events, "each stream says its version on connecting"
        before = len(c.requests)

        case_id = whistle(running, "GW-02", "H-DF-3-302")  # U-HEAT-2's (substation SS-02)
        running.client.wait_assignment("U-HEAT-2", case_id, timeout=30)
        deadline = time.monotonic() + 10
        while len(owner.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(owner.events) >= 2, "the owner's stream announces the new assignment"
        time.sleep(2.5)  # more than two polls of the other unit's stream

        assert [name for name, _ in other.events] == ["version"], other.events
        assert case_id not in other.raw() and case_id not in owner.raw()  # versions only, never case data
        assert not [r for r in c.requests[before:] if "/v1/" in r], "the other unit's page was never told to reload"
    finally:
        other.close()
        owner.close()

    rows = page.locator("tr.row")
    assert case_id not in (rows.evaluate_all("els => els.map(e => e.dataset.caseId)") or [])
    page.fill("input[name=case_id]", case_id)
    page.get_by_role("button", name="查询").click()
    expect(page.locator(".detail-pane .notice.error")).to_have_text("未找到该案件")
    c.shot("08-other-unit-cannot-see.png")
    for path in (f"/v1/cases/{case_id}", "/v1/assignments"):
        r = httpx.get(
            running.services.url("dispatch") + path,
            headers={"Authorization": f"Bearer {token(running, 'heat1', 'heat1-demo')}"},
        )
        assert r.status_code == 404 or case_id not in r.text
