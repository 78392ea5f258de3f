"""Debian packages the local stack runs as processes of its own (Prometheus, haproxy): installed with apt-get when a
binary is missing, with the package's own system service kept from starting (and disabled under systemd) — nothing
here depends on a system service; each tool runs as our own process with its state under ``.local/``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class NotInstalled(RuntimeError):
    pass


def binary(name: str) -> str | None:
    """Path of an executable: on PATH, else where Debian puts it (``/usr/bin``, ``/usr/sbin``)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/bin", "/usr/sbin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _privileged(package: str) -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    raise NotInstalled(
        f"installing Debian's {package} package needs root: run `sudo apt-get install -y --no-install-recommends "
        f"{package}` once, or run this as root"
    )


@contextlib.contextmanager
def _services_kept_down(sudo: list[str], package: str) -> Iterator[None]:
    """A policy-rc.d that refuses every start while apt runs, unless the machine already has one (Docker images
    do): the package's init script / unit must not start a second copy on its default port."""
    if POLICY_RC_D.exists():
        yield
        return
    script = f"#!/bin/sh\n# deploy/local: no service starts while {package} installs\nexit 101\n"
    subprocess.run([*sudo, "tee", str(POLICY_RC_D)], input=script.encode(), stdout=subprocess.DEVNULL, check=True)
    subprocess.run([*sudo, "chmod", "755", str(POLICY_RC_D)], check=True)
    try:
        yield
    finally:
        subprocess.run([*sudo, "rm", "-f", str(POLICY_RC_D)], check=False)


def ensure_package(package: str, binaries: tuple[str, ...], *, label: str) -> None:
    """Install Debian's ``package`` if any of ``binaries`` is missing. Idempotent."""
    if all(binary(b) for b in binaries):
        return
    if not shutil.which("apt-get"):
        raise NotInstalled(f"{', '.join(binaries)} missing and there is no apt-get to install {package}")
    sudo = _privileged(package)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"[{label}] installing Debian's {package} package", flush=True)
    with _services_kept_down(sudo, package):
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env
        )
    if Path("/run/systemd/system").is_dir():  # systemd is PID 1: leave its unit disabled and stopped
        subprocess.run([*sudo, "systemctl", "disable", "--now", f"{package}.service"], check=False)
    missing = [b for b in binaries if not binary(b)]
    if missing:
        raise NotInstalled(f"{package} installed but {', '.join(missing)} still not found")
