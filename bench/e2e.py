"""End to end, report → ``CaseAssigned``: intake and dispatch as processes (fresh databases, a topic prefix of
their own, free ports), one-tap reports over HTTP, the assignments read from the cases topic; beside a raw
aiokafka produce → consume round trip of messages of the same size, measured in the same run.

- latency, as a curve: reports sent open-loop at each of ``rates`` (per second) for ``seconds`` s; each report's
  latency is from the moment its POST left to the moment the bench's own consumer read the ``CaseAssigned`` of its
  case (matched through ``CaseOpened.report_ids``). The baseline sends raw messages at the highest rate and measures
  produce → consume.
- throughput (the capacity): ``burst`` reports as fast as ``concurrency`` clients can send them; reports ÷ (last
  assignment read − first report sent). The baseline: as many raw messages, produced as fast as aiokafka takes them.
- cost: each service process's CPU seconds (user + system, from /proc) over everything after the warm-up, per 1,000
  reports, and its peak resident memory (VmHWM); with replicas, every process of the service and the balancer. And
  the whole machine's busy CPU seconds (/proc/stat) less the bench's own, per 1,000 reports: the services, PostgreSQL
  and Kafka together, which bounds the capacity on any number of cores at about cores × 1,000 ÷ that figure.

``python -m bench.e2e [--quick | --short] [--replicas N]`` runs it alone (``--short``: the capacity and the cost only,
in about a minute, to compare commits); ``python -m bench`` runs it with the rest of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cpu import cpu_seconds, machine_cpu_seconds
from bench.intake_common import ADMIN, KAFKA, registry
from bench.intake_reports import body
from deploy.local.scratch_db import drop_database, recreate_database
from deploy.local.services import BALANCER, REPO, SERVICES, ServiceSet
from shared.auth import Principal, Role, issue
from shared.settings import DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import free_ports

UNITS = {
    "units": [
        {"id": "U-B-HEAT", "type": "heating_company", "name": "压测供热", "district_id": "D-B",
         "covers": {"substation": ["SS-B1", "SS-B2"]}},
        {"id": "U-B-PM", "type": "property_manager", "name": "压测物业", "district_id": "D-B",
         "covers": {"compound": ["CP-B"]}},
        {"id": "U-B-HB", "type": "housing_bureau", "name": "压测住建", "district_id": "D-B",
         "covers": {"district": ["D-B"]}},
        {"id": "U-B-TF", "type": "street_task_force", "name": "压测专班", "district_id": "D-B",
         "covers": {"street": ["S-B"]}},
    ]
}  # fmt: skip


@contextlib.asynccontextmanager
async def services(
    tag: str, names: Sequence[str], env: dict[str, str] | None = None, *, replicas: int = 1
) -> AsyncIterator[ServiceSet]:
    """The named services as processes on fresh databases and a topic prefix; stopped and dropped afterwards. With
    ``replicas`` > 1, that many processes of each behind the local haproxy (``ServiceSet(replicas=…)``)."""
    run = uuid.uuid4().hex[:6]
    databases = {n: f"bench_{tag}_{n}_{run}" for n in names}
    for db in databases.values():
        await recreate_database(db)
    quiet = {f"{n.upper()}_LOG_LEVEL": "WARNING" for n in names}
    ss = ServiceSet(
        state_dir=REPO / ".local" / "bench" / f"{tag}-{run}",
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),  # every service's url is known
        databases=databases,
        topic_prefix=f"bench-{tag}-{run}.",
        extra_env=quiet | (env or {}),
        replicas=replicas,
    )
    try:
        await asyncio.to_thread(ss.up, tuple(names))
        yield ss
    finally:
        await asyncio.to_thread(ss.down, tuple(names))
        for db in databases.values():
            await drop_database(db)


@contextlib.asynccontextmanager
async def reuse_or_start(
    given: ServiceSet | None, tag: str, names: Sequence[str], *, replicas: int = 1
) -> AsyncIterator[ServiceSet]:
    """The given service set, or a fresh one for this scenario."""
    if given is not None:
        yield given
        return
    async with services(tag, names, replicas=replicas) as fresh:
        yield fresh


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


@dataclass
class Watch:
    """The cases topic as the bench's consumer reads it: report → case, case → when its assignment was read."""

    case_of: dict[str, str] = field(default_factory=dict)
    assigned_at: dict[str, float] = field(default_factory=dict)

    def latency(self, report_id: str, sent: float) -> float | None:
        case = self.case_of.get(report_id)
        at = self.assigned_at.get(case) if case else None
        return None if at is None else at - sent


