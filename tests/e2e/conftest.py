"""The three services as real processes (as the README runs them) on the real stack, fresh databases and topics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from deploy.client import HeatingClient
from deploy.local.services import RECEIVER, REPO, SERVICES, ServiceSet
from deploy.seed import registry
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import RUN_ID, check_stack, drop_database, free_ports, fresh_database, new_prefix, run_db


@dataclass
class Running:
    services: ServiceSet
    client: HeatingClient
    topics: Topics


@contextmanager
def services_running(label: str, extra_env: dict[str, str] | None = None, *, replicas: int = 1) -> Iterator[Running]:
    """The three services as processes on fresh databases (``<service>_<label>``) and a fresh topic prefix,
    with the registry seeded. Tests that write a lot (the simulator, the fuzzer) take their own. ``extra_env``:
    settings of the services for this run; ``replicas``: processes of each service, behind a local haproxy."""
    asyncio.run(check_stack())
    databases = {name: run_db(f"{name}_{label}") for name in SERVICES}
    for db in databases.values():
        asyncio.run(fresh_database(db))
    prefix = new_prefix(label)
    services = ServiceSet(
        state_dir=REPO / ".local" / "e2e-services" / RUN_ID / label,
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        databases=databases,
        topic_prefix=prefix,
        extra_env=extra_env or {},
        replicas=replicas,
    )
    services.down()
    try:
        services.up()
        doc = registry.read()
        registry.load(
            doc,
            intake_url=services.url("intake"),
            dispatch_url=services.url("dispatch"),
            admin_token=DEV_ADMIN_TOKEN,
            receiver=services.url(RECEIVER),
        )
        client = HeatingClient(
            intake=services.url("intake"),
            dispatch=services.url("dispatch"),
            followup=services.url("followup"),
            tokens=registry.tokens(doc, DEV_AUTH_PRIVATE_KEY),
        )
        yield Running(services, client, Topics(prefix))
        client.close()
    finally:
        services.down()
        for db in databases.values():
            asyncio.run(drop_database(db))


@pytest.fixture(scope="session")
def running() -> Iterator[Running]:
    with services_running("e2e") as r:
        yield r
