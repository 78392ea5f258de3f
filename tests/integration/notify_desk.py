"""What the notification tests share: dispatch in this process on the real stack (Kafka, PostgreSQL), the local
receiver playing 企业微信, 钉钉, the SMS provider and units' systems over real HTTP, every unit of the seed with a
duty group and phone, the community's and the street's groups."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sqlalchemy import select

from deploy.notify_receiver import (
    DEV_SMS_KEY_ID,
    DEV_SMS_KEY_SECRET,
    DEV_SMS_SIGN_NAME,
    DEV_SMS_TEMPLATE,
    Ear,
    RunningReceiver,
)
from deploy.seed import registry
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app
from services.dispatch.models import Assignment, CaseReport
from services.dispatch.notify.channels import SmsConfig
from services.dispatch.notify.models import Notification
from services.dispatch.notify.settings import NotifySettings
from shared.contracts.common import Category, Channel, Priority, UnitType
from shared.contracts.dispatch import CaseAssigned
from shared.contracts.intake import ComplaintReported
from shared.events import Envelope, EventPayload
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    SEED_HOUSEHOLD,
    InProcess,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
    wait_until,
)

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
DING_SECRET = "SECit-notify-dingtalk"
DUTY = "13700000001"  # the units' duty phone (fictional)
PLACE = SEED_HOUSEHOLD.model_copy(update={"place_name": "粮库家属院1号楼1单元102"})


@dataclass
class Desk:
    svc: InProcess
    ear: Ear
    url: str
    topics: Topics
    producer: AIOKafkaProducer
    tokens: dict[str, str]

    async def put_target(self, owner_kind: str, owner_id: str, channel: str, config: dict[str, Any]) -> int:
        body = {"owner_kind": owner_kind, "owner_id": owner_id, "channel": channel, "name": "值班", "config": config}
        r = await self.svc.http.put("/admin/notify/targets", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        return int(r.json()["id"])

    def robot(self, key: str) -> dict[str, Any]:
        return {"url": f"{self.url}/wecom/send?key={key}", "mentions": [DUTY]}

    async def publish(self, topic: str, payload: EventPayload, key: str) -> Envelope:
        env = Envelope.wrap(payload, correlation_id=key, producer="test", occurred_at=datetime.now(UTC))
        await self.producer.send_and_wait(topic, env.encode(), key=key.encode())
        return env

    def heard(self, kind: str, target: str) -> list[dict[str, Any]]:
        return [h for h in self.ear.heard if h["kind"] == kind and h["target"] == target]

    async def rows(self, *conditions: Any) -> list[Notification]:
        async with self.svc.runtime.sessions() as s:
            return list((await s.scalars(select(Notification).where(*conditions).order_by(Notification.id))).all())

    async def scalar(self, query: Any) -> Any:
        async with self.svc.runtime.sessions() as s:
            return await s.scalar(query)


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    ear = Ear(dingtalk_default_secret=DING_SECRET)
    async with RunningReceiver(ear) as url:
        db = run_db("notifications")
        sms = SmsConfig(
            endpoint_url=f"{url}/sms/",
            access_key_id=DEV_SMS_KEY_ID,
            access_key_secret=SecretStr(DEV_SMS_KEY_SECRET),
            sign_name=DEV_SMS_SIGN_NAME,
            template_code=DEV_SMS_TEMPLATE,
        )
        settings = DispatchSettings(
            database_url=await fresh_database(db),
            kafka_bootstrap=KAFKA,
            kafka_topic_prefix=new_prefix("notify"),
            environment="test",
            run_timers=False,
            notify=NotifySettings(
                sms=sms, poll_seconds=0.1, backoff_base_seconds=0.3, backoff_cap_seconds=1, max_attempts=3
            ),
        )
        doc = registry.read()
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            async with run_in_process(create_app(settings)) as svc:
                r = await svc.http.put("/admin/units", json=registry.dispatch_units(doc), headers=ADMIN)
                r.raise_for_status()
                d = Desk(svc, ear, url, settings.topics, producer, registry.tokens(doc, DEV_AUTH_PRIVATE_KEY))
                for unit in doc["units"]:
                    await d.put_target("unit", unit["id"], "wecom", d.robot(unit["id"]))
                    await d.put_target("unit", unit["id"], "sms", {"phones": [DUTY]})
                await d.put_target(
                    "area",
                    "CM-PHN",
                    "dingtalk",
                    {"url": f"{url}/dingtalk/robot/send?access_token=CM-PHN", "secret": DING_SECRET},
                )
                await d.put_target("area", "S-JYG", "wecom", d.robot("S-JYG"))
                yield d
        finally:
            await producer.stop()
            await drop_database(db)


async def emergency(d: Desk) -> Assignment:
    """A burst pipe reported by a grid worker: dispatch opens the case and assigns it."""
    report_id = f"R-{uuid.uuid4().hex[:12]}"
    complaint = ComplaintReported(
        report_id=report_id,
        channel=Channel.GRID_REPORT,
        category=Category.BURST_PIPE,
        priority=Priority.EMERGENCY,
        priority_resident=False,
        location=PLACE,
        description="楼道暖气管爆裂",
        reporter_kind="grid_worker",
        reporter_id="GW-01",
        reported_at=datetime.now(UTC),
    )
    await d.publish(d.topics.complaints, complaint, report_id)
    case_id = await wait_until(
        "a case", lambda: d.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report_id))
    )
    found: Assignment = await wait_until(
        "an assignment", lambda: d.scalar(select(Assignment).where(Assignment.case_id == case_id))
    )
    return found


def assigned(case_id: str, unit_id: str, assignment_id: str | None = None) -> CaseAssigned:
    now = datetime.now(UTC)
    return CaseAssigned(
        case_id=case_id,
        assignment_id=assignment_id or f"A-{uuid.uuid4().hex[:12]}",
        round=1,
        unit_id=unit_id,
        unit_type=UnitType.HEATING_COMPANY,
        sign_in_due=now + timedelta(minutes=30),
        on_site_due=now + timedelta(hours=2),
        resolve_due=now + timedelta(hours=24),
    )
