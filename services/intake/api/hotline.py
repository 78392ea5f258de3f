"""The 12345 hotline: its signed work orders and their status (``router``), and for admin the queue of callbacks
to the platform (``callbacks``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, hotline, orders, service, texts
from services.intake.api.common import CountQuery, IdQuery, OrderQuery, Session, inline_schema
from services.intake.deps import intake_context
from services.intake.schemas import (
    CallbackOut,
    HotlineHurryIn,
    HotlineOperationIn,
    HotlineOperationOut,
    HotlineOrderIn,
    HotlineOrderOut,
    HotlineSupplementIn,
    HotlineWithdrawIn,
    RedriveOut,
    ReportEventOut,
)
from services.intake.states import CallbackState, TimelineEntry
from shared.errors import responses
from shared.http.security import AdminOnly

router = APIRouter()
callbacks = APIRouter()


async def _order_out(session: AsyncSession, report: Any) -> HotlineOrderOut:
    events = await service.timeline(session, report_id=report.id)
    return HotlineOrderOut(
        order_no=report.order_no,
        report_id=report.id,
        status=report.status,
        status_text=texts.HOTLINE_STATUS_TEXT.get(report.status, domain.STATUS_NOTES.get(report.status, "")),
        case_id=report.case_id,
        category=report.category,
        priority=report.priority,
        grouped=any(e.status == TimelineEntry.GROUPED for e in events),
        timeline=[ReportEventOut.model_validate(e) for e in events],
    )


_ORDER_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(HotlineOrderIn)}}},
    "parameters": [
        {"name": hotline.HEADER_INTEGRATION, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": hotline.HEADER_TIMESTAMP, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": hotline.HEADER_SIGNATURE, "in": "header", "required": True, "schema": {"type": "string"}},
    ],
}


@router.post(
    "/hotline/v1/orders",
    response_model=HotlineOrderOut,
    status_code=status.HTTP_201_CREATED,
    tags=["12345"],
    openapi_extra=_ORDER_BODY,
    responses={200: {"description": "The order number was seen before: its report"}, **responses(401, 409, 422, 429)},
)
async def hotline_order(request: Request, response: Response, session: Session) -> HotlineOrderOut:
    """A 12345 work order, signed: HMAC-SHA256 over ``timestamp + "." + body`` (see the hotline module)."""
    ctx = intake_context(request)
    body = await request.body()
    integration_id = await hotline.authenticate(
        request,
        session,
        settings=ctx.settings,
        clock=ctx.clock,
        limits=ctx.rate_limits,
        signed=body,
    )
    order = hotline.parse_body(HotlineOrderIn, body)
    report, created = await hotline.receive_order(
        session,
        ctx.intake,
        integration_id=integration_id,
        order=order,
        at=ctx.clock.now(),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return await _order_out(session, report)


@router.get(
    "/hotline/v1/orders/{order_no}",
    response_model=HotlineOrderOut,
    tags=["12345"],
    openapi_extra={"parameters": _ORDER_BODY["parameters"]},
    responses=responses(401, 404, 422, 429),
)
async def hotline_order_status(order_no: str, request: Request, session: Session) -> HotlineOrderOut:
    """An order's status and timeline, signed like a POST with the request path in place of the body. A read: the
    same signed request may be sent again (a poll loop), so it is never refused as a replay."""
    ctx = intake_context(request)
    # The path as sent (percent-encoded), not as decoded: a client signs the bytes it sends, like a POST's body.
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    signed = path + (b"?" + query if query else b"")
    integration_id = await hotline.authenticate(
        request,
        session,
        settings=ctx.settings,
        clock=ctx.clock,
        limits=ctx.rate_limits,
        signed=signed,
        remember=False,
    )
    report = await hotline.find_order(session, integration_id=integration_id, order_no=order_no)
    return await _order_out(session, report)


# -- operations on an order: 撤单, 补充诉求, 催单 ------------------------------------------------------------------

_OPERATIONS: dict[orders.OperationKind, tuple[type[HotlineOperationIn], str]] = {
    orders.OperationKind.WITHDRAW: (
        HotlineWithdrawIn,
        "撤单: the order is withdrawn (the caller's problem solved, or misfiled). Its report hears nothing more; once "
        "every report of the case is withdrawn, dispatch withdraws the case: the units' open assignments are "
        "cancelled, the clocks stop, and the case counts against nobody. The withdrawal is called back.",
    ),
    orders.OperationKind.SUPPLEMENT: (
        HotlineSupplementIn,
        "补充诉求: the caller's new facts join the order's timeline and reach the units holding the case (its "
        "timeline, the console, the field app); ``priority`` raises the case's priority (never lowers it).",
    ),
    orders.OperationKind.HURRY: (
        HotlineHurryIn,
        "催单: a repeat complaint (重复诉求). The units holding an open clock of the case are sent a 催办 at once; "
        "from the rules' ``hurry_limit`` (default 3) hurries the case is under district supervision (督办).",
    ),
}


def _operation_route(kind: orders.OperationKind, model: type[HotlineOperationIn], doc: str) -> None:
    async def operate(order_no: str, request: Request, response: Response, session: Session) -> HotlineOperationOut:
        ctx = intake_context(request)
        body = await request.body()
        integration_id = await hotline.authenticate(
            request, session, settings=ctx.settings, clock=ctx.clock, limits=ctx.rate_limits, signed=body
        )
        operation = hotline.parse_body(model, body)
        done = await orders.operate(
            session,
            ctx.intake.writer,
            integration_id=integration_id,
            order_no=order_no,
            body=operation,
            at=ctx.clock.now(),
            calls_back=ctx.settings.calls_back,
        )
        if not done.created:
            response.status_code = status.HTTP_200_OK
        return HotlineOperationOut(
            operation_id=operation.operation_id,
            kind=done.kind.value,
            accepted_at=done.at,
            order=await _order_out(session, done.report),
        )

    operate.__doc__ = doc + " Signed like an order; idempotent by ``operation_id``."
    router.post(
        f"/hotline/v1/orders/{{order_no}}/{kind.value}",
        response_model=HotlineOperationOut,
        status_code=status.HTTP_201_CREATED,
        tags=["12345"],
        name=f"hotline_{kind.value}",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(model)}}},
            "parameters": _ORDER_BODY["parameters"],
        },
        responses={
            200: {"description": "The operation id was seen before: the order as it stands"},
            **responses(401, 404, 409, 422, 429),
        },
    )(operate)


for _kind, (_model, _doc) in _OPERATIONS.items():
    _operation_route(_kind, _model, _doc)


# -- the callback queue (admin) ---------------------------------------------------------------------------------


# The ``state`` filter's pattern, ``^(pending|delivered|dead)$``: a plain string in the OpenAPI document, not an enum.
_CALLBACK_STATES = f"^({'|'.join(CallbackState)})$"


@callbacks.get(
    "/admin/hotline/callbacks",
    response_model=list[CallbackOut],
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def list_callbacks(
    session: Session,
    state: Annotated[str | None, Query(pattern=_CALLBACK_STATES)] = None,
    integration_id: IdQuery = None,
    order_no: OrderQuery = None,
    limit: CountQuery = 100,
) -> list[CallbackOut]:
    """The 12345 callback queue: pending, delivered and dead (parked after bounded retries)."""
    rows = await hotline.list_callbacks(
        session, state=state, integration_id=integration_id, order_no=order_no, limit=limit
    )
    return [CallbackOut.model_validate(r) for r in rows]


@callbacks.post(
    "/admin/hotline/callbacks/{callback_id}/redrive",
    response_model=CallbackOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 404, 409, 422),
)
async def redrive_callback(callback_id: int, request: Request, session: Session) -> CallbackOut:
    """Send a dead callback again (its order's later callbacks follow once it is delivered)."""
    row = await hotline.redrive(session, callback_id=callback_id, at=intake_context(request).clock.now())
    return CallbackOut.model_validate(row)


@callbacks.post(
    "/admin/hotline/callbacks/redrive",
    response_model=RedriveOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def redrive_callbacks(
    request: Request, session: Session, integration_id: IdQuery = None, order_no: OrderQuery = None
) -> RedriveOut:
    """Send every dead callback again (optionally of one integration or order)."""
    count = await hotline.redrive_dead(
        session, integration_id=integration_id, order_no=order_no, at=intake_context(request).clock.now()
    )
    return RedriveOut(redriven=count)
