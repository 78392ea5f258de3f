"""The benchmark suite: every scenario, each figure beside a raw baseline measured in the same run, one table.

    python -m bench                          # the whole suite (several minutes, 10 of them the sustained loop)
    python -m bench --quick                  # tiny sizes: checks that every scenario runs (figures mean nothing)
    python -m bench --only one_tap,e2e       # some scenarios
    python -m bench --compare A.json B.json  # two runs side by side

Scenarios (the local stack must be up: ``deploy/local/stack up``; services are started by the suite):

- ``one_tap``: one-tap reports/s and p50/p99 through the intake app in this process, beside a bare endpoint doing
  one asyncpg INSERT + COMMIT per request behind the same HTTP client (``bench.intake_reports``);
- ``e2e``: report → ``CaseAssigned`` capacity, latency at 10, 50, 100 and 200 reports/s offered, and each
  service's CPU seconds and peak memory per 1,000 reports, intake and dispatch as processes, beside a raw aiokafka
  produce → consume round trip of messages of the same size (``bench.e2e``); a PNG of latency against offered rate
  is written beside the JSON;
- ``sensors``: sensor readings/s in batches of 500 beside asyncpg COPY of the same rows (``bench.intake_sensors``);
- ``rate_limit``: the shared rate limit's check alone (over 1,000 callers, and all on one) beside a bare ``SELECT 1``
  round trip on the same pool and the in-memory check; one-tap reports/s with the database limiter and the in-memory
  one (``bench.rate_limits``);
- ``photos``: phone photos (1600 px JPEG) granted, uploaded to S3 and accepted (checks, EXIF, a copy without EXIF and a
  thumbnail) per second, beside raw S3 PUTs of the same bytes (``bench.photos``);
- ``timers``: 500,000 pending deadlines, 50,000 due within a minute (``bench.timers``);
- ``loop``: the whole loop (report → closed) sustained for ``--loop-minutes`` at ``--loop-rate``, consumer lag
  and outbox backlog at start and end (``bench.loop``).

Results go to ``bench/results/<UTC timestamp>.json`` (ignored by git) unless ``--json`` says otherwise. The exit
status is 0 when every scenario ran: the targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import e2e, intake_reports, intake_sensors, loop, photos, rate_limits, report, timers
from bench.intake_common import Figures
from bench.report import Row, Suite

SCENARIOS = ("one_tap", "e2e", "sensors", "rate_limit", "photos", "timers", "loop")


def _fig(f: Figures, per: int = 1) -> dict[str, float]:
    return {
        "rate": f.rate * per,
        "p50_ms": f.pct(0.50),
        "p99_ms": f.pct(0.99),
        "n": f.count,
        "seconds": f.seconds,
        "cpu_us_each": f.cpu_us_each[0] / per,
        "machine_cpu_us_each": f.cpu_us_each[1] / per,
    }


async def one_tap(quick: bool) -> dict[str, Any]:
    """``bench.intake_reports`` with its figures returned: two interleaved rounds of each side."""
    total, concurrency, warmup = (200, 8, 20) if quick else (4000, 32, 200)
    m = await intake_reports.measure(total, concurrency, warmup)
    return {
        "requests": total,
        "concurrency": concurrency,
        "intake": _fig(m.intake),
        "baseline": _fig(m.baseline),
        "plumbing_floor": _fig(m.floor),
        "raw_asyncpg": _fig(m.raw),
    }


async def sensors(quick: bool) -> dict[str, Any]:
    """``bench.intake_sensors`` with its figures returned."""
    batches, concurrency, size = (10, 2, 500) if quick else (200, 4, 500)
    ours, theirs = await intake_sensors.measure(batches, concurrency, size)
    return {
        "batches": batches,
        "batch_size": size,
        "concurrency": concurrency,
        "intake": _fig(ours, size),
        "copy": _fig(theirs, size),
    }


async def rate_limit(quick: bool) -> dict[str, Any]:
    """``bench.rate_limits`` with its figures returned."""
    checks, reports, concurrency = (200, 40, 8) if quick else (4000, 2000, 32)
    m = await rate_limits.measure(checks, reports, concurrency, warmup=20 if quick else 100)
    return {
        "checks": checks,
        "reports": reports,
        "concurrency": concurrency,
        "select_1": _fig(m.select_1),
        "shared_spread": _fig(m.shared_spread),
        "shared_hot": _fig(m.shared_hot),
        "memory": _fig(m.memory),
        "reports_shared": _fig(m.reports_shared),
        "reports_memory": _fig(m.reports_memory),
    }


async def photo_pipeline(quick: bool) -> dict[str, Any]:
    """``bench.photos``: photos granted, uploaded and accepted, beside raw S3 PUTs of the same bytes."""
    total, concurrency = (6, 2) if quick else (200, 4)
    return await photos.measure(total, concurrency)


async def timer_engine(quick: bool) -> dict[str, Any]:
    if quick:
        # A process of its own: it runs beside the in-process intake app, and two Alembic upgrades in one
        # process at once share Alembic's global context.
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "timers.json"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.timers", "--quick", "--json", str(out),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            log, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"bench.timers --quick exited {proc.returncode}: {log.decode()[-2000:]}")
            result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))["timers"]
            return result
    return await timers.run(500_000, 50_000, 60.0, 1)


def rows(name: str, raw: dict[str, Any], *, quick: bool, loop_label: str = "") -> list[Row]:
    """The table's rows of one scenario; ``met`` is left empty in quick mode (sizes too small to mean anything)."""

    def met(ok: bool) -> bool | None:
        return None if quick else ok

    if name == "one_tap":
        s, b = raw["intake"], raw["baseline"]
        label = "asyncpg INSERT+COMMIT"
        return [
            Row("one-tap reports", "reports/s", s["rate"], "/s", b["rate"], label,
                f"≥ {intake_reports.TARGET}× baseline", met(s["rate"] >= intake_reports.TARGET * b["rate"])),
            Row("one-tap reports", "p50 latency", s["p50_ms"], "ms", b["p50_ms"], "baseline p50"),
            Row("one-tap reports", "p99 latency", s["p99_ms"], "ms", b["p99_ms"], "baseline p99"),
        ]  # fmt: skip
    if name == "e2e":
        s, b = raw["system"], raw["raw"]
        label = f"aiokafka round trip, {b['message_bytes']} B"
        out = [
            Row("report → CaseAssigned", "capacity (burst)", s["throughput"], "/s", b["throughput"], label,
                "≥ 250/s", met(s["throughput"] >= 250),
                "" if s["burst_drained"] else f"{s['burst_assigned']}/{s['burst']} assigned in time"),
        ]  # fmt: skip
        for point in s["curve"]:
            offered = f"accepted {point['sent_rate']:.0f}/s"
            if point["latency_missing"]:
                offered += f"; {point['latency_missing']} not assigned in time: a lower bound"
            target = "≤ 250 ms" if point["rate"] == 100 else ""
            ok = met(point["p99_ms"] <= 250 and not point["latency_missing"]) if target else None
            out += [
                Row("report → CaseAssigned", f"p50 at {point['rate']:g}/s offered", point["p50_ms"], "ms",
                    b["p50_ms"], label, note=offered),
                Row("report → CaseAssigned", f"p99 at {point['rate']:g}/s offered", point["p99_ms"], "ms",
                    b["p99_ms"], label, target, ok),
            ]  # fmt: skip
        for service, c in s["cost"].items():
            who = f"{service} ×{c['processes']}" if c.get("processes", 1) > 1 else service
            out.append(
                Row("report → CaseAssigned", f"{who}: CPU s per 1,000 reports", c["cpu_s_per_1000"], "s",
                    note=f"peak RSS {c['peak_rss_mb']:.0f} MB" + (" (the largest process)" if who != service else ""))
            )  # fmt: skip
        if "machine_cpu_s_per_1000" in s:
            per = s["machine_cpu_s_per_1000"]
            out.append(
                Row("report → CaseAssigned", "machine less the bench: CPU s per 1,000 reports", per, "s",
                    note=f"services, PostgreSQL, Kafka: at most ~{s['cpus'] * 1000 / max(per, 1e-9):.0f}/s on "
                    f"{s['cpus']} cores, ~{1000 / max(per, 1e-9):.0f}/s per core")
            )  # fmt: skip
        return out
    if name == "sensors":
        s, b = raw["intake"], raw["copy"]
        return [
            Row(f"sensor readings (batches of {raw['batch_size']})", "readings/s", s["rate"], "/s", b["rate"],
                "asyncpg COPY", "≥ 0.3× and ≥ 60,000/s",
                met(s["rate"] >= 0.3 * b["rate"] and s["rate"] >= 60_000)),
            Row(f"sensor readings (batches of {raw['batch_size']})", "p99 latency per batch", s["p99_ms"], "ms",
                b["p99_ms"], "COPY p99"),
            Row(f"sensor readings (batches of {raw['batch_size']})", "machine CPU µs per reading",
                s["machine_cpu_us_each"], "µs", b["machine_cpu_us_each"], "COPY, machine CPU"),
        ]  # fmt: skip
    if name == "rate_limit":
        base, label = raw["select_1"], "SELECT 1 round trip"
        spread, hot, mem = raw["shared_spread"], raw["shared_hot"], raw["memory"]
        taps, taps_mem = raw["reports_shared"], raw["reports_memory"]
        return [
            Row("rate limit (database)", "checks/s, 1,000 callers", spread["rate"], "/s", base["rate"], label),
            Row("rate limit (database)", "check p50, 1,000 callers", spread["p50_ms"], "ms", base["p50_ms"],
                "SELECT 1 p50"),
            Row("rate limit (database)", "checks/s, one caller", hot["rate"], "/s", base["rate"], label),
            Row("rate limit (database)", "check p99, one caller", hot["p99_ms"], "ms", base["p99_ms"], "SELECT 1 p99"),
            Row("rate limit (database)", "checks/s in memory (for scale)", mem["rate"], "/s"),
            Row("rate limit (database)", "one-tap reports/s", taps["rate"], "/s", taps_mem["rate"],
                "in-memory limiter"),
            Row("rate limit (database)", "one-tap p50", taps["p50_ms"], "ms", taps_mem["p50_ms"],
                "in-memory limiter p50"),
        ]  # fmt: skip
    if name == "photos":
        a, u, b = raw["accept"], raw["upload"], raw["raw_put"]
        scenario = f"photos ({raw['photo_bytes'] // 1024} KiB, 1600 px)"
        label = "raw S3 PUT, same bytes"
        return [
            Row(scenario, "accepted/s (checks, EXIF, copy, thumbnail)", a["rate"], "/s", b["rate"], label,
                "≥ 10/s", met(a["rate"] >= 10)),
            Row(scenario, "accept p99", a["p99_ms"], "ms", b["p99_ms"], "raw PUT p99"),
            Row(scenario, "grant + upload/s", u["rate"], "/s", b["rate"], label),
        ]  # fmt: skip
    if name == "timers":
        scenario = f"timers ({raw['pending']:,} pending, {raw['due']:,} due in {raw['window_s']:g} s)"
        return [
            Row(scenario, "drained after the last fell due", raw["drain_after_last_due_s"], "s", target="≤ 60 s",
                met=met(raw["drain_after_last_due_s"] <= 60)),
            Row(scenario, "lateness p99", raw["lateness_p99_s"], "s", target="≤ 2 s",
                met=met(raw["lateness_p99_s"] <= 2)),
            Row(scenario, "firings/s", raw["firings_per_s"], "/s"),
        ]  # fmt: skip
    scenario = f"whole loop (report → closed), {loop_label}"
    cpu = raw["cpu_s_per_1000"]
    lag, backlog = (raw["lag_start"], raw["lag_end"]), (raw["backlog_start"], raw["backlog_end"])
    return [
        Row(scenario, "consumer lag at end (vs start)", lag[1], "msgs", lag[0], "at start",
            "no growth: end ≤ start + max(50, 50%)", met(no_growth(*lag))),
        Row(scenario, "outbox backlog at end (vs start)", backlog[1], "rows", backlog[0], "at start",
            "no growth: end ≤ start + max(50, 50%)", met(no_growth(*backlog))),
        Row(scenario, "reports sent / closed", raw["sent"], "", raw["closed"], "closed",
            note=f"{raw['sent_per_s']:.1f}/s sent"),
        Row(scenario, "report → closed p50", raw["loop_p50_s"], "s"),
        Row(scenario, "report → closed p99", raw["loop_p99_s"], "s"),
        Row(scenario, "escalations per case opened", raw["escalations_per_case"], "",
            note=f"{raw['signed_in_late_share']:.0%} of sign-ins past their clock (clocks ÷600)"),
        Row(scenario, "machine CPU s per 1,000 reports (less the generator)", cpu["machine less the generator"], "s",
            note=" / ".join(f"{n} {v:g}" for n, v in cpu.items() if n != "machine less the generator")),
        *_loop_requests(scenario, raw),
    ]  # fmt: skip


