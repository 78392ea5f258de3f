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
    # the loop's requests timed from both ends: the units' poll, by the generator and by dispatch
    poll = result["raw"]["loop"]["requests"]["assignments"]
    assert poll["n"] >= 20 and 0 < poll["p50_ms"] <= poll["p99_ms"] and poll["wait_p50_ms"] >= 0
    assert result["raw"]["loop"]["routes"]["dispatch GET /v1/assignments"]["n"] >= 20
    assert "python -m bench --quick" in proc.stdout


def test_the_arming_benchmark_measures_both_ways() -> None:
    """``python -m bench.timer_arming``: both ways of arming measured, in the same run."""
    asyncio.run(check_stack())
    proc = run_command([sys.executable, "-m", "bench.timer_arming", "--calls", "50"], cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["executemany", "schedule_many"]
    assert all("calls/s" in line and "client CPU ms per call" in line for line in lines)


def test_the_console_version_benchmark_measures_the_statement_beside_the_list_read() -> None:
    """``python -m bench.console_version``: the version read and the list read it replaced, in the same run."""
    asyncio.run(check_stack())
    proc = run_command(
        [sys.executable, "-m", "bench.console_version", "--open", "5", "--reads", "50"], cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = proc.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["the list, hashed", "console.version"]
    assert all("reads/s" in line and "client CPU µs per read" in line and "(5 open" in line for line in lines)


def test_the_redaction_benchmark_measures_few_and_many_households() -> None:
    """``python -m bench.redaction``: the same texts from five households and from many, in the same run."""
    proc = run_command(
        [sys.executable, "-m", "bench.redaction", "--households", "600", "--reports", "600"], cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["5", "households"], ["600", "households"]]
    assert all("µs per redaction" in line for line in lines) and "ratio" in lines[1]
