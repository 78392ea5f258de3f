"""The benchmark's cost row counts every process of a service: each replica, and the balancer in front of them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cpu import cpu_seconds, machine_cpu_seconds
from bench.e2e import processes
from deploy.local.services import BALANCER, ServiceSet


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(5)]
    yield started
    for p in started:
        p.kill()
        p.wait()


def _write_pids(ss: ServiceSet, pids: dict[str, int]) -> None:
    ss.state_dir.mkdir(parents=True, exist_ok=True)
    for name, pid in pids.items():
        (ss.state_dir / f"{name}.pid").write_text(str(pid))


def test_one_process_each_without_replicas(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    ss = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3})
    _write_pids(ss, {"intake": sleepers[0].pid, "dispatch": sleepers[1].pid})
    assert processes(ss, ("intake", "dispatch")) == {"intake": [sleepers[0].pid], "dispatch": [sleepers[1].pid]}


def test_replicas_and_the_balancer_are_counted(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    ss = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3}, replicas=2)
    pids = {
        "intake.1": sleepers[0].pid,
        "intake.2": sleepers[1].pid,
        "dispatch.1": sleepers[2].pid,
        "dispatch.2": sleepers[3].pid,
        BALANCER: sleepers[4].pid,
    }
    _write_pids(ss, pids)
    found = processes(ss, ("intake", "dispatch"))
    assert found == {
        "intake": [pids["intake.1"], pids["intake.2"]],
        "dispatch": [pids["dispatch.1"], pids["dispatch.2"]],
        BALANCER: [pids[BALANCER]],
    }


def test_a_replica_that_is_gone_is_left_out(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    ss = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3}, replicas=2)
    sleepers[1].kill()
    sleepers[1].wait()
    _write_pids(ss, {"intake.1": sleepers[0].pid, "intake.2": sleepers[1].pid})
    assert processes(ss, ("intake",)) == {"intake": [sleepers[0].pid]}


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert cpu_seconds(os.getpid()) > before


def test_some_services_with_replicas_start_behind_the_balancer(tmp_path: Path) -> None:
    """``up(("intake", "dispatch"))`` of a set with replicas starts the balancer too: their URLs are its own."""
    ss = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3}, replicas=2)
    assert ss._fronted(("intake", "dispatch")) == (BALANCER, "intake", "dispatch")
    assert ss._fronted((BALANCER, "intake")) == (BALANCER, "intake")
    single = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3})
    assert single._fronted(("intake", "dispatch")) == ("intake", "dispatch")


def test_the_machine_is_busy_at_least_as_long_as_this_process_works() -> None:
    machine, own = machine_cpu_seconds(), cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))
    worked = cpu_seconds(os.getpid()) - own
    assert worked > 0
    assert machine_cpu_seconds() - machine >= worked - 0.05  # ticks are counted per core, a little apart


def test_stopping_some_services_keeps_the_balancer_while_others_run_behind_it(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    ss = ServiceSet(state_dir=tmp_path, ports={"intake": 1, "dispatch": 2, "followup": 3}, replicas=2)
    _write_pids(
        ss,
        {
            "intake.1": sleepers[0].pid,
            "intake.2": sleepers[1].pid,
            "dispatch.1": sleepers[2].pid,
            BALANCER: sleepers[4].pid,
        },
    )
    ss.down(("intake",))
    assert ss.pid("intake.1") is None and ss.pid("intake.2") is None
    assert ss.pid(BALANCER) == sleepers[4].pid  # dispatch.1 still runs behind it
    ss.down(("dispatch",))
    assert ss.pid(BALANCER) is None