# The requests whose punctuality the clocks judge, and the poll that finds the work.
_LOOP_REQUESTS = {"sign-in": "POST /v1/assignments/{assignment_id}/sign-in", "assignments": "GET /v1/assignments"}


def _loop_requests(scenario: str, raw: dict[str, Any]) -> list[Row]:
    """Per request kind: the generator's p99 (sent → answered) beside the service's own (its histogram's bucket),
    and the generator's wait for one of its connections, which a saturated machine makes the largest part."""
    out: list[Row] = []
    for label, route in _LOOP_REQUESTS.items():
        client, server = raw.get("requests", {}).get(label), raw.get("routes", {}).get(f"dispatch {route}")
        if client is None:
            continue
        out.append(
            Row(scenario, f"{label}: p99 sent → answered", client["p99_ms"], "ms",
                server["p99_le_ms"] if server else None, "dispatch's own p99 (≤ bucket)",
                note=f"{client['n']:,} calls; waited for a connection p50 {client['wait_p50_ms']:.0f} ms, "
                f"p99 {client['wait_p99_ms']:.0f} ms")
        )  # fmt: skip
    return out


def no_growth(start: float, end: float) -> bool:
    return end <= start + max(50.0, 0.5 * start)


def stop_on_sigterm() -> None:
    """SIGTERM cancels the run like Ctrl-C, so started services are stopped and their databases dropped."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


async def suite(a: argparse.Namespace, console: Console) -> Suite:
    stop_on_sigterm()
    out = Suite(quick=a.quick)
    wanted = [s for s in SCENARIOS if s in a.only]
    loop_minutes = 8 / 60 if a.quick else a.loop_minutes
    loop_rate = 2.0 if a.quick else a.loop_rate  # quick: whether it works, at the rate of a small city
    loop_label = f"{loop_minutes:g} min at {loop_rate:g}/s" if not a.quick else f"8 s at {loop_rate:g}/s"
    if a.replicas > 1:
        loop_label += f", {a.replicas} processes of each service"

    async def one(name: str, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        if name not in wanted:
            return
        console.print(f"[bold]{name}[/bold] …")
        started = time.monotonic()
        try:
            raw = await work()
        except Exception as exc:
            out.failed[name] = repr(exc)
            console.print(f"[red]{name} failed[/red]: {exc!r}")
            return
        raw["wall_s"] = round(time.monotonic() - started, 1)
        out.raw[name] = raw
        out.add(*rows(name, raw, quick=a.quick, loop_label=loop_label))
        console.print(f"[bold]{name}[/bold] done in {raw['wall_s']} s")

    async def bus_scenarios() -> None:
        # One service set for both: only whether they work is checked, and starting processes is slow.
        if "e2e" in wanted or "loop" in wanted:
            async with e2e.services("quick", ("intake", "dispatch", "followup")) as ss:
                await one("e2e", lambda: e2e.run(quick=True, given=ss))
                await one("loop", lambda: loop.run(minutes=loop_minutes, rate=loop_rate, quick=True, given=ss))

    async def intake_in_process() -> None:  # one intake app in this process at a time
        await one("one_tap", lambda: one_tap(True))
        await one("sensors", lambda: sensors(True))
        await one("rate_limit", lambda: rate_limit(True))
        await one("photos", lambda: photo_pipeline(True))

    if a.quick:  # side by side: the figures of a quick run mean nothing anyway
        await asyncio.gather(intake_in_process(), one("timers", lambda: timer_engine(True)), bus_scenarios())
    else:
        # One at a time, so no scenario measures another's load.
        await one("one_tap", lambda: one_tap(False))
        await one("e2e", lambda: e2e.run(quick=False, replicas=a.replicas))
        await one("sensors", lambda: sensors(False))
        await one("rate_limit", lambda: rate_limit(False))
        await one("photos", lambda: photo_pipeline(False))
        await one("timers", lambda: timer_engine(False))
        await one("loop", lambda: loop.run(minutes=loop_minutes, rate=loop_rate, replicas=a.replicas))
    order = {name: i for i, name in enumerate(SCENARIOS)}
    out.rows.sort(key=lambda r: order.get(_key(r.scenario), 99))
    return out


def _key(scenario: str) -> str:
    for prefix, key in (
        ("one-tap", "one_tap"),
        ("report →", "e2e"),
        ("sensor", "sensors"),
        ("rate limit", "rate_limit"),
        ("photos", "photos"),
        ("timers", "timers"),
    ):
        if scenario.startswith(prefix):
            return key
    return "loop"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, scenarios side by side: checks it works")
    p.add_argument("--loop-minutes", type=float, default=10.0, help="how long the whole loop is sustained")
    p.add_argument("--loop-rate", type=float, default=20.0, help="one-tap reports per second in the loop")
    p.add_argument("--replicas", type=int, default=1, help="processes of each service in e2e and loop (haproxy)")
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    p.add_argument("--json", type=Path, help="where to write the results (default bench/results/<timestamp>.json)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two result files and exit")
    a = p.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 160)
    if a.compare:
        report.compare(a.compare[0], a.compare[1], console)
        return 0
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = set(a.only) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    result = asyncio.run(suite(a, console))
    path = result.write(a.json)
    report.show(result, console)
    console.print(f"results: {path}")
    if "e2e" in result.raw:
        console.print(f"latency against offered rate: {report.plot_curve(result.raw['e2e'], path.with_suffix('.png'))}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
