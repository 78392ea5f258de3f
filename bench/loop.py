"""The whole loop sustained: one-tap reports at a steady rate for N minutes through the three services as processes
(fresh databases, their own topic prefix), worked by the simulator's punctual units and grid workers (签收, 到场,
办结, 回访) until closed. Kafka consumer lag and outbox backlog are read from the services' ``/metrics`` after a
warm-up and at the end (and every 30 s between): a loop that keeps up shows no growth. Over the warm-up the rate
rises evenly from nothing (``offered``): what is measured is whether the rate is sustained, not a cold start.

The dispatch clocks are divided by 600 for the run (a fresh database, nothing to restore) so that the simulator's
punctual units, which sign in within the first half of the clock, do so within seconds.

``python -m bench.loop [--minutes 10] [--rate 20] [--replicas 1] [--quick]``. With replicas, the lag read from any
one process is its consumer group's, and the backlog its database's: the same whichever the balancer picks.

Beside lag and backlog it prints what the window cost (CPU seconds per 1,000 reports of each service, of this load
generator, and of the whole machine less it) and how punctual the punctual units managed to be: escalations per
case opened and the share of sign-ins past their clock. With clocks divided by 600 a cold room's sign-in clock is
3 s, so a dispatch answering in seconds makes the units late; every escalation is more work for all three
services (timeline entries, notifications, 12345 callbacks, follow-up's record), so a loop that falls behind
escalates more and falls further behind. A loop that keeps up escalates next to nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.cpu import cpu_seconds, machine_cpu_seconds
from bench.e2e import pct, processes, reuse_or_start
from deploy.local.services import ServiceSet
from deploy.simulate import actors, district, plan
from deploy.simulate.api import Api, Credentials, Refused, Tally
from deploy.simulate.config import tight_rules
from shared.contracts.common import Category

CATEGORIES = (Category.COLD_ROOM,) * 6 + (Category.LEAK, Category.AIR_LOCK, Category.CLOGGED_FILTER)
TEXTS = {c: plan.TEXTS[c][0].format(t=15) for c in set(CATEGORIES)}


# Dispatch's counters read at each sample: how punctual the units were and how often a clock was breached.
PUNCTUALITY = {
    "dispatch_cases_opened_total": "opened",
    "dispatch_escalations_total": "escalations",
    "dispatch_signed_in_total": "signed_in",
}


async def read_metrics(urls: Iterable[str]) -> dict[str, str]:
    """URL → its ``/metrics`` page, each URL read once (with one process a service's URL is its process's own)."""
    async with httpx.AsyncClient(timeout=10) as http:
        return {url: (await http.get(url + "/metrics")).text for url in set(urls)}


def scrape(pages: dict[str, str], urls: dict[str, str], dispatch_processes: list[str]) -> dict[str, dict[str, float]]:
    """Per service: total consumer lag (messages, every topic and partition) and outbox backlog (rows); for
    dispatch also its cases opened, escalations and sign-ins (``signed_in_late``: past their clock) so far, summed
    over ``dispatch_processes`` (each replica's own URL: a counter is its process's, not its group's)."""
    out: dict[str, dict[str, float]] = {}
    for name, url in urls.items():
        got = {"lag": 0.0, "backlog": 0.0}
        for family in text_string_to_metric_families(pages[url]):
            if family.name == "kafka_consumer_lag":
                got["lag"] += sum(s.value for s in family.samples)
            elif family.name == "outbox_backlog":
                got["backlog"] += sum(s.value for s in family.samples)
        out[name] = got
    punctual = dict.fromkeys(("opened", "escalations", "signed_in", "signed_in_late"), 0.0)
    for url in dispatch_processes:
        for family in text_string_to_metric_families(pages[url]):
            if (key := PUNCTUALITY.get(family.name + "_total")) is None:
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    punctual[key] += sample.value
                    if key == "signed_in" and sample.labels.get("on_time") == "false":
                        punctual["signed_in_late"] += sample.value
    out["dispatch"] = out.get("dispatch", {}) | punctual
    return out


def route_buckets(pages: dict[str, str], process_urls: list[str]) -> dict[str, dict[float, float]]:
    """``http_request_duration_seconds`` of every process: "service METHOD route" → cumulative count per upper
    edge."""
    out: dict[str, dict[float, float]] = {}
    for url in process_urls:
        for family in text_string_to_metric_families(pages[url]):
            if family.name != "http_request_duration_seconds":
                continue
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    key = f"{sample.labels['service']} {sample.labels['method']} {sample.labels['route']}"
                    edges = out.setdefault(key, {})
                    le = float(sample.labels["le"])
                    edges[le] = edges.get(le, 0.0) + sample.value
    return out


def server_latency(
    first: dict[str, dict[float, float]], last: dict[str, dict[float, float]], *, least: int = 20
) -> dict[str, dict[str, float]]:
    """Per route served at least ``least`` times in the window: the count and the upper edges of the buckets holding
    p50 and p99 (the services' histogram: 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 5 s, +Inf)."""
    out: dict[str, dict[str, float]] = {}
    for route, edges in last.items():
        before = first.get(route, {})
        grew = {le: n - before.get(le, 0.0) for le, n in sorted(edges.items())}
        count = grew.get(float("inf"), 0.0)
        if count < least:
            continue

        def edge(q: float, grew: dict[float, float] = grew, count: float = count) -> float:
            return next(le for le, n in grew.items() if n >= q * count)

        out[route] = {"n": count, "p50_le_ms": edge(0.5) * 1000, "p99_le_ms": edge(0.99) * 1000}
    return out


def client_latency(tally: Tally, *, least: int = 20) -> dict[str, dict[str, float]]:
    """Per label called at least ``least`` times: the wait for a connection of the generator's pool and the request
    itself (sent → answered), p50 and p99 in ms."""
    return {
        label: {
            "n": spread.n,
            "wait_p50_ms": tally.waits[label].quantile(0.5) * 1000,
            "wait_p99_ms": tally.waits[label].quantile(0.99) * 1000,
            "p50_ms": spread.quantile(0.5) * 1000,
            "p99_ms": spread.quantile(0.99) * 1000,
        }
        for label, spread in sorted(tally.latency.items())
        if spread.n >= least
    }


def offered(t: float, rate: float, ramp: float) -> float:
    """Reports to have been sent ``t`` seconds in: the rate rises evenly from nothing over the warm-up (``ramp``),
    then holds. Services that start cold (no connection in their pools, nothing prepared, the consumer groups
    joining) and take the full rate at once fall behind, and a loop that falls behind escalates and stays behind:
    the run would measure the cold start, not whether the rate is sustained."""
    if t < ramp:
        return rate * t * t / (2 * ramp)
    return rate * (t - ramp / 2)


def _total(sample: dict[str, dict[str, float]], what: str) -> float:
    return sum(v.get(what, 0.0) for v in sample.values())


async def run(
    *, minutes: float, rate: float, quick: bool = False, seed: int = 1, given: ServiceSet | None = None,
    replicas: int = 1,
) -> dict[str, Any]:  # fmt: skip
    warmup, drain = (3.0, 15.0) if quick else (30.0, 90.0)
    d = district.generate(seed, streets=2)
    async with reuse_or_start(given, "loop", ("intake", "dispatch", "followup"), replicas=replicas) as ss:
        urls = {n: ss.url(n) for n in ("intake", "dispatch", "followup")}
        processes_of_dispatch = [ss.url(i) for i in ss.instances("dispatch")]
        every_process = [ss.url(i) for n in ("intake", "dispatch", "followup") for i in ss.instances(n)]
        creds = Credentials()
        api = Api(urls=urls, tokens=d.tokens(creds.auth_private_key), credentials=creds, concurrency=64)
        await api.request("intake", "PUT", "/admin/registry", label="registry", admin=True, body=d.intake_registry())
        await api.request("dispatch", "PUT", "/admin/units", label="units", admin=True, body=d.dispatch_units())
        history = await api.request("dispatch", "GET", "/admin/rules", label="rules", admin=True)
        tight = tight_rules(history[0]["document"], 600, "bench-loop")
        await api.request("dispatch", "PUT", "/admin/rules", label="rules", admin=True, body=tight)
        crew = actors.Crew(api, plan.Fates(seed), minute_s=0.002, log=lambda _: None, poll_s=0.5)
        workers = [
            actors.assignee(crew, u.id, plan.UnitProfile())
            for u in d.units
            if u.type not in ("street_task_force", "water_company")
        ]
        for p in d.people:
            if p.role in ("task_force", "grid_worker"):
                workers.append(actors.assignee(crew, p.sub, plan.UnitProfile()))
            if p.role == "grid_worker":
                workers.append(actors.return_visits(crew, p.sub))
        tasks = [asyncio.create_task(w) for w in workers]
        sent: dict[str, float] = {}
        refused: Counter[str] = Counter()
        rng = random.Random(seed)

        async def report(n: int) -> None:
            h = rng.choice(d.households)
            category = rng.choice(CATEGORIES)
            body = {
                "household_id": h.id,
                "category": category.value,
                "description": TEXTS[category],
                "idempotency_key": f"loop-{n}",
            }
            try:
                r = await api.grid_report(d.worker_of_grid[d.grid_of(h)], body)
                sent[r["id"]] = time.monotonic()
            except (Refused, httpx.HTTPError) as exc:
                refused[type(exc).__name__] += 1

        samples: list[dict[str, Any]] = []
        pids = processes(ss, ("intake", "dispatch", "followup"))
        cpu_at: dict[str, float] = {}
        routes_at: dict[str, dict[float, float]] = {}

        def cpu_now() -> dict[str, float]:
            bench = cpu_seconds(os.getpid())
            return {n: sum(map(cpu_seconds, g)) for n, g in pids.items()} | {
                "load generator": bench,
                "machine less the generator": machine_cpu_seconds() - bench,
            }

        started = time.monotonic()
        total = warmup + minutes * 60
        pending: set[asyncio.Task[None]] = set()
        next_sample = started + warmup
        n = 0
        sent_at_first = 0
        try:
            while (now := time.monotonic()) < started + total:
                while n < offered(now - started, rate, warmup):
                    t = asyncio.create_task(report(n))
                    pending.add(t)
                    t.add_done_callback(pending.discard)
                    n += 1
                if now >= next_sample:
                    pages = await read_metrics([*urls.values(), *every_process])
                    sample = scrape(pages, urls, processes_of_dispatch)
                    if not samples:
                        cpu_at, sent_at_first = cpu_now(), len(sent)
                        routes_at = route_buckets(pages, every_process)
                        api.tally.restart_timing()  # the window's requests only
                    samples.append({"t": round(now - started, 1), "services": sample})
                    print(
                        f"  loop t={now - started:5.0f}s  sent {len(sent):6d}"
                        f"  consumer lag {_total(sample, 'lag'):6.0f}  outbox backlog {_total(sample, 'backlog'):5.0f}"
                        f"  escalations {_total(sample, 'escalations'):5.0f}",
                        flush=True,
                    )
                    next_sample = now + (5 if quick else 30)
                await asyncio.sleep(0.02)
            pages = await read_metrics([*urls.values(), *every_process])
            end_sample = scrape(pages, urls, processes_of_dispatch)
            cpu_end, sent_in_window = cpu_now(), len(sent) - sent_at_first
            routes = server_latency(routes_at, route_buckets(pages, every_process))
            requests = client_latency(api.tally)
            samples.append({"t": round(time.monotonic() - started, 1), "services": end_sample})
            await asyncio.gather(*pending)
            closed_at = await _closed(api, list(sent), drain)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await api.close()
    window = minutes * 60
    first, last = samples[0]["services"], samples[-1]["services"]
    loop_s = [closed_at[r] - sent[r] for r in closed_at]
    return {
        "minutes": minutes,
        "rate": rate,
        "replicas": ss.replicas,
        "sent": len(sent),
        "refused": dict(refused),
        "sent_per_s": len(sent) / (warmup / 2 + window),
        "closed": len(closed_at),
        "closed_share": len(closed_at) / max(1, len(sent)),
        "loop_p50_s": pct(loop_s, 0.5),
        "loop_p99_s": pct(loop_s, 0.99),
        "lag_start": _total(first, "lag"),
        "lag_end": _total(last, "lag"),
        "backlog_start": _total(first, "backlog"),
        "backlog_end": _total(last, "backlog"),
        # over the measured window (the services may have served a warm-up or another scenario before)
        "escalations_per_case": _grew(first, last, "escalations") / max(1.0, _grew(first, last, "opened")),
        "signed_in_late_share": _grew(first, last, "signed_in_late") / max(1.0, _grew(first, last, "signed_in")),
        "cpu_s_per_1000": {n: round((cpu_end[n] - cpu_at[n]) / max(1, sent_in_window) * 1000, 1) for n in cpu_end},
        # what the units and workers waited for, seen from the generator and from the services, over the window
        "requests": requests,
        "routes": routes,
        "samples": samples,
        "actors": dict(crew.counts),
        "errors": crew.errors[:20],
    }


def _grew(first: dict[str, dict[str, float]], last: dict[str, dict[str, float]], what: str) -> float:
    return _total(last, what) - _total(first, what)


async def _closed(api: Api, report_ids: list[str], drain: float) -> dict[str, float]:
    """report id → when (monotonic, this process) it was told closed; waits up to ``drain`` s for the rest."""
    closed: dict[str, float] = {}
    deadline = time.monotonic() + drain
    waiting = list(report_ids)
    offset = time.time() - time.monotonic()
    while waiting and time.monotonic() < deadline:
        found = await asyncio.gather(
            *(api.request("intake", "GET", f"/v1/reports/{r}", label="loop_report", who="admin") for r in waiting),
            return_exceptions=True,
        )
        still = []
        for rid, rep in zip(waiting, found, strict=True):
            at = next(
                (e["at"] for e in rep.get("timeline", []) if e["status"] == "closed"), None
            ) if isinstance(rep, dict) else None  # fmt: skip
            if at is None:
                still.append(rid)
            else:
                closed[rid] = datetime.fromisoformat(at).timestamp() - offset
        waiting = still
        if waiting:
            await asyncio.sleep(2)
    return closed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=20.0, help="one-tap reports per second")
    p.add_argument("--replicas", type=int, default=1, help="processes of each service, behind the local haproxy")
    p.add_argument("--quick", action="store_true", help="8 s at the rate")
    a = p.parse_args()
    minutes = 8 / 60 if a.quick else a.minutes
    result = asyncio.run(run(minutes=minutes, rate=a.rate, quick=a.quick, replicas=a.replicas))
    result.pop("samples")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
