"""The chaos test, short: ``python -m deploy.chaos`` on a private stack of its own (Kafka and PostgreSQL on free
ports, the three services as processes) pushes a few hundred reports through the loop while each service is killed
with SIGKILL twice, the broker once and PostgreSQL once — and nothing is lost, nothing doubled, and the system catches
up after the last fault (how soon is printed; ``make chaos`` holds the long run to a minute).

A private stack that cannot be started is a failure (exit 2), never a skip."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from deploy.local.services import REPO
from tests.harness import run_command

pytestmark = pytest.mark.e2e

SEED = 7
# 2.5 reports a second: what the loop sustains on the development machine (2 shared cores, intake's one process
# the bottleneck) with room to catch up after each fault; the eight faults take ~130 s, the load outlasts them.
REPORTS = 450
WINDOW_S = 200
BUDGET_S = 480  # a guard against a hang, not a speed target: alone on 2 cores the run takes ~265 s


def test_nothing_lost_nothing_doubled_under_faults_and_load(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    started = time.monotonic()
    proc = run_command(
        [
            sys.executable,
            "-m",
            "deploy.chaos",
            "--seed",
            str(SEED),
            "--reports",
            str(REPORTS),
            "--window",
            str(WINDOW_S),
            "--settle",
            "30",
            "--json",
            str(out),
        ],
        cwd=REPO,
        timeout=BUDGET_S,
    )
    took = time.monotonic() - started
    tail = f"exit {proc.returncode} after {took:.0f}s\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode != 2, "the private stack or the services could not be started\n" + tail
    assert out.exists(), tail
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["faults_injected"] == 8, tail
    assert sorted(f["target"] for f in figures["faults"]) == sorted(
        ["intake", "intake", "dispatch", "dispatch", "followup", "followup", "kafka", "postgres"]
    )
    assert figures["reports"] >= REPORTS * 0.8, tail
    assert figures["lost"] == 0, (figures["lost_by_kind"], figures["examples"])
    assert figures["duplicates"] == 0, (figures["duplicates_by_kind"], figures["examples"])
    assert figures["backlog"] == 0 and figures["lag"] == 0 and figures["callbacks_pending"] == 0, tail
    assert not figures["groups_missing"], tail
    assert not figures["problems"], figures["problems"]
    # The time to catch up after the last fault is a figure, printed, not asserted here: on a shared CI machine it
    # says more about the neighbours than about the system. `python -m deploy.chaos` (make chaos) holds it to 60 s.
    assert figures["recovery_s"] is not None, tail
    print(f"chaos seed {SEED}: {figures['reports']} reports, caught up {figures['recovery_s']} s after the last fault")
    late = figures["recovery_s"] > figures["recovery_limit_s"]
    assert proc.returncode == (1 if late else 0) and figures["ok"] is not late, tail
    assert took <= BUDGET_S
