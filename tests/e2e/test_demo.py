"""What ``make demo`` runs, on services of its own: ``python -m deploy.demo`` — the scripted pass (two cases through
the loop, one reopened; a 12345 order hurried, supplemented and closed, another withdrawn, every callback heard by
the simulated 12345 platform in order) and then the simulator on a season, here a short one. Every accepted report
is closed or accounted for as open, the exit status says so, and the dispatch rules the simulator tightened are put
back."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy import platform12345
from deploy.local.services import PLATFORM, RECEIVER, REPO
from shared.settings import DEV_ADMIN_TOKEN
from tests.e2e.conftest import Running, services_running
from tests.harness import run_command

# Two simulated days of 4 s, a light load (the cold-snap day still ×10), 25 s to settle: well under a minute.
SHORT = ["--days", "2", "--speed", "4", "--rate", "0.3", "--settle", "25", "--seed", "11"]


def _rules(url: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/admin/rules", headers={"X-Admin-Token": DEV_ADMIN_TOKEN}, timeout=10)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo() -> Iterator[Running]:
    """Services of its own: the simulator tightens the dispatch rules and writes hundreds of reports."""
    with services_running("demo") as r:
        yield r


def test_the_demo_closes_its_scripted_cases_and_reconciles_a_short_season(demo: Running, tmp_path: Path) -> None:
    running = demo
    urls = {name: running.services.url(name) for name in ("intake", "dispatch", "followup")}
    before = _rules(urls["dispatch"])[0]
    out = tmp_path / "season.json"
    env = os.environ | {f"{name.upper()}_URL": url for name, url in urls.items()}
    env["PLATFORM12345_URL"] = running.services.url(PLATFORM)
    env["NOTIFY_RECEIVER_URL"] = running.services.url(RECEIVER)
    started = time.monotonic()
    proc = run_command(
        [sys.executable, "-m", "deploy.demo", "--", *SHORT, "--json", str(out)],
        env=env,
        cwd=REPO,
        timeout=240,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, (
        f"exit {proc.returncode} after {took:.0f}s\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    )
    # The scripted pass: the first case closed on its first visit, the second reopened once and closed in round 2.
    scripted, hotline = proc.stdout.split("场景三")[0], proc.stdout.split("场景三")[1].split("场景五")[0]
    assert "闭环完成" in scripted and "闭环未完成" not in scripted, scripted[-3000:]
    assert "发回重办" in scripted and "轮次 2，重办 1 次" in scripted, scripted[-3000:]
    assert scripted.count("状态 closed") == 2, scripted[-3000:]
    # 12345: the platform heard each order's callbacks once each, in order, every signature good
    assert "回调完整有序" in hotline, hotline[-3000:]
    heard = platform12345.heard(running.services.url(PLATFORM))
    assert heard["bad_signatures"] == 0 and heard["out_of_order"] == [], heard
    told = [[cb["status"] for cb in callbacks] for callbacks in heard["orders"].values()]
    assert ["dispatched", "escalated", "signed_in", "resolved", "closed"] in told, told
    hurried = next(cbs for cbs in heard["orders"].values() if [cb["status"] for cb in cbs][1:2] == ["escalated"])
    assert hurried[1]["status_text"] == "已催办", hurried  # a hurry's 催办 is not yet a 督办
    assert any(statuses[-1] == "withdrawn" for statuses in told), told
    # Notifications: the scripted cases' orders reached the units' duty groups and phones, and U-HEAT-1's own system
    told_units = proc.stdout.split("\n通知：", 1)[1].split("\n现场端", 1)[0]
    assert "派单、催办已送达责任单位" in told_units, told_units
    assert re.search(r"\[企业微信\] U-HEAT-1 ← \S*新派单", told_units), told_units
    assert re.search(r"\[企业微信\] U-HEAT-2 ← \S*新派单", told_units), told_units
    assert "[短信] 13700000001 ← " in told_units and "[单位系统] U-HEAT-1 ← assigned C-" in told_units, told_units

    result = json.loads(out.read_text(encoding="utf-8"))
    rec = result["reconciliation"]
    assert result["ok"] and rec["ok"]
    assert rec["accepted"] > 20 and rec["lost"] == 0 and rec["accepted"] == rec["closed"] + rec["open"]
    assert set(result["accepted_by_channel"]) >= {"grid_report", "hotline_12345"}
    assert not result["refused"], result["errors"]
    assert result["plan"]["readings"] > 0 and result["plan"]["visit"] > 0
    # Callers of orders still open hours later hurried them (催单), each polled first with a signed GET
    assert result["answers"]["hotline_status"].get("2xx", 0) > 0, result["answers"]
    assert result["answers"].get("hotline_hurry", {}).get("2xx", 0) > 0, result["answers"]

    # The clocks were tightened for the run and the previous rules are in force again.
    after = _rules(urls["dispatch"])
    tight, restored = result["run"]["rules_versions"]
    assert after[0]["version"] == restored > tight > before["version"]
    assert after[0]["document"] == before["document"]
    assert "核对通过" in proc.stdout and "/docs" in proc.stdout and "/metrics" in proc.stdout
