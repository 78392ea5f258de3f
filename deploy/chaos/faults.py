"""The faults of a chaos run, from the seed alone: which component goes down when, and for how long.

Every service is killed with SIGKILL twice, the broker once (SIGKILL, then ``deploy/local/stack up``), PostgreSQL
once (immediate shutdown, then ``stack up``). Their order and moments are drawn from the seed within the load window,
one per slot (as wide as the fault takes), so no two overlap; each is injected no earlier than the previous one has
fully recovered.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from deploy.chaos.stack import PrivateStack
from deploy.local.services import SERVICES, ServiceSet

KAFKA = "kafka"
POSTGRES = "postgres"
KINDS = {KAFKA: "broker kill -9 + restart", POSTGRES: "PostgreSQL immediate shutdown + restart"}
KINDS |= {name: "kill -9 + restart" for name in SERVICES}

# The window's share in which faults are placed: load before the first, and time after the last to show recovery.
FIRST, LAST = 0.06, 0.7


@dataclass
class Fault:
    target: str  # a service name, KAFKA or POSTGRES
    at: float  # planned: seconds after the load started
    pause: float  # seconds the component stays down before it is started again
    injected: float | None = None  # actual, seconds after the load started
    back: float | None = None  # the component answers again (a service's /readyz, the stack script's checks)
    ready: float | None = None  # every service answers /readyz again
    error: str | None = None

    @property
    def kind(self) -> str:
        return KINDS[self.target]

    @property
    def down_s(self) -> float | None:
        return None if self.injected is None or self.back is None else self.back - self.injected


GAP_S = 5.0

# How long each fault keeps its component away on the development machine (down and back to ready, in seconds):
# each fault's slot is this wide (scaled to the window), so one has recovered before the next is injected.
EXPECTED_S = {KAFKA: 40.0, POSTGRES: 18.0} | {name: 15.0 for name in SERVICES}


def plan(seed: int, window: float) -> list[Fault]:
    """Eight faults in a seeded order at seeded moments of ``window`` seconds of load, one per slot."""
    rng = random.Random(f"chaos:{seed}")
    targets = [name for name in SERVICES for _ in range(2)] + [KAFKA, POSTGRES]
    rng.shuffle(targets)
    start, end = FIRST * window, LAST * window
    scale = (end - start) / sum(EXPECTED_S[t] for t in targets)
    faults, slot_start = [], start
    for target in targets:
        slot = EXPECTED_S[target] * scale
        at = slot_start + rng.uniform(0.0, 0.3 * slot)
        pause = rng.uniform(0.0, 1.5) if target in SERVICES else rng.uniform(0.5, 3.0)
        faults.append(Fault(target=target, at=round(at, 2), pause=round(pause, 2)))
        slot_start += slot
    return faults


class Injector:
    """Injects the planned faults in order, each after the previous one has recovered."""

    def __init__(
        self, faults: list[Fault], *, stack: PrivateStack, services: ServiceSet, say: Callable[[str], None]
    ) -> None:
        self.faults = faults
        self.stack = stack
        self.services = services
        self.say = say
        self.t0 = 0.0
        self.kills: dict[str, int] = {}  # service → kills so far: with replicas, each kill takes the next replica

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def run(self, t0: float) -> None:
        self.t0 = t0
        ready = 0.0
        for fault in self.faults:
            # As planned, but never before the system had a few seconds to itself after the previous fault.
            wait = max(fault.at, ready + GAP_S) - self.now()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self.inject(fault)
                ready = self.now()
            except Exception as exc:
                fault.error = f"{type(exc).__name__}: {exc}"[:2000]
                self.say(f"[red]故障注入失败[/red] {fault.target}: {fault.error}")
                raise

    async def inject(self, fault: Fault) -> None:
        fault.injected = self.now()
        self.say(
            f"[bold red]故障[/bold red] t={fault.injected:.1f}s {fault.target}: {fault.kind}（停 {fault.pause:.1f}s）"
        )
        if fault.target in SERVICES:
            # One process: the service. Replicas: one of them, in turn, while the others carry on.
            replicas = self.services.instances(fault.target)
            n = self.kills.get(fault.target, 0)
            self.kills[fault.target] = n + 1
            victim = replicas[n % len(replicas)]
            await asyncio.to_thread(self.services.kill, victim)
            await asyncio.sleep(fault.pause)
            await asyncio.to_thread(self.services.start, victim)
            await asyncio.to_thread(self.services.wait_ready, victim, 180)
        elif fault.target == KAFKA:
            await asyncio.to_thread(self.stack.kill_kafka)
            await asyncio.sleep(fault.pause)
            await asyncio.to_thread(self.stack.up)
        else:
            await asyncio.to_thread(self.stack.crash_postgres)
            await asyncio.sleep(fault.pause)
            await asyncio.to_thread(self.stack.up)
        fault.back = self.now()
        for name in SERVICES:  # a broker or database back is not enough: the services must be ready on it again
            await asyncio.to_thread(self.services.wait_ready, name, 180)
        fault.ready = self.now()
        self.say(
            f"[green]恢复[/green] t={fault.ready:.1f}s {fault.target} 已恢复（停机 {fault.down_s or 0:.1f}s，"
            f"全部服务就绪 {fault.ready - (fault.injected or 0):.1f}s）"
        )
