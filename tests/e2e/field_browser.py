"""A phone on the field app: Debian's Chromium with mobile emulation (390 × 844, touch, zh-CN, Asia/Shanghai) in a
persistent profile, so that IndexedDB, the service worker and the session survive closing and reopening the
browser, as on a real phone.

Screenshots go to ``artifacts/field/``; with ``UPDATE_SCREENSHOTS=1`` to ``docs/screenshots/field/`` (committed).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import BrowserContext, BrowserType, Page, Request, expect

from deploy.local.services import REPO
from tests.e2e.axe import assert_accessible

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; a browser Playwright downloads itself cannot run here
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
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "service_workers": "allow",
}
SHOTS = (
    REPO / "docs" / "screenshots" / "field"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else REPO / "artifacts" / "field"
)


class Phone:
    """One person's phone: a persistent Chromium profile on the field app; uncaught page errors fail the test."""

    def __init__(self, browser_type: BrowserType, profile: Path, base_url: str, *, offline: bool = False) -> None:
        self.base_url = base_url
        self.context: BrowserContext = browser_type.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=FLAGS, offline=offline, **PHONE
        )
        self.errors: list[str] = []
        self.closed = False
        self.finished: list[Request] = []
        self.context.on("requestfinished", lambda r: self.finished.append(r))
        self.page: Page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str = "/field/") -> Page:
        self.page.goto(self.base_url + path)
        expect(self.page.locator("html[data-ready='1']")).to_have_count(1)
        return self.page

    def sign_in(self, username: str, password: str, display_name: str) -> Page:
        page = self.page
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.get_by_role("button", name="登录").tap()
        expect(page.locator(".top .who .name")).to_have_text(display_name)
        return page

    def offline(self, value: bool) -> None:
        self.context.set_offline(value)

    def outbox(self) -> tuple[int, int]:
        """(待发送, 被退回) as the header chip shows them."""
        chip = self.page.locator(".outbox-chip")
        return int(chip.get_attribute("data-count") or 0), int(chip.get_attribute("data-refused") or 0)

    def wait_outbox(self, waiting: int, refused: int = 0, timeout: float = 30_000) -> None:
        chip = self.page.locator(".outbox-chip")
        expect(chip).to_have_attribute("data-count", str(waiting), timeout=timeout)
        expect(chip).to_have_attribute("data-refused", str(refused), timeout=timeout)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        self.page.wait_for_timeout(150)  # let the toast and fonts settle: a picture, not an assertion
        self.page.screenshot(path=path, scale="css", animations="disabled")
        assert_accessible(self.page, f"field-{path.stem}")  # every screen the tests show is checked by axe-core
        return path

    def app_bytes(self) -> dict[str, int]:
        """Bytes of the responses to the app's own requests so far (headers and bodies, as sent over the wire):
        the app's files (service worker's precache included) and, apart, the API answers."""
        files = api = 0
        for request in self.finished:
            try:
                sizes = request.sizes()
            except Exception:  # a request the browser has already forgotten
                continue
            size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
            if "/field/" in request.url:
                files += size
            elif "/v1/" in request.url:
                api += size
        return {"files": files, "api": api}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.context.close()
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


def photo_file(tmp: Path, name: str = "photo.jpg", size: tuple[int, int] = (3000, 2250)) -> Path:
    """A phone camera's JPEG (EXIF time and GPS included), larger than the 1600 px the app shrinks it to."""
    from tests.photo_factory import phone_jpeg

    path = tmp / name
    # A phone in Lanzhou writes its local time, with no zone (OffsetTimeOriginal absent), as most cameras do.
    local = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y:%m:%d %H:%M:%S")
    path.write_bytes(phone_jpeg(size, taken=local))
    return path
