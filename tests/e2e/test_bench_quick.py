"""``python -m bench --quick`` runs every scenario and writes them all to its JSON: a check that the suite works,
never a timing assertion."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from bench.__main__ import SCENARIOS
from deploy.local.services import REPO
from tests.harness import check_stack, run_command


def test_the_quick_suite_runs_every_scenario(tmp_path: Path) -> None:
    asyncio.run(check_stack())
    out = tmp_path / "quick.json"
    started = time.monotonic()
    proc = run_command(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO,
        timeout=240,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, (
        f"exit {proc.returncode} after {took:.0f}s\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["quick"] is True and not result["failed"]
    assert set(result["raw"]) == set(SCENARIOS) == set(result["scenarios"])
    figures = {(r["scenario"], r["figure"]) for r in result["rows"]}
    assert len(figures) == len(result["rows"]) >= 2 * len(SCENARIOS)
    assert all(r["met"] is None for r in result["rows"])  # quick: no verdicts
    for name in SCENARIOS:
        assert result["raw"][name]["wall_s"] >= 0
    assert result["machine"]["cpus"] >= 1
    assert "python -m bench --quick" in proc.stdout
