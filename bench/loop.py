"""The whole loop sustained: one-tap reports at a steady rate for N minutes through the three services as processes
(fresh databases, their own topic prefix), worked by the simulator's punctual units and grid workers (签收, 到场,
办结, 回访) until closed. Kafka consumer lag and outbox backlog are read from the services' ``/metrics`` after a
warm-up and at the end (and every 30 s between): a loop that keeps up shows no growth.

The dispatch clocks are divided by 600 for the run (a fresh database, nothing to restore) so that the simulator's
punctual units, which sign in within the first half of the clock, do so within seconds.

``python -m bench.loop [--minutes 10] [--rate 20] [--replicas 1] [--quick]``. With replicas, the lag read from any
one process is its consumer group's, and the backlog its database's: the same whichever the balancer picks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.e2e import pct, reuse_or_start
from deploy.local.services import ServiceSet
from deploy.simulate import actors, district, plan
from deploy.simulate.api import Api, Credentials, Refused
from deploy.simulate.config import tight_rules
from shared.contracts.common import Category

CATEGORIES = (Category.COLD_ROOM,) * 6 + (Category.LEAK, Category.AIR_LOCK, Category.CLOGGED_FILTER)
TEXTS = {c: plan.TEXTS[c][0].format(t=15) for c in set(CATEGORIES)}


async def scrape(urls: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per service: total consumer lag (messages, every topic and partition) and outbox backlog (rows)."""
    out: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for name, url in urls.items():
            text = (await http.get(url + "/metrics")).text
            lag = backlog = 0.0
            for family in text_string_to_metric_families(text):
                if family.name == "kafka_consumer_lag":
                    lag += sum(s.value for s in family.samples)
                elif family.name == "outbox_backlog":
                    backlog += sum(s.value for s in family.samples)
            out[name] = {"lag": lag, "backlog": backlog}
    return out


def _total(sample: dict[str, dict[str, float]], what: str) -> float:
    return sum(v[what] for v in sample.values())


async def run(
    *, minutes: float, rate: float, quick: bool = False, seed: int = 1, given: ServiceSet | None = None,
    replicas: int = 1,
) -> dict[str, Any]:  # fmt: skip
    warmup, drain = (3.0, 15.0) if quick else (30.0, 90.0)
    d = district.generate(seed, streets=2)
    async with reuse_or_start(given, "loop", ("intake", "dispatch", "followup"), replicas=replicas) as ss:
        urls = {n: ss.url(n) for n in ("intake", "dispatch", "followup")}
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
        started = time.monotonic()
        total = warmup + minutes * 60
        pending: set[asyncio.Task[None]] = set()
        next_sample = started + warmup
        n = 0
        try:
            while (now := time.monotonic()) < started + total:
                while n < (now - started) * rate:
                    t = asyncio.create_task(report(n))
                    pending.add(t)
                    t.add_done_callback(pending.discard)
                    n += 1
                if now >= next_sample:
                    sample = await scrape(urls)
                    samples.append({"t": round(now - started, 1), "services": sample})
                    print(
                        f"  loop t={now - started:5.0f}s  sent {len(sent):6d}"
                        f"  consumer lag {_total(sample, 'lag'):6.0f}  outbox backlog {_total(sample, 'backlog'):5.0f}",
                        flush=True,
                    )
                    next_sample = now + (5 if quick else 30)
                await asyncio.sleep(0.02)
            end_sample = await scrape(urls)
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
        "sent_per_s": len(sent) / (warmup + window),
        "closed": len(closed_at),
        "closed_share": len(closed_at) / max(1, len(sent)),
        "loop_p50_s": pct(loop_s, 0.5),
        "loop_p99_s": pct(loop_s, 0.99),
        "lag_start": _total(first, "lag"),
        "lag_end": _total(last, "lag"),
        "backlog_start": _total(first, "backlog"),
        "backlog_end": _total(last, "backlog"),
        "samples": samples,
        "actors": dict(crew.counts),
        "errors": crew.errors[:20],
    }


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