async def _watch(topic: str, w: Watch, ready: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.seek_to_beginning()
        ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    e = json.loads(r.value)
                    if e["event_type"] == "CaseOpened":
                        for rid in e["payload"]["report_ids"]:
                            w.case_of[rid] = e["payload"]["case_id"]
                    elif e["event_type"] == "CaseAssigned":
                        w.assigned_at.setdefault(e["payload"]["case_id"], now)
    finally:
        await consumer.stop()


def _all_assigned(w: Watch, report_of: dict[int, str], ids: range) -> bool:
    return all(w.latency(report_of[i], 0) for i in ids if i in report_of)


async def _until(what: str, done: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _message_size(topic: str, sample: int = 50) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    sizes: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while len(sizes) < sample and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=sample)).values():
                sizes += [len(r.value) for r in records]
    finally:
        await consumer.stop()
    return int(statistics.fmean(sizes)) if sizes else 1000


def processes(ss: ServiceSet, names: Sequence[str]) -> dict[str, list[int]]:
    """service → the pids of its processes; with replicas, the balancer in front of them too."""
    found = {name: [pid for i in ss.instances(name) if (pid := ss.pid(i)) is not None] for name in names}
    if ss.replicas > 1 and (pid := ss.pid(BALANCER)) is not None:
        found[BALANCER] = [pid]
    return found


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def system(
    *, rates: Sequence[float], seconds: float, burst: int, concurrency: int, wait: float, warmup: int = 50,
    given: ServiceSet | None = None, replicas: int = 1,
) -> dict[str, Any]:  # fmt: skip
    n_curve = sum(int(r * seconds) for r in rates)
    async with reuse_or_start(given, "e2e", ("intake", "dispatch"), replicas=replicas) as ss:
        topics = Topics(ss.topic_prefix)
        token = issue(Principal(role=Role.GRID_WORKER, sub="GW-B", scope="G-B-01"), DEV_AUTH_PRIVATE_KEY)
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            intake, dispatch = ss.url("intake"), ss.url("dispatch")
            reg = registry(warmup + n_curve + burst)
            (await http.put(f"{intake}/admin/registry", json=reg, headers=ADMIN, timeout=300)).raise_for_status()
            (await http.put(f"{dispatch}/admin/units", json=UNITS, headers=ADMIN)).raise_for_status()
            w, ready = Watch(), asyncio.Event()
            watcher = asyncio.create_task(_watch(topics.cases, w, ready))
            await ready.wait()
            headers = {"Authorization": f"Bearer {token}"}
            report_of: dict[int, str] = {}
            sent: dict[int, float] = {}
            failures = 0

            async def post(i: int) -> None:
                """One report; keyed, so a connection dropped under load is resent safely (twice at most)."""
                nonlocal failures
                sent[i] = time.perf_counter()
                for attempt in range(3):
                    try:
                        r = await http.post(
                            f"{intake}/v1/grid-reports", json=body(i) | {"idempotency_key": f"e2e-{i}"}, headers=headers
                        )
                    except httpx.TransportError:
                        if attempt == 2:
                            failures += 1
                            return
                        continue
                    if r.status_code in (200, 201):
                        report_of[i] = r.json()["id"]
                    else:
                        failures += 1
                    return

            # Every process of each service (its replicas), and the balancer in front of them: the cost of the work.
            pids = processes(ss, ("intake", "dispatch"))
            try:
                # warm-up: connections, prepared statements, consumer groups settled
                await asyncio.gather(*(post(i) for i in range(warmup)))
                await _until("warm-up", lambda: all(w.latency(report_of[i], 0) for i in report_of), 60)
                cpu_before = {name: sum(map(cpu_seconds, group)) for name, group in pids.items()}
                # The whole machine (PostgreSQL, Kafka, the services) less this process, the load generator.
                machine_before = machine_cpu_seconds() - cpu_seconds(os.getpid())
                # latency at steady rates, open loop, the lowest first
                curve, nxt = [], warmup
                for rate in rates:
                    n = int(rate * seconds)
                    t0, tasks = time.perf_counter(), []
                    for k in range(n):
                        await asyncio.sleep(max(0.0, t0 + k / rate - time.perf_counter()))
                        tasks.append(asyncio.create_task(post(nxt + k)))
                    await asyncio.gather(*tasks)
                    send_s = time.perf_counter() - t0
                    ids = range(nxt, nxt + n)
                    nxt += n
                    await _until("assignments", functools.partial(_all_assigned, w, report_of, ids), wait)
                    lat = [x for i in ids if i in report_of and (x := w.latency(report_of[i], sent[i])) is not None]
                    # not assigned within the wait: counted at the wait, so the percentiles are lower bounds
                    censored = [wait] * (n - len(lat))
                    curve.append(
                        {
                            "rate": rate,
                            "sent_rate": n / send_s,
                            "latency_n": len(lat),
                            "latency_missing": len(censored),
                            "p50_ms": pct(lat + censored, 0.50) * 1000,
                            "p99_ms": pct(lat + censored, 0.99) * 1000,
                            "max_ms": max(lat + censored, default=float("nan")) * 1000,
                        }
                    )
                # throughput: as fast as the clients can send
                first = nxt
                queue = iter(range(first, first + burst))
                t1 = time.perf_counter()

                async def client() -> None:
                    for i in queue:
                        await post(i)

                await asyncio.gather(*(client() for _ in range(concurrency)))
                burst_ids = range(first, first + burst)
                drained = await _until(
                    "burst", lambda: all(w.latency(report_of[i], 0) for i in burst_ids if i in report_of), wait
                )
                done = [at for i in burst_ids if i in report_of and (at := w.latency(report_of[i], 0)) is not None]
                reports = n_curve + burst
                cost = {
                    name: {
                        "cpu_s_per_1000": (sum(map(cpu_seconds, group)) - cpu_before[name]) / reports * 1000,
                        "peak_rss_mb": max(map(_peak_rss_mb, group)),
                        "processes": len(group),
                    }
                    for name, group in pids.items()
                }
                machine = (machine_cpu_seconds() - cpu_seconds(os.getpid()) - machine_before) / reports * 1000
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            size = await _message_size(topics.complaints)
    return {
        "seconds": seconds,
        "curve": curve,
        "cost": cost,
        "burst": burst,
        "burst_assigned": len(done),
        "burst_drained": drained,
        "throughput": len(done) / max(1e-9, max(done, default=t1) - t1),
        "failures": failures,
        "message_bytes": size,
        "replicas": ss.replicas,
        "machine_cpu_s_per_1000": machine,
        "cpus": os.cpu_count() or 1,
    }


