"""The notifier's HTTP API: who hears what (targets: set by the admin for anyone, by a unit for itself), what was
owed and where it stands (notifications, re-driven by the admin), and Alertmanager's webhook for ops alerts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.config import DispatchSettings
from services.dispatch.deps import Now, Session, Settings
from services.dispatch.notify import queue, texts
from services.dispatch.notify.channels.base import ChannelKind
from services.dispatch.notify.channels.registry import validate_target
from services.dispatch.notify.channels.targets import TargetRefused, shown
from services.dispatch.notify.kinds import NotifyKind, OwnerKind
from services.dispatch.notify.models import Notification, NotifyTarget
from services.dispatch.notify.routing import Notice, local
from shared import delivery
from shared.auth import Role, require
from shared.delivery import DeliveryState
from shared.errors import ApiError, Conflict, Invalid, NotFound, responses
from shared.http.security import AdminOnly, CurrentPrincipal

router = APIRouter()

OwnerId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelKind
    name: str = Field(min_length=1, max_length=64, description="A label for people, e.g. 值班群, 调度中心系统.")
    config: dict[str, Any] = Field(
        description="What the channel needs: wecom {url, mentions?}; dingtalk {url, secret?, mentions?}; "
        "sms {phones}; webhook {url, secret}. Phones are the unit's or office's duty numbers, never residents'."
    )
    kinds: list[NotifyKind] | None = Field(default=None, description="The kinds it takes; absent: all.")
    enabled: bool = True


class OwnedTargetIn(TargetIn):
    owner_kind: OwnerKind
    owner_id: str = OwnerId


class TargetOut(BaseModel):
    id: int
    owner_kind: str
    owner_id: str
    channel: str
    name: str
    config: dict[str, Any] = Field(description="Secrets and robot keys masked.")
    kinds: list[str] | None
    enabled: bool


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    target_id: int
    channel: str
    kind: str
    case_id: str | None
    urgent: bool
    title: str
    lines: list[str]
    state: str
    attempts: int
    last_error: str | None
    event_at: datetime
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


def _out(t: NotifyTarget) -> TargetOut:
    return TargetOut(
        id=t.id,
        owner_kind=t.owner_kind,
        owner_id=t.owner_id,
        channel=t.channel,
        name=t.name,
        config=shown(t.config),
        kinds=t.kinds,
        enabled=t.enabled,
    )


async def _put(
    session: AsyncSession, body: TargetIn, *, owner_kind: str, owner_id: str, settings: DispatchSettings, now: datetime
) -> TargetOut:
    try:
        config = validate_target(body.channel, body.config, allow_insecure_local=settings.notify.allow_insecure_local)
    except TargetRefused as exc:
        raise Invalid("invalid_target", f"{texts.TARGET_INVALID}（{exc.reason}）", f"config.{exc.field}") from exc
    values = {
        "owner_kind": owner_kind,
        "owner_id": owner_id,
        "channel": body.channel.value,
        "name": body.name,
        "config": config,
        "kinds": [k.value for k in body.kinds] if body.kinds is not None else None,
        "enabled": body.enabled,
        "updated_at": now,
    }
    target = await session.scalar(
        insert(NotifyTarget)
        .values(values)
        .on_conflict_do_update(constraint="uq_notify_targets_owner", set_=values)
        .returning(NotifyTarget)
    )
    assert target is not None
    return _out(target)


@router.put("/admin/notify/targets", tags=["notify"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_target(body: OwnedTargetIn, session: Session, settings: Settings, clock: Now) -> TargetOut:
    """Set one recipient on one channel (by owner, channel and name: set again, it is replaced). Idempotent."""
    now = clock.now()
    return await _put(session, body, owner_kind=body.owner_kind, owner_id=body.owner_id, settings=settings, now=now)


@router.get("/admin/notify/targets", tags=["notify"], dependencies=[AdminOnly], responses=responses(401, 422))
async def list_targets(
    session: Session,
    owner_kind: OwnerKind | None = None,
    owner_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TargetOut]:
    query = select(NotifyTarget).order_by(NotifyTarget.owner_kind, NotifyTarget.owner_id, NotifyTarget.id)
    if owner_kind:
        query = query.where(NotifyTarget.owner_kind == owner_kind)
    if owner_id:
        query = query.where(NotifyTarget.owner_id == owner_id)
    return [_out(t) for t in (await session.scalars(query)).all()]


@router.delete(
    "/admin/notify/targets/{target_id}",
    status_code=204,
    tags=["notify"],
    dependencies=[AdminOnly],
    responses=responses(401, 404),
)
async def delete_target(target_id: int, session: Session) -> Response:
    """Remove a recipient; what was still owed to it is dropped with it."""
    target = await session.get(NotifyTarget, target_id)
    if target is None:
        raise NotFound("target", texts.TARGET_NOT_FOUND)
    await session.delete(target)
    return Response(status_code=204)


@router.get("/v1/notify/targets", tags=["notify"], responses=responses(401, 403))
async def my_targets(principal: CurrentPrincipal, session: Session) -> list[TargetOut]:
    """A unit's own recipients (its duty group robots, duty phones, its own system)."""
    require(principal, Role.UNIT)
    query = select(NotifyTarget).where(
        NotifyTarget.owner_kind == OwnerKind.UNIT, NotifyTarget.owner_id == principal.sub
    )
    return [_out(t) for t in (await session.scalars(query.order_by(NotifyTarget.id))).all()]


