"""What an operator searches the logs by, on the running services: a consumed event's lines carry its event id,
correlation id, type and case; a request's answer carries the id its lines are logged under."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import logging as json_logging
from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed
from shared.events import Envelope
from tests.harness import KAFKA, wait_until
from tests.integration.conftest import Loop


@pytest.fixture
def consumer_lines() -> Iterator[io.StringIO]:
    """The JSON lines shared.consumer writes, formatted as the services write them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_logging.JsonFormatter("test"))
    logger = logging.getLogger("shared.consumer")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_a_consumed_events_log_lines_carry_its_ids(loop: Loop, consumer_lines: io.StringIO) -> None:
    case_id = f"C-IT-LOG-{uuid.uuid4().hex[:10]}"  # dispatch has no such case: it dead-letters the verdict
    now = datetime.now(UTC)
    verdict = CaseClosed(case_id=case_id, round=1, min_temp_c=20.0, satisfaction=Satisfaction.SATISFIED, closed_at=now)
    envelope = Envelope.wrap(verdict, correlation_id=case_id, producer="followup", occurred_at=now)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(loop.topics.followup, envelope.encode(), key=case_id.encode())
    finally:
        await producer.stop()

    def dead_lettered() -> dict[str, Any] | None:
        return next(
            (
                line
                for line in lines(consumer_lines)
                if line["msg"] == "dead-lettered message" and line.get("case_id") == case_id
            ),
            None,
        )

    line = await wait_until("dispatch's dead-letter line about the verdict", dead_lettered)
    assert line["event_id"] == str(envelope.event_id)
    assert line["correlation_id"] == case_id and line["event_type"] == "CaseClosed"


async def test_a_requests_id_comes_back_with_its_answer(loop: Loop) -> None:
    given = await loop.intake.http.get("/healthz", headers={"X-Request-ID": "gw01-20261204-0042"})
    assert given.headers["x-request-id"] == "gw01-20261204-0042"
    made = await loop.dispatch.http.get("/v1/assignments")  # refused (401): refusals carry one too
    assert made.status_code == 401 and len(made.headers["x-request-id"]) == 32
