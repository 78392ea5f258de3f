"""通知设置 in the dispatch console (issue 20: a unit sets its contacts and channels through the console): a unit adds
a duty phone and a WeCom robot, sees them listed masked, is told next to the field when a phone number is wrong,
removes one, and the API holds what the page showed. Secrets and robot keys never come back to the page.

Same services and Chromium as ``test_console.py``; the phone layout and axe-core as ``test_console_phone.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.browser import DESKTOP, PHONE, Console, launch
from tests.e2e.conftest import Running
from tests.e2e.test_console_phone import check_layout

expect.set_options(timeout=10_000)

UNIT = ("pm2", "pm2-demo-2026", "春晖物业")  # U-PM-2: the seed gives it 值班群 and 值班手机
ROBOT_KEY = "k3y-only-the-group-should-know"
ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
ROBOT_URL = f"{ROBOT}?key={ROBOT_KEY}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


def api_targets(running: Running) -> list[dict[str, Any]]:
    base = running.services.url("dispatch")
    r = httpx.post(base + "/v1/login", json={"username": UNIT[0], "password": UNIT[1]})
    r.raise_for_status()
    r = httpx.get(base + "/v1/notify/targets", headers={"Authorization": f"Bearer {r.json()['token']}"})
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()
    return found


def open_settings(c: Console) -> Page:
    page = c.signed_in(*UNIT)
    page.get_by_role("tab", name="通知设置").click()
    expect(page.get_by_role("heading", name="通知设置")).to_be_visible()
    expect(page.locator("tr.target")).not_to_have_count(0)  # the seed's two are listed
    return page


def row(page: Page, name: str) -> Any:
    return page.locator("tr.target").filter(has=page.locator("td.name", has_text=name))


def test_a_unit_sets_its_duty_phone_and_robot(running: Running, browser: Browser) -> None:
    before = api_targets(running)
    c = Console(browser, running)
    try:
        page = open_settings(c)
        form = page.locator(".notify-form")
        saved = form.locator(".notice")

        # Each channel shows its own fields; a secret is a password field.
        form.get_by_label("渠道").select_option("webhook")
        expect(form.get_by_label("签名密钥")).to_have_attribute("type", "password")
        expect(form.get_by_label("@手机号（可选）")).to_be_hidden()
        form.get_by_label("渠道").select_option("dingtalk")
        expect(form.get_by_label("加签密钥（SEC…，可选）")).to_have_attribute("type", "password")

        form.get_by_label("渠道").select_option("sms")
        expect(form.get_by_label("机器人 Webhook 地址")).to_be_hidden()
        form.get_by_label("名称").fill("夜班手机")
        form.get_by_label("手机号", exact=True).fill("13800000000\n13900001111")
        form.get_by_label("新派单").check()
        form.get_by_label("催办").check()
        form.get_by_role("button", name="保存").click()
        expect(saved).to_have_text("已保存：短信 · 夜班手机")
        sms = row(page, "夜班手机")
        expect(sms.locator("td.channel")).to_have_text("短信")
        expect(sms.locator("td.config")).to_have_text("138****0000、139****1111")
        expect(sms.locator("td.kinds")).to_have_text("新派单、催办")
        expect(sms.locator("td.status")).to_have_text("启用")

        form.get_by_label("渠道").select_option("wecom")
        form.get_by_label("名称").fill("抢修群")
        form.get_by_label("机器人 Webhook 地址").fill(ROBOT_URL)
        form.get_by_label("@手机号（可选）").fill("13800000000")
        form.get_by_role("button", name="保存").click()
        expect(saved).to_have_text("已保存：企业微信群机器人 · 抢修群")
        robot = row(page, "抢修群")
        expect(robot.locator("td.channel")).to_have_text("企业微信群机器人")
        expect(robot.locator("td.config")).to_have_text(f"{ROBOT}?***@ 138****0000")
        expect(robot.locator("td.kinds")).to_have_text("全部")
        expect(form.get_by_label("机器人 Webhook 地址")).to_have_value("")  # the form forgets what it sent
        assert ROBOT_KEY not in page.content()
        c.shot("notify-01-two-targets.png")

        # A wrong phone number: the API's 422 next to the phones, in Chinese, with the focus on them.
        form.get_by_label("渠道").select_option("sms")
        form.get_by_label("名称").fill("备用手机")
        phones = form.get_by_label("手机号", exact=True)
        phones.fill("13700000009, 12345")
        form.get_by_role("button", name="保存").click()
        expect(form.locator(".f-phones .field-error")).to_have_text("12345：不是有效的手机号（11 位数字，以 1 开头）")
        expect(phones).to_have_attribute("aria-invalid", "true")
        expect(phones).to_be_focused()
        expect(saved).to_have_text("未保存，请按标出的提示修改")
        expect(row(page, "备用手机")).to_have_count(0)
        # A body the schema refuses (no name): its error by the name.
        form.get_by_label("名称").fill("")
        phones.fill("13700000009")
        form.get_by_role("button", name="保存").click()
        expect(form.locator(".f-name .field-error")).to_have_text("内容过短")
        expect(form.locator(".f-phones .field-error")).to_be_hidden()
        expect(form.get_by_label("名称")).to_be_focused()
        assert_accessible(page, "console-desktop-notify-error")
        c.shot("notify-02-field-error.png")

        # Delete, once confirmed.
        sms.get_by_role("button", name="删除").click()
        sms.get_by_role("button", name="取消").click()
        expect(sms).to_have_count(1)
        sms.get_by_role("button", name="删除").click()
        confirm = sms.get_by_role("button", name="确认删除")
        expect(confirm).to_be_focused()
        confirm.click()
        expect(page.locator(".notify > .notice")).to_have_text("已删除：短信 · 夜班手机")
        expect(row(page, "夜班手机")).to_have_count(0)
        expect(row(page, "抢修群")).to_have_count(1)
        listed = page.locator("tr.target td.name").all_text_contents()
    finally:
        c.close()

    after = api_targets(running)
    assert sorted(t["name"] for t in after) == sorted(listed)
    assert sorted(t["name"] for t in after) == sorted([t["name"] for t in before] + ["抢修群"])
    (mine,) = [t for t in after if t["name"] == "抢修群"]
    assert mine["channel"] == "wecom" and mine["kinds"] is None and mine["enabled"] is True
    assert mine["config"] == {"url": f"{ROBOT}?***", "mentions": ["138****0000"]}


def test_the_settings_hold_together_on_a_phone(running: Running, browser: Browser) -> None:
    for screen in (PHONE, DESKTOP):
        c = Console(browser, running, screen)
        try:
            page = open_settings(c)
            form = page.locator(".notify-form")
            form.get_by_label("渠道").select_option("dingtalk")
            form.get_by_label("名称").fill("调度群")
            form.get_by_label("机器人 Webhook 地址").fill("https://oapi.dingtalk.com/robot/send")  # no access_token
            form.get_by_role("button", name="保存").click()
            expect(form.locator(".f-url .field-error")).to_contain_text("access_token")
            check_layout(c, f"通知设置 ({screen.name})")
            assert_accessible(page, f"console-{screen.name}-notify")
            c.shot(f"notify-{screen.name}.png")
        finally:
            c.close()
