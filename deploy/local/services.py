"""Run the three services as local background processes, with the simulated 12345 platform they call back
(deploy.platform12345): start, stop, status, wait until ready. ``ServiceSet(replicas=2)`` runs two processes of each
service on the same databases and topics, behind a local haproxy (deploy.local.balancer) on the service's port: a
replica is ``intake.1``, ``intake.2``; ``intake`` names the service (its URL is the balancer's).

``python -m deploy.local.services up|down|status`` — pid files and logs under ``.local/services/``.
Tests use the same code with their own state folder, ports, databases and topic prefix.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy import notify_local
from deploy.local import balancer
from deploy.local.readiness import wait_answer

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "dispatch", "followup")
# The 12345 platform the development integration calls back, and the receiver playing the units' group robots, SMS
# provider and own systems (deploy.notify_receiver): started first, so no callback or notification finds them missing.
PLATFORM = "platform12345"
RECEIVER = "notify_receiver"
OUTSIDE = (PLATFORM, RECEIVER)  # the processes that stand in for the world outside: one each, never replicated
PROCESSES = (*OUTSIDE, *SERVICES)
BALANCER = "balancer"  # haproxy in front of the replicas (ServiceSet(replicas=2))
DEFAULT_PORTS = {"intake": 8001, "dispatch": 8002, "followup": 8003, PLATFORM: 8005, RECEIVER: 8006}
DEV_HOTLINE_INTEGRATION = "12345-dev"
DEV_HOTLINE_SECRET = "dev-only-12345-secret-change-me"
LOCAL_RATE_LIMITS = {
    f"INTAKE_RATE_LIMIT_{kind}_{what}": value
    for kind in ("HOTLINE", "GRID_WORKER", "OPEN311")
    for what, value in (("PER_SECOND", "100000"), ("BURST", "100000"))
}


@dataclass
class ServiceSet:
    """The three services as one group of processes sharing a state folder, a database server and a broker."""

    state_dir: Path = REPO / ".local" / "services"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    databases: dict[str, str] = field(default_factory=lambda: {s: s for s in SERVICES})
    pg_port: int = int(os.environ.get("PG_PORT", "55432"))
    kafka_bootstrap: str = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"
    s3_endpoint: str = f"http://127.0.0.1:{os.environ.get('S3_PORT', '19000')}"  # the stack's S3Proxy
    topic_prefix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1  # processes of each service; more than one: behind a local haproxy on the service's port
    instance_ports: dict[str, int] = field(default_factory=dict)  # replica (``intake.2``) → its own port

    def __post_init__(self) -> None:
        for outside in OUTSIDE:  # a caller that chose the services' ports only: the stand-ins get free ones
            if outside not in self.ports:
                self.ports[outside] = _free_port()
        if self.replicas > 1:
            for name in SERVICES:
                for replica in self.instances(name):
                    self.instance_ports.setdefault(replica, _free_port())

    def instances(self, name: str) -> list[str]:
        """The processes of a service: itself, or its replicas ``<name>.1`` … (the stand-ins are one process each)."""
        if self.replicas == 1 or name not in SERVICES:
            return [name]
        return [f"{name}.{i}" for i in range(1, self.replicas + 1)]

    @property
    def processes(self) -> tuple[str, ...]:
        """Every process, in the order they start: the stand-ins, the balancer (with replicas), the services'."""
        balancer = (BALANCER,) if self.replicas > 1 else ()
        return (*OUTSIDE, *balancer, *(i for name in SERVICES for i in self.instances(name)))

    def url(self, name: str) -> str:
        """A service's URL (the balancer's, with replicas), the platform's, or one replica's own."""
        return f"http://127.0.0.1:{self.instance_ports.get(name) or self.ports[name]}"

    def env(self, process: str) -> dict[str, str]:
        if process == PLATFORM:
            return dict(os.environ) | {"PLATFORM12345_PORT": str(self.ports[PLATFORM]), "PYTHONPATH": str(REPO)}
        if process == RECEIVER:
            return dict(os.environ) | {"NOTIFY_RECEIVER_PORT": str(self.ports[RECEIVER]), "PYTHONPATH": str(REPO)}
        name = process.split(".")[0]  # a replica runs its service's settings on a port of its own
        prefix = name.upper() + "_"
        env = dict(os.environ)
        env.update(
            {
                prefix
                + "DATABASE_URL": f"postgresql+asyncpg://heat:heat@127.0.0.1:{self.pg_port}/{self.databases[name]}",
                prefix + "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                prefix + "KAFKA_TOPIC_PREFIX": self.topic_prefix,
                prefix + "HTTP_PORT": str(self.instance_ports.get(process, self.ports[name])),
                # photo evidence in the stack's S3 (dev credentials; shared.photos.PhotoStoreSettings)
                prefix + "PHOTOS": json.dumps({"endpoint_url": self.s3_endpoint}),
                "PYTHONPATH": str(REPO),
            }
        )
        # The dispatch console (served by dispatch) reads follow-up's reports from the browser: follow-up admits
        # the console's origin, and the console is told where follow-up is.
        console = [f"http://127.0.0.1:{self.ports['dispatch']}", f"http://localhost:{self.ports['dispatch']}"]
        env["FOLLOWUP_CORS_ORIGINS"] = json.dumps(console)
        env["DISPATCH_CONSOLE_FOLLOWUP_URL"] = self.url("followup")
        # The field app (dispatch's /field/) also calls intake from the phone: 一键上报, 访民问暖, the grid's places.
        env["INTAKE_CORS_ORIGINS"] = json.dumps(console)
        env["DISPATCH_CONSOLE_INTAKE_URL"] = self.url("intake")
        # The simulator and the benchmarks compress a season into minutes through one 12345 integration and a
        # handful of grid workers (the default simulation peaks at ~25 orders a second, --scale 20 at ~400): the
        # local services take them without the per-caller rate limits a real city's callers get. Set in the
        # environment, or in extra_env, a limit wins.
        for name in LOCAL_RATE_LIMITS:
            env.setdefault(name, LOCAL_RATE_LIMITS[name])
        # The development integration calls back the simulated platform (unless the environment names another).
        secret = os.environ.get("HOTLINE_SECRET", DEV_HOTLINE_SECRET)
        integration = {"secret": secret, "callback_url": self.url(PLATFORM) + "/callbacks"}
        env.setdefault(
            "INTAKE_HOTLINE_INTEGRATIONS",
            json.dumps({os.environ.get("HOTLINE_INTEGRATION", DEV_HOTLINE_INTEGRATION): integration}),
        )
        # Notifications: the SMS provider is the local receiver, with its development account.
        env.setdefault("DISPATCH_NOTIFY__SMS", json.dumps(notify_local.sms_account(self.url(RECEIVER))))
        env.update(self.extra_env)
        return env

    def _pid_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        try:
            pid = int(self._pid_file(name).read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def _command(self, process: str) -> list[str]:
        if process == BALANCER:
            config = self.state_dir / "haproxy.cfg"
            config.write_text(
                balancer.config_for(
                    {name: self.ports[name] for name in SERVICES},
                    {name: [(i, self.instance_ports[i]) for i in self.instances(name)] for name in SERVICES},
                )
            )
            return [balancer.require(), "-f", str(config), "-db"]
        module = {PLATFORM: "deploy.platform12345", RECEIVER: "deploy.notify_receiver"}.get(
            process, f"services.{process.split('.')[0]}"
        )
        return [sys.executable, "-m", module, "serve"]

    def start(self, name: str) -> int:
        """Start a process (or every replica of a service), unless it runs; returns the (last) pid."""
        if len(self.instances(name)) > 1:
            return [self.start(i) for i in self.instances(name)][-1]
        if (pid := self.pid(name)) is not None:
            return pid
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(name).open("ab") as log:
            proc = subprocess.Popen(
                self._command(name),
                cwd=REPO,
                env=self.env(name) if name != BALANCER else dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file(name).write_text(str(proc.pid))
        return proc.pid

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill without ceremony (used by fault tests): no graceful shutdown. A service's name kills every replica;
        ``intake.2`` one of them."""
        if len(self.instances(name)) > 1:
            for replica in self.instances(name):
                self.kill(replica, sig)
            return
        if (pid := self.pid(name)) is not None:
            os.kill(pid, sig)
            _wait_gone(pid, 10)
        self._pid_file(name).unlink(missing_ok=True)

    def stop(self, name: str, timeout: float = 20) -> None:
        if len(self.instances(name)) > 1:
            for replica in self.instances(name):
                self.stop(replica, timeout)
            return
        pid = self.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        self._pid_file(name).unlink(missing_ok=True)

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        """Until the process answers ``/readyz`` (a service with replicas: each of them, then through the balancer;
        the balancer: each service through it)."""
        if name == BALANCER:
            for service in SERVICES:
                if any(self.pid(i) is not None for i in self.instances(service)):  # those started: all, or some
                    self._wait_answer(BALANCER, self.url(service), timeout)
            return
        if len(self.instances(name)) > 1:
            for replica in self.instances(name):
                self.wait_ready(replica, timeout)
            if self.pid(BALANCER) is not None:
                self._wait_answer(BALANCER, self.url(name), timeout)
            return
        self._wait_answer(name, self.url(name), timeout)

    def _wait_answer(self, name: str, url: str, timeout: float) -> None:
        wait_answer(
            name,
            url + "/readyz",
            timeout,
            running=lambda: self.pid(name) is not None,
            tail=lambda: self.tail(name),
            interval=0.3,
        )

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file(name).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def up(self, names: tuple[str, ...] | None = None) -> None:
        names = self.processes if names is None else self._fronted(names)
        for name in names:
            self.start(name)
        for name in names:
            self.wait_ready(name)

    def down(self, names: tuple[str, ...] | None = None) -> None:
        for name in reversed(self.processes if names is None else names):
            self.stop(name)
        if names is not None and self.replicas > 1 and not self._any_service_running():
            self.stop(BALANCER)  # started in front of them by ``up``; kept while any service behind it runs

    def _any_service_running(self) -> bool:
        return any(self.pid(i) is not None for name in SERVICES for i in self.instances(name))

    def _fronted(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Some of the services, with the balancer in front when they have replicas: their URL is the balancer's."""
        if self.replicas == 1 or BALANCER in names or not any(n in SERVICES for n in names):
            return names
        return (BALANCER, *names)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap our own child so it does not linger as a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    services = ServiceSet()
    if command == "up":
        started = time.monotonic()
        services.up()
        print(
            f"服务已就绪 ({time.monotonic() - started:.1f}s): " + ", ".join(f"{n} {services.url(n)}" for n in PROCESSES)
        )
    elif command == "down":
        services.down()
        print("服务已停止")
    elif command == "status":
        missing = 0
        for n in PROCESSES:
            pid = services.pid(n)
            missing += pid is None
            state = f"running pid {pid}" if pid else "stopped"
            print(f"{n:9} {state}  {services.url(n)}  log {services.log_file(n)}")
        raise SystemExit(3 if missing else 0)
    else:
        raise SystemExit(f"usage: python -m deploy.local.services up|down|status (not {command!r})")


if __name__ == "__main__":
    main()
