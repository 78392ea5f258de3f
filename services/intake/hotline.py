"""12345 hotline integration: signed work orders in, signed status callbacks out.

Signature (both directions): headers ``X-Heat-Integration`` (the integration id), ``X-Heat-Timestamp`` (whole Unix
seconds) and ``X-Heat-Signature`` = lowercase hex HMAC-SHA256 with the integration's secret over
``timestamp + "." + body`` — the raw request body for a POST, the request path as sent (percent-encoded, with its
query string, if any) for a GET. A timestamp more than 5 minutes off is refused. Replay protection is for requests
that change state: a POST whose signature was already used is refused as a replay (409 ``replayed_request``), so a
resend is signed anew (a new timestamp, or a new ``request_id`` in the body when resent within the same second) —
and an order or operation resent is still idempotent by its order number or operation id. A signed GET reads only:
it must be signed and fresh, but the same signature may poll again (a status poll loop sends several a second).

Callbacks: every change of a case is a row of ``hotline_callbacks`` per order, numbered ``seq`` 1, 2, …; the
delivery job sends the lowest undelivered row of each order only, so #2 never leaves before #1 was acknowledged
(2xx). A failed try waits base·2^(n-1) seconds (capped); after ``callback_max_attempts`` the row is parked as
``dead`` (and holds its order back) until an operator re-drives it through the admin API. Delivery is at least
once: ``X-Heat-Delivery: <order_no>:<seq>`` lets the platform drop a repeat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake import domain, metrics, registry, service, texts
from services.intake.complaint import Complaint
from services.intake.config import HOTLINE, IntakeSettings
from services.intake.models import HotlineCallback, HotlineReplay, Report
from services.intake.schemas import HotlineOrderIn
from services.intake.states import CallbackState
from shared import delivery, signing
from shared.clock import TimeSource
from shared.contracts.common import Channel
from shared.db import after_commit
from shared.delivery import Claimed, Deliveries, Hooks, Outcome, Policy, Sent, post_signed
from shared.errors import ApiError, NotFound
from shared.limits import RateLimiter
from shared.signing import HEADER_DELIVERY as HEADER_DELIVERY
from shared.signing import HEADER_INTEGRATION as HEADER_INTEGRATION
from shared.signing import HEADER_SIGNATURE as HEADER_SIGNATURE
from shared.signing import HEADER_TIMESTAMP as HEADER_TIMESTAMP
from shared.signing import signed_headers as signed_headers
from shared.states import Move, Refusal, Transitions, among

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

REPLAY_MARGIN = timedelta(seconds=60)

# The one move of a callback row that is refused: an operator's redrive sends a parked (dead) row again. The delivery
# job's moves (pending → delivered, pending → dead) refuse nothing: its claim selects pending rows only.
CALLBACK: Transitions[CallbackState] = Transitions(
    "hotline_callback",
    CallbackState,
    {
        "redrive": Move(
            among(CallbackState.DEAD),
            CallbackState.PENDING,
            Refusal("callback_not_dead", texts.CALLBACK_NOT_DEAD),
        ),
    },
)


def _refuse(status: int, reason: str, message: str, field: str) -> ApiError:
    metrics.HOTLINE_REFUSED.labels(reason).inc()
    return ApiError(status, reason, message, field)


async def authenticate(
    request: Request,
    session: AsyncSession,
    *,
    settings: IntakeSettings,
    clock: TimeSource,
    limits: RateLimiter,
    signed: bytes,
    remember: bool = True,
) -> str:
    """The integration id of a correctly signed, fresh, first-seen request within the integration's rate limit;
    raises 401/409/429 otherwise. ``remember=False`` (a GET, which changes nothing): not checked for replay.

    The rate is checked once the signature holds (nobody spends an integration's tokens without its secret) and
    before the signature is remembered, so a request refused with 429 may be sent again as it is. The signature is
    remembered in the caller's transaction: a concurrent replay waits for it and is refused."""
    integration_id = request.headers.get(HEADER_INTEGRATION, "")
    integration = settings.integrations.get(integration_id)
    if integration is None:
        raise _refuse(401, "unknown_integration", texts.HOTLINE_UNKNOWN_INTEGRATION, HEADER_INTEGRATION)
    timestamp = request.headers.get(HEADER_TIMESTAMP, "")
    signature = request.headers.get(HEADER_SIGNATURE, "")
    if not timestamp or not signature:
        raise _refuse(401, "missing_signature", texts.HOTLINE_MISSING_SIGNATURE, HEADER_SIGNATURE)
    now = clock.now()
    if not signing.timestamp_fresh(timestamp, now=now.timestamp(), max_skew_seconds=settings.hotline_max_skew_seconds):
        raise _refuse(401, "stale_timestamp", texts.HOTLINE_STALE, HEADER_TIMESTAMP)
    if not signing.signature_valid(integration.secret.get_secret_value(), timestamp, signed, signature):
        raise _refuse(401, "bad_signature", texts.HOTLINE_BAD_SIGNATURE, HEADER_SIGNATURE)
    await limits.check(HOTLINE, integration_id)
    if not remember:
        return integration_id
    expires = datetime.fromtimestamp(int(timestamp), now.tzinfo) + timedelta(seconds=settings.hotline_max_skew_seconds)
    first = await session.scalar(
        insert(HotlineReplay)
        .values(signature=signature.strip().lower(), integration_id=integration_id, expires_at=expires + REPLAY_MARGIN)
        .on_conflict_do_nothing(index_elements=[HotlineReplay.signature])
        .returning(HotlineReplay.signature)
    )
    if first is None:
        raise _refuse(409, "replayed_request", texts.HOTLINE_REPLAYED, HEADER_SIGNATURE)
    return integration_id


def parse_body(model: type[M], body: bytes) -> M:
    """A signed body, parsed once its signature held (FastAPI could not parse it before: the signature is over the
    raw bytes)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        # The signature had to be checked on the raw bytes, so FastAPI did not parse the body: same 422 shape.
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


async def receive_order(
    session: AsyncSession, intake: service.Intake, *, integration_id: str, order: HotlineOrderIn, at: datetime
) -> tuple[Report, bool]:
    """A 12345 work order becomes a report once: its order number maps to one report forever."""
    external_id = f"12345:{integration_id}:{order.order_no}"
    existing = await session.scalar(select(Report).where(Report.external_id == external_id))
    if existing is not None:
        after_commit(session, metrics.DUPLICATES.labels(Channel.HOTLINE_12345.value).inc)
        return existing, False
    building, household = await registry.place(session, order.household_id, order.building_id)
    return await service.accept(
        session,
        intake,
        Complaint(
            channel=Channel.HOTLINE_12345,
            external_id=external_id,
            building=building,
            household=household,
            category=order.category or domain.classify(order.content),
            # The caller's name and number are never stored: gone from the operator's text too.
            description=domain.redact(
                order.content,
                names=[order.caller_name] if order.caller_name else [],
                numbers=[order.caller_phone] if order.caller_phone else [],
            ),
            photo_refs=tuple(order.photo_refs),
            reporter_kind="hotline",
            reporter_id=integration_id,
            at=at,
            integration_id=integration_id,
            order_no=order.order_no,
        ),
    )


async def find_order(session: AsyncSession, *, integration_id: str, order_no: str) -> Report:
    report = await session.scalar(select(Report).where(Report.external_id == f"12345:{integration_id}:{order_no}"))
    if report is None:
        raise NotFound("order", texts.ORDER_NOT_FOUND)
    return report


async def prune_replays(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(HotlineReplay).where(HotlineReplay.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


# -- callbacks: admin ----------------------------------------------------------------------------------------------


async def list_callbacks(
    session: AsyncSession, *, state: str | None, integration_id: str | None, order_no: str | None, limit: int
) -> list[HotlineCallback]:
    query = select(HotlineCallback).order_by(HotlineCallback.id).limit(limit)
    if state:
        query = query.where(HotlineCallback.state == state)
    if integration_id:
        query = query.where(HotlineCallback.integration_id == integration_id)
    if order_no:
        query = query.where(HotlineCallback.order_no == order_no)
    return list((await session.scalars(query)).all())


async def redrive(session: AsyncSession, *, callback_id: int, at: datetime) -> HotlineCallback:
    row = await session.get(HotlineCallback, callback_id, with_for_update=True)
    if row is None:
        raise NotFound("callback", texts.CALLBACK_NOT_FOUND)
    row.state = CALLBACK.move("redrive", row.state)
    row.attempts, row.next_attempt_at = 0, at
    return row


async def redrive_dead(session: AsyncSession, *, integration_id: str | None, order_no: str | None, at: datetime) -> int:
    conditions = []
    if integration_id:
        conditions.append(HotlineCallback.integration_id == integration_id)
    if order_no:
        conditions.append(HotlineCallback.order_no == order_no)
    return await delivery.redrive(session, HotlineCallback, *conditions, at=at)


# -- callbacks: delivery ----------------------------------------------------------------------------------------------


def callback_deliveries(
    *,
    settings: IntakeSettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: TimeSource,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Deliveries[HotlineCallback]:
    """The background job that pushes status changes to 12345: the shared delivery machine, one stream per order,
    one row per send, a parked row holding its order back."""

    async def send(client: httpx.AsyncClient, claimed: Claimed[HotlineCallback]) -> Sent:
        (row,) = claimed.rows
        integration = settings.integrations.get(row.integration_id)
        if integration is None or not integration.callback_url:
            return Sent(Outcome.NOT_CONFIGURED, "no callback_url configured for this integration")
        response = await post_signed(
            client,
            str(integration.callback_url),
            row.payload,
            sender=row.integration_id,
            secret=integration.secret.get_secret_value(),
            delivery=f"{row.order_no}:{row.seq}",
        )
        if isinstance(response, Sent):
            return response
        if 200 <= response.status_code < 300:
            return Sent(Outcome.DELIVERED)
        return Sent(Outcome.HTTP_ERROR, f"HTTP {response.status_code}")

    def observe(claimed: Claimed[HotlineCallback], sent: Sent, state: str, done: datetime) -> None:
        for row in claimed.rows:
            metrics.CALLBACK_DELIVERIES.labels(sent.outcome).inc()
            if state == CallbackState.DEAD:
                metrics.CALLBACK_DELIVERIES.labels(CallbackState.DEAD).inc()
            if state == CallbackState.DELIVERED:
                metrics.CALLBACK_LATENCY.observe(max(0.0, (done - row.created_at).total_seconds()))

    return Deliveries(
        name="12345-callbacks",
        service=settings.service_name,
        model=HotlineCallback,
        stream=(HotlineCallback.integration_id, HotlineCallback.order_no),
        order=HotlineCallback.seq,
        sessions=sessions,
        clock=clock,
        policy=Policy(
            timeout_seconds=settings.callback_timeout_seconds,
            max_attempts=settings.callback_max_attempts,
            backoff_base_seconds=settings.callback_backoff_base_seconds,
            backoff_cap_seconds=settings.callback_backoff_cap_seconds,
            poll_seconds=settings.callback_poll_seconds,
            streams_per_round=settings.callback_batch,
        ),
        send=send,
        hooks=Hooks(observe=observe),
        transport=transport,
    )
