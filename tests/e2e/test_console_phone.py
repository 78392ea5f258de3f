"""The dispatch console on a phone, as a new user would try it, and on a desktop: every screen of each role (a unit's
dispatcher, the street task force, the district) at 390 × 844 with a phone's touch and pixel density, laid out
again at 360 and 414 px, and at 1400 × 900.

On every screen and width: the page never scrolls sideways; the list and the open case do not overlap; no text
is broken into a character or two per line (the header's title least of all); every control lies within the
screen and can be tapped (Playwright's actionability checks: visible, still, not covered, enabled). The phone
signs in (签收), arrives and opens 办结's form by tapping; the task force approves an extension by tapping.
axe-core runs on every screen (``tests/e2e/axe.py``): no serious or critical violation.

Screenshots of every screen go to ``artifacts/console/``; ``UPDATE_SCREENSHOTS=1`` also copies them to
``docs/screenshots/console/`` (committed, shown in the console's README).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.browser import (
    DESKTOP,
    LIVE,
    NARROW_PHONE,
    PHONE,
    WIDE_PHONE,
    ZONE,
    Console,
    Screen,
    launch,
    whistle,
)
from tests.e2e.conftest import Running

expect.set_options(timeout=10_000)

PHONE_WIDTHS = (NARROW_PHONE, PHONE, WIDE_PHONE)
TITLE_MAX_HEIGHT = 64  # px: the title and its subtitle on two lines at most (one character a line is ~150 px)

# What a person sees wrong at a glance, measured in the page: a list of findings, empty when the layout holds.
LAYOUT = r"""
() => {
  const W = document.documentElement.clientWidth;
  const found = [];
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const what = (el) => {
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\s+/).filter(Boolean) : [];
    const text = (el.innerText || el.value || el.placeholder || '').trim().slice(0, 24);
    return `${[el.tagName.toLowerCase(), ...classes].join('.')} "${text}"`;
  };
  const wide = document.documentElement.scrollWidth;
  if (wide > W + 1) found.push(`the page is ${wide}px wide on a ${W}px screen (it scrolls sideways)`);

  // Every control within the screen's width, and the one thing under a finger at its centre once scrolled to.
  for (const el of document.querySelectorAll('button, input, select, textarea, tr.row, a[href]')) {
    if (!shown(el)) continue;
    let r = el.getBoundingClientRect();
    if (r.left < -0.5 || r.right > W + 0.5) {
      found.push(`${what(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}px`);
      continue;
    }
    el.scrollIntoView({ block: 'nearest' });
    r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(hit === el || el.contains(hit))) found.push(`${what(el)} lies under ${hit ? what(hit) : 'nothing'}`);
  }

  // Lines of a text node: its fragments' boxes, a new line wherever one starts below the line before.
  const lines = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    const boxes = [...range.getClientRects()].filter((b) => b.width > 0).sort((a, b) => a.top - b.top);
    let count = 0;
    let top = -Infinity;
    for (const b of boxes) {
      if (b.top >= top + b.height / 2) {
        count += 1;
        top = b.top;
      }
    }
    return count;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const chars = [...text].length;
    if (chars < 2 || !node.parentElement || !shown(node.parentElement)) continue;
    const n = lines(node);
    if (n >= 2 && chars / n < 4) found.push(`${what(node.parentElement)}: ${chars} characters on ${n} lines`);
  }

  for (const split of document.querySelectorAll('.split')) {
    const list = split.querySelector('.list-pane');
    const detail = split.querySelector('.detail-pane');
    if (!shown(split) || !shown(list) || !shown(detail)) continue;
    const a = list.getBoundingClientRect();
    const b = detail.getBoundingClientRect();
    const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (x > 0.5 && y > 0.5) found.push(`the list and the case overlap by ${Math.round(x)} × ${Math.round(y)}px`);
  }

  const header = document.querySelector('header.top').getBoundingClientRect();
  const main = document.querySelector('main').getBoundingClientRect();
  if (header.bottom > main.top + 0.5) found.push('the header lies over the page');
  const title = document.querySelector('header.top h1').getBoundingClientRect();
  return { found, title: title.height };
}
"""
CONTROLS = "button:visible, input:visible, select:visible, textarea:visible, tr.row:visible"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(params=[PHONE, DESKTOP], ids=lambda s: s.name)
def screen(request: pytest.FixtureRequest) -> Screen:
    s: Screen = request.param
    return s


@pytest.fixture
def console(browser: Browser, running: Running, screen: Screen) -> Iterator[Callable[[], Console]]:
    opened: list[Console] = []

    def open_console() -> Console:
        opened.append(Console(browser, running, screen))
        return opened[-1]

    yield open_console
    for c in opened:
        c.close()


def tap(c: Console, target: Locator) -> None:
    """A finger on a phone, the mouse on a desktop."""
    if c.screen.phone:
        target.tap()
    else:
        target.click()


def check_layout(c: Console, where: str) -> None:
    """The screen as it is now holds together at every phone width (a desktop at its own): see LAYOUT. Then, at
    the screen's own width, every visible control passes Playwright's own checks for a tap or a click (visible,
    still, enabled, not covered), without acting."""
    widths = PHONE_WIDTHS if c.screen.phone else (c.screen,)
    try:
        for s in widths:
            c.page.set_viewport_size({"width": s.width, "height": s.height})
            measured = c.page.evaluate(LAYOUT)
            assert not measured["found"], f"{where} at {s.width}px:\n" + "\n".join(measured["found"])
            title = measured["title"]
            assert title <= TITLE_MAX_HEIGHT, f"{where} at {s.width}px: the title is {title}px high"
    finally:
        c.page.set_viewport_size({"width": c.screen.width, "height": c.screen.height})
    controls = c.page.locator(CONTROLS)
    for i in range(controls.count()):
        control = controls.nth(i)
        if c.screen.phone:
            control.tap(trial=True)
        else:
            control.click(trial=True)


def place(location: dict[str, Any]) -> str:
    """The place as the console shows it: the name dispatch passes on (小区 · 楼栋 · 单元 · 室), else the ids."""
    name: str | None = location.get("place_name")
    return name or " · ".join(x for x in (location.get("building_id"), location.get("household_id")) if x)


def test_a_place_is_shown_by_name_else_by_its_ids(running: Running, browser: Browser) -> None:
    c = Console(browser, running, PHONE)
    name = "粮库家属院 · 1号楼 · 1单元 · 101室"
    shown = c.page.evaluate(
        """async (name) => {
            const { place } = await import('/console/dom.js');
            return [
                place({ building_id: 'B-LK-1', household_id: 'H-LK-1-101', place_name: name }),
                place({ building_id: 'B-LK-1', household_id: 'H-LK-1-101' }),
                place({ building_id: 'B-LK-1', place_name: null }),
                place({ street_id: 'S-JYG' }),
                place(null),
            ];
        }""",
        name,
    )
    c.close()
    assert shown == [name, "B-LK-1 · H-LK-1-101", "B-LK-1", "S-JYG", "—"]


def screen_checked(c: Console, number: int, what: str, where: str) -> None:
    """Layout, axe-core and a screenshot of one screen: ``phone-03-unit-case.png``."""
    check_layout(c, where)
    assert_accessible(c.page, f"console-{c.screen.name}-{number:02d}-{what}")
    c.shot(f"{c.screen.name}-{number:02d}-{what}.png", docs=True)


def test_a_dispatcher_signs_in_a_case(running: Running, console: Callable[[], Console]) -> None:
    c = console()
    phone = c.screen.phone
    screen_checked(c, 1, "login", "登录")
    page = c.signed_in("heat1", "heat1-demo", "城关第一供热公司")
    # a priority resident (独居老人) of U-HEAT-1's substation; a category no other test reports there
    case_id = whistle(running, "GW-01", "H-LK-1-101" if phone else "H-LK-1-102", category="clogged_filter")
    row = page.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row).to_be_visible(timeout=LIVE)
    (mine,) = [a for a in running.client.assignments("U-HEAT-1") if a["case_id"] == case_id]
    expect(row.locator("td.place")).to_have_text(place(mine["location"]))
    screen_checked(c, 2, "unit-list", "本单位派单")

    tap(c, row.get_by_role("button", name="签收"))
    detail = page.locator(".detail-pane")
    expect(detail.locator(".detail-notice")).to_have_text("已签收")
    expect(row).to_have_attribute("data-status", "signed_in")
    back = detail.get_by_role("button", name="返回列表")
    if phone:  # the case takes the list's place
        expect(page.locator(".list-pane")).to_be_hidden()
        expect(back).to_be_visible()
    else:  # side by side, as before
        expect(page.locator(".list-pane")).to_be_visible()
        expect(back).to_be_hidden()
    screen_checked(c, 3, "unit-case", "案件详情（已签收）")

    tap(c, detail.get_by_role("button", name="到场", exact=True))
    expect(detail.locator(".detail-notice")).to_have_text("已到场")
    for name in ("办结", "进展", "延期", "退单"):
        expect(detail.locator(".mine .actions").get_by_role("button", name=name, exact=True)).to_be_visible()
    check_layout(c, "案件详情（已到场）")

    tap(c, detail.get_by_role("button", name="办结", exact=True))
    form = detail.locator(".form-resolve")
    expect(form.locator("textarea[name=action_taken]")).to_be_focused()
    screen_checked(c, 4, "unit-resolve-form", "办结表单")
    tap(c, form.get_by_role("button", name="取消"))
    expect(form).to_have_count(0)

    if phone:
        tap(c, back)
        expect(page.locator(".list-pane")).to_be_visible()
        expect(detail).to_be_hidden()
        expect(row).to_be_focused()  # back where the dispatcher left the list
        check_layout(c, "返回列表")


def test_the_task_force_decides_an_extension(running: Running, console: Callable[[], Console]) -> None:
    c = console()
    phone = c.screen.phone
    case_id = whistle(running, "GW-02" if phone else "GW-03", "H-DF-3-302" if phone else "H-CH-45-101", "air_lock")
    a = running.client.wait_assignment("U-HEAT-2", case_id, timeout=30)
    running.client.act("U-HEAT-2", a["id"], "sign-in")
    wanted = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=5)).replace(microsecond=0)
    reason = "楼内立管需更换，等待配件"
    running.client.act("U-HEAT-2", a["id"], "extensions", reason=reason, resolve_due=wanted.isoformat())

    page = c.signed_in("jyg", "jyg-demo-2026", "嘉峪关路街道工作专班")
    row = page.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row).to_be_visible()
    screen_checked(c, 5, "task-force-cases", "辖区案件")

    tap(c, row)
    detail = page.locator(".detail-pane")
    expect(detail.locator(".case-head .mono")).to_have_text(case_id)
    extension = detail.locator(".extension")
    expect(extension.locator(".ext-status")).to_have_text("待审批")
    expect(extension.locator(".ext-unit")).to_have_text("城关第二供热公司")  # U-HEAT-2 by its name
    if phone:
        expect(page.locator(".list-pane")).to_be_hidden()
    screen_checked(c, 6, "task-force-case", "专班案件详情")
    tap(c, extension.get_by_role("button", name="批准", exact=True))
    expect(extension.locator(".ext-status")).to_have_text("已批准")

    tap(c, page.get_by_role("tab", name="延期审批"))
    expect(page.locator(".tab-panel:not([hidden]) h2")).to_have_text("待审批的延期申请")
    screen_checked(c, 7, "task-force-extensions", "延期审批")

    tap(c, page.get_by_role("tab", name="日报与考核"))
    expect(page.locator(".report-text")).to_contain_text("日报告")
    expect(page.locator(".scorecard tr[data-unit='U-HEAT-2']")).to_be_visible()
    screen_checked(c, 8, "task-force-reports", "日报与考核")

    tap(c, page.get_by_role("tab", name="专班承办"))
    expect(page.locator(".tab-panel:not([hidden]) h2")).to_contain_text("本专班承办的派单")
    screen_checked(c, 9, "task-force-own", "专班承办")


def test_the_district_reads_its_cases(running: Running, console: Callable[[], Console]) -> None:
    c = console()
    phone = c.screen.phone
    worker, household = ("GW-03", "H-CH-48-201") if phone else ("GW-02", "H-DF-3-301")
    case_id = whistle(running, worker, household, "underfloor_imbalance")
    page = c.signed_in("district", "district-demo", "城关区住建局督办")
    expect(page.get_by_role("tab")).to_have_text(["辖区案件", "延期审批", "日报与考核"])
    row = page.locator(f"tr.row[data-case-id='{case_id}']")
    expect(row).to_be_visible()
    screen_checked(c, 10, "district-cases", "区级案件")

    tap(c, row)
    expect(page.locator(".detail-pane .case-head .mono")).to_have_text(case_id)
    screen_checked(c, 11, "district-case", "区级案件详情")

    tap(c, page.get_by_role("tab", name="日报与考核"))
    page.get_by_role("searchbox", name="街道编号").fill("S-JYG")
    tap(c, page.locator(".tab-panel:not([hidden])").get_by_role("button", name="刷新"))
    expect(page.locator(".report-text")).to_contain_text("日报告")
    screen_checked(c, 12, "district-reports", "区级日报与考核")
