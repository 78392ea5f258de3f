"""A local load balancer for services run as several replicas: Debian's haproxy, run as our own process.

``python -m deploy.local.balancer install`` installs Debian's ``haproxy`` package when it is missing (part of
``make stack``; its system service is kept down). ``ServiceSet(replicas=2)`` (deploy.local.services) writes a config
with ``config_for`` and runs ``haproxy -f <config> -db`` in the foreground as one of its processes: each service's
port is a frontend that spreads requests round-robin over the replicas, checks each on ``/readyz`` every second
and takes a replica out after two failed checks (a ``kill -9``'d one within ~2 s), and sends a request whose
connection to a dead replica failed to the other one (``retries`` + ``redispatch``). A request already on its
way when its replica died is answered 502: clients resend what is safe to resend (idempotency keys, 12345 order
numbers), so a retried request is the most a client sees.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from deploy.local.debian import NotInstalled, binary, ensure_package

PACKAGE = "haproxy"


def require() -> str:
    path = binary("haproxy")
    if path is None:
        raise NotInstalled(
            "haproxy is not installed: run `python -m deploy.local.balancer install` (part of `make stack`), which "
            "installs Debian's haproxy package"
        )
    return path


def ensure_installed() -> None:
    ensure_package(PACKAGE, ("haproxy",), label="balancer")


def config_for(frontends: Mapping[str, int], backends: Mapping[str, Sequence[tuple[str, int]]]) -> str:
    """haproxy's config: service → the port it is reached on, and service → its replicas (name, port)."""
    lines = [
        "global",
        "  maxconn 4096",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        # long enough for the console's event stream and a slow request under load
        "  timeout client 300s",
        "  timeout server 300s",
        "  timeout http-keep-alive 60s",
        "  retries 3",
        "  option redispatch",
        "  retry-on conn-failure empty-response",
        "  option forwardfor",
    ]
    for service, port in frontends.items():
        lines += [
            f"frontend {service}",
            f"  bind 127.0.0.1:{port}",
            f"  default_backend {service}",
            f"backend {service}",
            "  balance roundrobin",
            "  option httpchk GET /readyz",
            "  default-server inter 1s fall 2 rise 1",
        ]
        lines += [f"  server {name} 127.0.0.1:{p} check" for name, p in backends[service]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m deploy.local.balancer install")
    try:
        ensure_installed()
    except NotInstalled as exc:
        raise SystemExit(str(exc)) from exc
    print(f"[balancer] {require()} is installed")
