"""Resend-safe actions: the ``Idempotency-Key`` request header.

A phone in a stairwell sends an action, the server commits it, and the answer is lost with the signal. The phone
sends it again when the signal returns. Without a key the second send meets a state that has moved on (a 签收 of
an assignment already signed in: 409) or repeats the action (a second progress note). With one, the second send gets
the first answer back, and the action happened once.

How: in the action's own transaction, before the action runs, a row (owner, key) is inserted. A resend that finds
the row committed gets the stored answer; one that arrives while the first is still running waits on PostgreSQL's
unique index until the first commits (then replays it) or rolls back (then runs itself). The answer is stored in
the same transaction as the action, so the two are committed together or not at all. A refused action (4xx) rolls
back and stores nothing: the phone may fix it and send again under the same key. The same key with a different
request (another path or body) is refused with 422 ``idempotency_key_reused``.

Each service declares the table with ``IdempotentReplyColumns`` on its own declarative base and migration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import DateTime, Integer, String, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import Principal
from shared.errors import ApiError

KEY_PATTERN = r"^[\x21-\x7e]{1,80}$"
REUSED = "该幂等键已用于另一项操作，请换一个键"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Resend-safe key (1–80 printable ASCII characters, e.g. a UUID), one per action: the same key from "
        "the same caller returns the first answer instead of acting again.",
    ),
]


class IdempotentReplyColumns:
    """The columns of a service's ``idempotent_replies`` table (a declarative mixin)."""

    __tablename__ = "idempotent_replies"

    owner: Mapped[str] = mapped_column(String(140), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)  # 0 until the action's transaction stores its answer
    body: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


def owner_of(principal: Principal) -> str:
    """Whose keys these are: the acting party (a unit's accounts share the unit's actions)."""
    return f"{principal.role.value}:{principal.sub}"


async def fingerprint(request: Request) -> str:
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def once(
    session: AsyncSession,
    model: type[IdempotentReplyColumns],
    request: Request,
    *,
    key: str | None,
    principal: Principal | None = None,
    owner: str | None = None,
    action: Callable[[], Awaitable[BaseModel]],
    status_code: int = 200,
) -> BaseModel | JSONResponse:
    """Run ``action`` once per (caller, ``key``) in the caller's transaction; without a key, just run it. The caller
    is a signed-in ``principal``, or an ``owner`` named otherwise (a sensor gateway: ``gateway:<id>``)."""
    if key is None:
        return await action()
    owner = owner or owner_of(_required(principal))
    mark = await fingerprint(request)
    table: Any = model
    claimed = await session.scalar(
        insert(table)
        .values(owner=owner, key=key, fingerprint=mark, status_code=0)
        .on_conflict_do_nothing()
        .returning(table.key)
    )
    if claimed is None:
        row = (
            await session.execute(
                select(table.fingerprint, table.status_code, table.body).where(table.owner == owner, table.key == key)
            )
        ).one()
        if row.fingerprint != mark:
            raise ApiError(422, "idempotency_key_reused", REUSED, "Idempotency-Key")
        return JSONResponse(row.body, status_code=row.status_code, headers={"Idempotent-Replayed": "true"})
    out = await action()
    stored = jsonable_encoder(out)
    await session.execute(
        table.__table__.update()
        .where(table.owner == owner, table.key == key)
        .values(status_code=status_code, body=json.loads(json.dumps(stored)))
    )
    return out


def _required(principal: Principal | None) -> Principal:
    if principal is None:
        raise TypeError("once() needs the principal or the owner of the key")
    return principal
