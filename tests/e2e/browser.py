"""Driving the dispatch console in Debian's Chromium (headless, through Playwright with the system browser): the
launch flags, one person's window on a desktop or a phone, the grid worker's whistle that gives a test a case.

Shared by ``test_console.py`` (desktop) and ``test_console_phone.py`` (phones, 360–414 px); screenshots go to
``artifacts/console/`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from deploy.local.services import REPO
from tests.e2e.conftest import Running

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; a browser Playwright downloads itself cannot run here
# As the machine notes have them: without the background-networking flags Chromium keeps dialling Google's
# hosts on this closed network. Playwright gives every launch a fresh, empty profile of its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "console"
# The screenshots kept in the repository, refreshed by a run with UPDATE_SCREENSHOTS=1 (see ``Console.shot``).
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots" / "console"
ZONE = "Asia/Shanghai"
LIVE = 15_000  # ms: a whistle travels intake → Kafka → dispatch → the stream → the page well within this


@dataclass(frozen=True)
class Screen:
    """A browser window: its viewport and, for a phone, touch and a phone's pixel density."""

    name: str
    width: int
    height: int
    phone: bool = False

    def context_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"viewport": {"width": self.width, "height": self.height}}
        if self.phone:
            options |= {"is_mobile": True, "has_touch": True, "device_scale_factor": 3}
        return options


DESKTOP = Screen("desktop", 1400, 900)
PHONE = Screen("phone", 390, 844, phone=True)  # a 6.1" phone, as the issue tried it
NARROW_PHONE = Screen("phone-360", 360, 780, phone=True)
WIDE_PHONE = Screen("phone-414", 414, 896, phone=True)


def launch() -> Iterator[Browser]:
    """One headless Chromium for a test module (its fixture ``yield from launch()``)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-wqy-microhei", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


class Console:
    """One person's browser window on the console; uncaught page errors fail the test."""

    def __init__(self, browser: Browser, running: Running, screen: Screen = DESKTOP) -> None:
        self.screen = screen
        self.context = browser.new_context(**screen.context_options(), locale="zh-CN", timezone_id=ZONE)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(f"{r.method} {r.url}"))
        self.page.goto(running.services.url("dispatch") + "/console/")

    def sign_in(self, username: str, password: str) -> None:
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.get_by_role("button", name="登录").click()

    def signed_in(self, username: str, password: str, display_name: str) -> Page:
        self.sign_in(username, password)
        expect(self.page.locator(".user .who")).to_have_text(display_name)
        expect(self.page.locator(".user .live.on")).to_be_visible()  # the live stream is connected
        return self.page

    def shot(self, name: str, *, docs: bool = False) -> Path:
        """A screenshot of the whole page into artifacts/console/, one pixel per CSS pixel (a phone's is 390 px
        wide, not 1170). A ``docs`` one also goes to docs/screenshots/console/ when UPDATE_SCREENSHOTS=1: the
        pictures the console's README shows, committed after looking at them."""
        path = ARTIFACTS / name
        self.page.screenshot(path=path, full_page=True, scale="css")
        if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / name)
        return path

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


def whistle(running: Running, worker: str, household: str, category: str = "cold_room") -> str:
    """A grid worker's one-tap report; returns the case dispatch opened for it."""
    report = running.client.grid_report(
        worker, household_id=household, category=category, description="居民反映暖气不热", measured_temp_c=15.5
    )
    return running.client.wait_case_of(worker, report["id"], timeout=30)


def kinds(page: Page) -> list[str]:
    found: list[str] = page.locator(".detail-pane .timeline .event").evaluate_all("els => els.map(e => e.dataset.kind)")
    return found