@router.put("/v1/notify/targets", tags=["notify"], responses=responses(401, 403, 422))
async def put_my_target(
    body: TargetIn, principal: CurrentPrincipal, session: Session, settings: Settings, clock: Now
) -> TargetOut:
    """A unit sets one of its own recipients (by channel and name: set again, it is replaced)."""
    require(principal, Role.UNIT)
    now = clock.now()
    return await _put(session, body, owner_kind=OwnerKind.UNIT, owner_id=principal.sub, settings=settings, now=now)


@router.delete("/v1/notify/targets/{target_id}", status_code=204, tags=["notify"], responses=responses(401, 403, 404))
async def delete_my_target(target_id: int, principal: CurrentPrincipal, session: Session) -> Response:
    """A unit removes one of its own recipients (another's answers 404, as one that does not exist)."""
    require(principal, Role.UNIT)
    target = await session.get(NotifyTarget, target_id)
    if target is None or (target.owner_kind, target.owner_id) != (OwnerKind.UNIT, principal.sub):
        raise NotFound("target", texts.TARGET_NOT_FOUND)
    await session.delete(target)
    return Response(status_code=204)


@router.get("/admin/notify/notifications", tags=["notify"], dependencies=[AdminOnly], responses=responses(401, 422))
async def list_notifications(
    session: Session,
    state: DeliveryState | None = None,
    target_id: int | None = None,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationOut]:
    """What was owed, newest first: parked ones (``state=dead``) are the ones to look at."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if state:
        query = query.where(Notification.state == state)
    if target_id is not None:
        query = query.where(Notification.target_id == target_id)
    if case_id:
        query = query.where(Notification.case_id == case_id)
    return [NotificationOut.model_validate(n) for n in (await session.scalars(query)).all()]


@router.post(
    "/admin/notify/notifications/{notification_id}/redrive",
    tags=["notify"],
    dependencies=[AdminOnly],
    responses=responses(401, 404, 409),
)
async def redrive_one(notification_id: int, session: Session, clock: Now) -> NotificationOut:
    """Send a parked notification again, with fresh tries."""
    row = await session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        raise NotFound("notification", texts.NOTIFICATION_NOT_FOUND)
    if row.state != DeliveryState.DEAD:
        raise Conflict("notification_not_parked", texts.NOTIFICATION_NOT_PARKED, "notification_id")
    await delivery.redrive(session, Notification, Notification.id == row.id, at=clock.now())
    await session.refresh(row)
    return NotificationOut.model_validate(row)


@router.post("/admin/notify/notifications/redrive", tags=["notify"], dependencies=[AdminOnly], responses=responses(401))
async def redrive_parked(session: Session, clock: Now, target_id: int | None = None) -> dict[str, int]:
    """Send every parked notification (of one target) again."""
    conditions = [Notification.target_id == target_id] if target_id is not None else []
    return {"redriven": await delivery.redrive(session, Notification, *conditions, at=clock.now())}


# -- ops alerts ------------------------------------------------------------------------------------------------------


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(max_length=16)
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=64)
    startsAt: datetime
    fingerprint: str = Field(default="", max_length=64)


class AlertmanagerIn(BaseModel):
    """Alertmanager's webhook body (version 4), the parts read."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(max_length=8)
    status: str = Field(max_length=16)
    alerts: list[AlertIn] = Field(max_length=500)


Audience = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$", description="oncall, ops-group")]


@router.post("/notify/v1/alertmanager", tags=["notify"], responses=responses(401, 422))
async def alertmanager(
    request: Request, body: AlertmanagerIn, session: Session, settings: Settings, clock: Now, audience: Audience
) -> dict[str, int]:
    """Alertmanager's webhook: each alert (firing or resolved) to the audience's targets (owner ``ops``).
    ``Authorization: Bearer <notify.alert_token>``. A repeat of the same alert in the same state is sent once."""
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.notify.alert_token.get_secret_value().encode()):
        raise ApiError(401, "unauthenticated", texts.ALERT_TOKEN_INVALID, "Authorization")
    now, made = clock.now(), 0
    for alert in body.alerts:
        firing = alert.status == "firing"
        severity = alert.labels.get("severity", "")
        values = {
            "status": "告警" if firing else "已恢复",
            "alertname": alert.labels.get("alertname", "?"),
            "summary": alert.annotations.get("summary") or alert.annotations.get("description") or "",
            "severity": severity or "—",
            "service": alert.labels.get("service") or alert.labels.get("job") or "—",
            "starts": local(alert.startsAt),
        }
        notice = Notice(
            NotifyKind.ALERT,
            ((OwnerKind.OPS, audience),),
            values,
            None,
            urgent=firing and severity == "page",
            data={"alert": alert.model_dump(mode="json")},
        )
        key = f"{audience}:{alert.fingerprint}:{alert.status}:{alert.startsAt.isoformat()}:{values['alertname']}"
        event_id = "am:" + hashlib.sha256(key.encode()).hexdigest()[:48]
        made += await queue.enqueue(session, notice, event_id=event_id, event_at=now, now=now)
    return {"notifications": made}
