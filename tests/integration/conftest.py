"""The three services in this process, on the real Kafka and PostgreSQL, with fresh databases and topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from deploy.seed import registry
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app as dispatch_app
from services.followup.config import FollowupSettings
from services.followup.main import create_app as followup_app
from services.intake.config import IntakeSettings
from services.intake.main import create_app as intake_app
from shared.photos import PhotoStoreSettings
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    S3_ENDPOINT,
    InProcess,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
)


@dataclass
class Loop:
    intake: InProcess
    dispatch: InProcess
    followup: InProcess
    topics: Topics
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="session")
async def loop() -> AsyncIterator[Loop]:
    await check_stack()
    prefix = new_prefix("it")
    # A verdict for a case intake never heard of waits 2 s (not 5 min) for its CaseOpened before dead-lettering.
    # What the services know of accounts' token versions is trusted for 1 s (not 30), so revocation tests run fast.
    common = {
        "kafka_bootstrap": KAFKA,
        "kafka_topic_prefix": prefix,
        "environment": "test",
        "consumer_wait_seconds": 2,
        "auth_revocation_cache_seconds": 1,
        "photos": PhotoStoreSettings(endpoint_url=S3_ENDPOINT),
    }
    doc = registry.read()
    dbs = {name: run_db(f"{name}_it") for name in ("intake", "dispatch", "followup")}
    async with (
        run_in_process(intake_app(IntakeSettings(database_url=await fresh_database(dbs["intake"]), **common))) as i,
        run_in_process(
            dispatch_app(DispatchSettings(database_url=await fresh_database(dbs["dispatch"]), **common))
        ) as d,
        run_in_process(
            # The verdict tests record visits without photos; the photo rule has its own tests
            # (test_photo_evidence turns it on), and the e2e tier runs with it on, as production does.
            followup_app(
                FollowupSettings(
                    database_url=await fresh_database(dbs["followup"]), photo_required_on_visit=False, **common
                )
            )
        ) as f,
    ):
        admin = {"X-Admin-Token": DEV_ADMIN_TOKEN}
        (await i.http.put("/admin/registry", json=registry.intake_registry(doc), headers=admin)).raise_for_status()
        (await d.http.put("/admin/units", json=registry.dispatch_units(doc), headers=admin)).raise_for_status()
        yield Loop(i, d, f, Topics(prefix), registry.tokens(doc, DEV_AUTH_PRIVATE_KEY))
    for db in dbs.values():
        await drop_database(db)
