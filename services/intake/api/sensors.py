"""Sensor gateways: batches of room-temperature readings (header ``X-Api-Key``)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request

from services.intake import sensors, texts
from services.intake.api.common import Session, inline_schema, parse_body
from services.intake.deps import intake_context
from services.intake.models import IdempotentReply
from services.intake.schemas import (
    ReadingsIn,
    ReadingsOut,
)
from shared.db import retry_races
from shared.errors import ApiError, responses
from shared.idempotency import IdempotencyKey, once

router = APIRouter()


def _gateway(request: Request) -> str:
    given = request.headers.get("x-api-key", "").encode()
    for gateway_id, key in (intake_context(request).settings.sensor_gateway_keys or {}).items():
        if given and hmac.compare_digest(given, key.get_secret_value().encode()):
            return str(gateway_id)
    raise ApiError(401, "unauthenticated", texts.SENSOR_UNAUTHORIZED, "X-Api-Key")


_READINGS_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(ReadingsIn)}}}
}


@router.post(
    "/v1/sensor-readings",
    response_model=ReadingsOut,
    tags=["sensors"],
    openapi_extra=_READINGS_BODY,
    responses=responses(401, 422),
)
async def sensor_readings(request: Request, session: Session, key: IdempotencyKey = None) -> Any:
    """A batch of room-temperature readings from a sensor gateway (header ``X-Api-Key``). With an
    ``Idempotency-Key``, a batch resent after a lost answer (a timeout, a 502 from a replica that died) is stored
    once: the resend gets the first answer."""
    ctx = intake_context(request)
    gateway = _gateway(request)
    # Parsed straight from the bytes by pydantic (thousands of readings): same 422 shape as every other body.
    body = parse_body(ReadingsIn, await request.body())
    at = ctx.clock.now()

    async def ingest() -> ReadingsOut:
        stored, raised = await retry_races(
            session,
            lambda: sensors.ingest(
                session,
                ctx.intake,
                readings=body.readings,
                settings=ctx.settings,
                at=at,
            ),
        )
        return ReadingsOut(stored=stored, reports=raised)

    return await once(session, IdempotentReply, request, key=key, owner=f"gateway:{gateway}", action=ingest)
