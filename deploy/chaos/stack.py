"""The chaos run's own world: a private Kafka + PostgreSQL + S3Proxy (``deploy/local/stack`` with its own STACK_DIR
and free ports) and the three services on free ports against it, with the faults it can inject into each.

Nothing here touches the shared local stack: every pid it signals is read from the private STACK_DIR (the broker's
pid file, the postmaster's ``postmaster.pid``) or is a service process this run started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.services import REPO, SERVICES, ServiceSet

STACK_SCRIPT = REPO / "deploy" / "local" / "stack"
SHARED_LIBS = REPO / ".local" / "kafka" / "libs"
SHARED_S3_LIBS = REPO / ".local" / "s3proxy" / "libs"
CHAOS_DIR = REPO / ".local" / "chaos"


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free right now (bound together, so they differ)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class StackError(RuntimeError):
    """The private stack could not be started (or restarted): the run cannot go on."""


@dataclass
class PrivateStack:
    """Kafka, PostgreSQL and S3Proxy of this run only, under ``home``/stack, on ports nobody else uses. ``home`` is
    named after the run's process, so two runs in one checkout never touch each other's, and one whose process is gone
    is a leftover the next run stops and removes."""

    home: Path = field(default_factory=lambda: CHAOS_DIR / f"run-{os.getpid()}")
    kafka_port: int = 0
    controller_port: int = 0
    pg_port: int = 0
    s3_port: int = 0  # the stack script starts S3Proxy too; it must not reach for the shared stack's port
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (self.kafka_port and self.controller_port and self.pg_port):
            self.kafka_port, self.controller_port, self.pg_port = free_ports(3)
        if not self.s3_port:
            (self.s3_port,) = free_ports(1)

    @property
    def root(self) -> Path:
        return self.home / "stack"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def env(self) -> dict[str, str]:
        return os.environ | {
            "STACK_DIR": str(self.root),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PG_PORT": str(self.pg_port),
            "S3_PORT": str(self.s3_port),
            "S3_HEAP_OPTS": "-Xms64m -Xmx256m",
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
            "KAFKA_WAIT_TIMEOUT": "120",
        }

    def _stack(self, command: str, timeout: float = 300) -> str:
        try:
            proc = subprocess.run(
                [str(STACK_SCRIPT), command],
                env=self.env(),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"deploy/local/stack {command} still running after {timeout:.0f}s") from exc
        out = (proc.stdout + proc.stderr).strip()
        self.log.append(f"$ stack {command} (exit {proc.returncode})\n{out}")
        if proc.returncode != 0:
            raise StackError(f"deploy/local/stack {command} failed (exit {proc.returncode}):\n{out[-3000:]}")
        return out

    def prepare(self) -> None:
        """A clean STACK_DIR (leftovers of interrupted runs are stopped and removed first) with the Kafka and S3Proxy
        jars of the shared stack hard-linked (copied across file systems), so nothing is downloaded again."""
        for other in CHAOS_DIR.glob("run-*"):
            if other != self.home and not _chaos_alive(other.name.removeprefix("run-")):
                PrivateStack(home=other, kafka_port=1, controller_port=1, pg_port=1).stop_leftover()
                shutil.rmtree(other, ignore_errors=True)
        if self.root.exists():
            self.stop_leftover()
            shutil.rmtree(self.root, ignore_errors=True)
        for shared, component in ((SHARED_LIBS, "kafka"), (SHARED_S3_LIBS, "s3proxy")):
            libs = self.root / component / "libs"
            libs.parent.mkdir(parents=True, exist_ok=True)
            if shared.is_dir() and any(shared.glob(".complete-*")):
                libs.mkdir()
                for src in shared.iterdir():
                    if src.is_file():
                        try:
                            os.link(src, libs / src.name)
                        except OSError:
                            shutil.copy2(src, libs / src.name)

    def stop_leftover(self) -> None:
        """Stop what a previous run left running in this STACK_DIR (its own pid files only)."""
        if self.kafka_pid() is None and self.postmaster_pid() is None and self.s3proxy_pid() is None:
            return
        # The leftover runs on the ports its config names; `stack down` reads them from the pid files.
        subprocess.run([str(STACK_SCRIPT), "down"], env=self.env(), cwd=REPO, capture_output=True, timeout=120)

    def up(self) -> None:
        self._stack("up")

    def down(self) -> None:
        if self.root.exists():
            self._stack("down", timeout=120)

    def remove(self, *, logs: bool) -> None:
        """Delete the stack's files; with ``logs``, the services' logs too (the whole run folder)."""
        shutil.rmtree(self.home if logs else self.root, ignore_errors=True)

    # -- the processes ----------------------------------------------------------------------------------------

    def kafka_pid(self) -> int | None:
        return _live_pid(self.root / "kafka" / "kafka.pid", must_contain=str(self.root / "kafka" / "server.properties"))

    def postmaster_pid(self) -> int | None:
        return _live_pid(self.root / "postgres" / "data" / "postmaster.pid", must_contain=str(self.root))

    def s3proxy_pid(self) -> int | None:
        return _live_pid(
            self.root / "s3proxy" / "s3proxy.pid", must_contain=str(self.root / "s3proxy" / "s3proxy.conf")
        )

    def kill_kafka(self) -> None:
        """kill -9 the broker (no clean shutdown: the log is recovered at the next start)."""
        pid = self.kafka_pid()
        if pid is None:
            raise StackError("the private broker is not running")
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 30)

    def crash_postgres(self) -> None:
        """Immediate shutdown (SIGQUIT to the postmaster): every backend dies at once, crash recovery at the next
        start, exactly like a power cut as far as committed data goes."""
        pid = self.postmaster_pid()
        if pid is None:
            raise StackError("the private PostgreSQL is not running")
        os.kill(pid, signal.SIGQUIT)
        _wait_gone(pid, 30)


def _chaos_alive(pid: str) -> bool:
    """Whether a chaos run with this process id still runs (a reused pid runs something else)."""
    try:
        return b"deploy.chaos" in Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False


def _live_pid(pid_file: Path, *, must_contain: str) -> int | None:
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if must_contain in cmdline else None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def service_set(stack: PrivateStack, *, callback_url: str, hotline: tuple[str, str], replicas: int = 1) -> ServiceSet:
    """The three services on free ports against the private stack (databases intake, dispatch, followup, created by
    the stack script), 12345 status callbacks going to the run's own receiver; ``replicas`` processes of each behind
    a local haproxy."""
    integration, secret = hotline
    return ServiceSet(
        state_dir=stack.home / "services",
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        pg_port=stack.pg_port,
        kafka_bootstrap=stack.bootstrap,
        s3_endpoint=f"http://127.0.0.1:{stack.s3_port}",
        topic_prefix="",
        extra_env={
            "INTAKE_HOTLINE_INTEGRATIONS": json.dumps({integration: {"secret": secret, "callback_url": callback_url}}),
            # A callback that failed while a service was down is retried soon, so the queue drains within the run.
            "INTAKE_CALLBACK_BACKOFF_CAP_SECONDS": "5",
            "INTAKE_CALLBACK_MAX_ATTEMPTS": "1000",
        },
        replicas=replicas,
    )
