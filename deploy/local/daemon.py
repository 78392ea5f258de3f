"""A Debian package's daemon run as our own process, its state under ``.local/<name>/``: what Prometheus and
Alertmanager (``deploy/local/prometheus.py``, ``deploy/local/alertmanager.py``) have in common, written once.

Both are the Prometheus project's servers: the same ``--config.file``, ``--web.listen-address`` and storage flags,
the same ``/-/ready``. A ``Daemon`` says what differs (package, binaries, storage flag, extra arguments, port, local
config); a ``DaemonProcess`` subclass names its ``Daemon`` and adds its own HTTP API. Here is how one is installed
(``deploy/local/debian.py``), started detached in a session of its own with a log and a pid file, waited for until
its readiness URL answers 200, stopped (SIGTERM, then SIGKILL) and asked for its status, and the
``install|up|down|status`` command line (``cli``) each module's ``main`` runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

from deploy.local.debian import NotInstalled, binary, ensure_package
from deploy.local.readiness import wait_answer

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Daemon:
    """What one daemon is: its name (lower case: messages, log and pid files, ``deploy.local.<name>``,
    ``.local/<name>``), its title for people, the Debian package and its binaries (the server first, then the tools
    the package must bring), its storage flag and further arguments, and where the local stack runs it."""

    name: str
    title: str
    package: str
    binaries: tuple[str, ...]
    storage_flag: str
    extra_arguments: tuple[str, ...]
    port_env: str
    default_port: int
    local_config: Path
    ready_path: str = "/-/ready"

    @property
    def server(self) -> str:
        return self.binaries[0]

    @property
    def state_dir(self) -> Path:
        return REPO / ".local" / self.name

    def require(self, name: str) -> str:
        path = binary(name)
        if path is None:
            raise NotInstalled(
                f"{name} is not installed: run `python -m deploy.local.{self.name} install` (part of `make stack`), "
                f"which installs Debian's {self.package} package"
            )
        return path

    def ensure_installed(self) -> None:
        """Install the Debian package if any of its binaries is missing. Idempotent."""
        ensure_package(self.package, self.binaries, label=self.name)


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class DaemonProcess:
    """One process of a ``Daemon``: its config file, port, state folder (data, log and pid file)."""

    daemon: ClassVar[Daemon]
    config_file: Path
    port: int
    state_dir: Path

    @classmethod
    def local(cls) -> Self:
        """The local stack's: its local config, on ``$<port_env>`` or the default port, state under ``.local/``."""
        port = int(os.environ.get(cls.daemon.port_env, cls.daemon.default_port))
        return cls(cls.daemon.local_config, port, cls.daemon.state_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.daemon.name}.log"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / f"{self.daemon.name}.pid"

    @property
    def _storage_argument(self) -> str:
        return f"{self.daemon.storage_flag}={self.state_dir / 'data'}"

    def pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        # guard against pid reuse: a process with a command line must be this daemon on our data folder
        if cmdline and self._storage_argument.encode() not in cmdline.split(b"\0"):
            return None
        return pid

    def start(self) -> int:
        if (pid := self.pid()) is not None:
            return pid
        exe = self.daemon.require(self.daemon.server)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.config_file}",
                    self._storage_argument,
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    *self.daemon.extra_arguments,
                ],
                cwd=self.state_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_ready(self, timeout: float = 30) -> None:
        wait_answer(
            self.daemon.name,
            self.url + self.daemon.ready_path,
            timeout,
            running=lambda: self.pid() is not None,
            tail=self.tail,
            interval=0.2,
        )

    def stop(self, timeout: float = 15) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cli(process: type[DaemonProcess], argv: Sequence[str] | None = None) -> None:
    """``python -m deploy.local.<name> install|up|down|status`` (status without a command); status exits 3 when
    the daemon is stopped."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "status"
    daemon = process.daemon
    try:
        if command == "install":
            daemon.ensure_installed()
            print(f"[{daemon.name}] {' and '.join(map(daemon.require, daemon.binaries))} are installed")
        elif command == "up":
            daemon.ensure_installed()
            server = process.local()
            server.start()
            server.wait_ready()
            config = server.config_file.relative_to(REPO)
            print(f"{daemon.title} 已就绪: {server.url} (config {config}, log {server.log_file})")
        elif command == "down":
            process.local().stop()
            print(f"{daemon.title} 已停止")
        elif command == "status":
            server = process.local()
            pid = server.pid()
            state = f"running pid {pid}" if pid else "stopped"
            print(f"{daemon.name} {state}  {server.url}  log {server.log_file}")
            raise SystemExit(0 if pid else 3)
        else:
            raise SystemExit(f"usage: python -m deploy.local.{daemon.name} install|up|down|status (not {command!r})")
    except NotInstalled as exc:
        raise SystemExit(f"[{daemon.name}] ERROR: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"[{daemon.name}] ERROR: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}"
        ) from None