async def raw(*, rate: float, seconds: float, burst: int, size: int) -> dict[str, Any]:
    """The same shape of work on the bare broker: keyed messages of ``size`` bytes, produced with the services'
    producer settings (idempotent, acks=all, linger 2 ms), consumed by a plain consumer."""
    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    received: dict[int, float] = {}
    ready = asyncio.Event()

    async def consume() -> None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            await consumer.seek_to_beginning()
            ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        received[int.from_bytes(r.value[:8], "big")] = now
        finally:
            await consumer.stop()

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all", linger_ms=2)
    await producer.start()
    reader = asyncio.create_task(consume())
    await ready.wait()
    pad = b"x" * max(0, size - 8)
    sent: dict[int, float] = {}

    async def send(i: int) -> None:
        sent[i] = time.perf_counter()
        await producer.send(topic, i.to_bytes(8, "big") + pad, key=uuid.uuid4().hex[:16].encode())

    try:
        n = int(rate * seconds)
        t0 = time.perf_counter()
        for k in range(n):
            await asyncio.sleep(max(0.0, t0 + k / rate - time.perf_counter()))
            await send(k)
        await _until("raw latency", lambda: len(received) >= n, 60)
        lat = [received[i] - sent[i] for i in range(n) if i in received]
        t1 = time.perf_counter()
        for k in range(n, n + burst):
            await send(k)
        await producer.flush()
        await _until("raw burst", lambda: len(received) >= n + burst, 120)
        last = max((received[i] for i in range(n, n + burst) if i in received), default=time.perf_counter())
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return {
        "message_bytes": size,
        "p50_ms": pct(lat, 0.50) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "throughput": burst / max(1e-9, last - t1),
    }


RATES = (10.0, 50.0, 100.0, 200.0)


async def run(*, quick: bool = False, given: ServiceSet | None = None, replicas: int = 1) -> dict[str, Any]:
    """``quick``: 1 s at 10 and 20/s and a burst of 30, to check it works; otherwise 10 s at each of ``RATES`` and
    a burst of 2,000. ``replicas``: processes of each service (behind the local haproxy)."""
    rates: tuple[float, ...]
    if quick:
        rates, seconds, burst, concurrency, wait, warmup = (10.0, 20.0), 1.0, 30, 8, 60.0, 10
    else:
        rates, seconds, burst, concurrency, wait, warmup = RATES, 10.0, 2000, 32, 180.0, 50
    ours = await system(
        rates=rates, seconds=seconds, burst=burst, concurrency=concurrency, wait=wait, warmup=warmup, given=given,
        replicas=replicas,
    )  # fmt: skip
    base = await raw(rate=rates[-1], seconds=seconds, burst=burst, size=ours["message_bytes"])
    return {"system": ours, "raw": base}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--replicas", type=int, default=1, help="processes of each service, behind the local haproxy")
    p.add_argument("--short", action="store_true", help="3 s at 10/s, a burst of 1,500: capacity and cost in a minute")
    a = p.parse_args()
    if a.short:
        short = system(rates=(10.0,), seconds=3, burst=1500, concurrency=32, wait=120, replicas=a.replicas)
        result = asyncio.run(short)
        cost = {name: round(c["cpu_s_per_1000"], 2) for name, c in result["cost"].items()}
        print(json.dumps({"capacity": round(result["throughput"], 1), "cpu_s_per_1000": cost}))
        return
    result = asyncio.run(run(quick=a.quick, replicas=a.replicas))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
