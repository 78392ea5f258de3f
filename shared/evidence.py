"""Photo evidence of a service's actions: upload grants, the photos an action names, and the photos a reader sees.

1. ``POST /v1/photos/uploads`` (``photo_router``) grants the caller a short-lived presigned upload and records the
   grant: a row of the service's ``photos`` table owned by the acting party (a unit, a grid worker).
2. An action (办结, 回访, 一键上报…) names its photos by key in ``photo_refs``; ``Evidence.accept`` takes them in the
   action's transaction: each key must be one this service granted to the same party (else 404: another unit's
   photo is as unknown as a made-up key), not yet used by another action (409), really there and really an image
   within the limits (``PhotoStore.inspect``: 413, 422), stored before its grant expired (422). It publishes the
   copies that may be shown (no EXIF, no GPS) and a thumbnail, and records the EXIF capture time and whether it lies
   outside the action's window (``outside_window``: shown to the task force, counted in the scorecards). S3 down:
   503 with Retry-After and the action is not taken; the phone keeps it queued.
3. Readers get ``PhotoOut``: short-lived presigned URLs of the published copies, signed only for someone the case's
   own authorization already let through. A photo whose object is gone shows as ``missing``.

Each service declares the table with ``PhotoColumns`` on its own declarative base and migration.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, DateTime, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import Principal
from shared.errors import ApiError, ErrorOut
from shared.loops import poll_forever
from shared.photos import (
    ImageType,
    PhotoNotFound,
    PhotoStore,
    PhotoTooLarge,
    PhotoWrongType,
    StoreUnavailable,
    UploadExpired,
    published_keys,
    taken_outside,
)

log = logging.getLogger(__name__)

KEY_PATTERN = r"^uploads/[0-9a-f]{32}$"
MAX_PHOTOS = 10  # per action
# Grants a party may hold unused at once: a phone queues a few dozen photos at most; more is a client gone wrong.
MAX_OPEN_GRANTS = 200

PhotoKey = Annotated[
    str,
    Field(
        pattern=KEY_PATTERN,
        description="A photo uploaded with a grant of ``POST /v1/photos/uploads`` of this service (its ``key``).",
    ),
]

# What an action naming photos may answer besides its own refusals (a route adds them to its ``responses=``).
PHOTO_REFUSALS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "A named photo is too large"},
    503: {"model": ErrorOut, "description": "The photo store is unavailable (``Retry-After``); nothing was taken"},
}

NOT_FOUND = "照片不存在，或不是你上传的"
USED = "这张照片已用于另一项操作"
TOO_LARGE = "照片太大"
WRONG_TYPE = "文件不是所声明类型的图片"
EXPIRED = "照片上传超过了有效期，请重新上传"
UNAVAILABLE = "照片存储暂时不可用，请稍后再试（操作已保留在手机上）"
REQUIRED = "此操作需要至少一张照片"
TOO_MANY_GRANTS = "未使用的上传授权过多，请先提交已拍的照片"


class PhotoStatus(StrEnum):
    """Where a photo row stands: an upload was granted; an action named it (accepted); it was deleted (retention, or
    an upload no action named)."""

    GRANTED = "granted"
    ACCEPTED = "accepted"
    DELETED = "deleted"


class PhotoColumns:
    """The columns of a service's ``photos`` table (a declarative mixin)."""

    __tablename__ = "photos"

    key: Mapped[str] = mapped_column(String(48), primary_key=True)  # uploads/<32 hex>
    owner: Mapped[str] = mapped_column(String(140), index=True)  # role:sub of the acting party
    content_type: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default=PhotoStatus.GRANTED)
    subject: Mapped[str | None] = mapped_column(String(80), index=True)  # e.g. assignment:A-…, visit:V-…
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outside_window: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def owner_of(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.sub}"


# -- shapes ---------------------------------------------------------------------------------------------------


class UploadIn(BaseModel):
    content_type: ImageType = Field(description="The type of the photo to upload (the phone sends JPEG).")


class UploadOut(BaseModel):
    key: str = Field(description="Name the photo by this key in the action's ``photo_refs``.")
    url: str = Field(description="POST the upload here as multipart/form-data: every ``fields`` entry, then ``file``.")
    fields: dict[str, str]
    max_bytes: int
    expires_at: datetime = Field(description="Upload before this; then name it in an action.")


class PhotoOut(BaseModel):
    key: str
    url: str | None = Field(description="Short-lived link to the photo (EXIF and GPS removed); None when missing.")
    thumbnail_url: str | None
    taken_at: datetime | None = Field(description="The capture time the photo's EXIF gives, if any.")
    outside_window: bool = Field(description="Not shown to be taken during the action (flagged for the task force).")
    missing: bool = Field(default=False, description="The photo's object is gone from the store.")


# -- the evidence of one service -------------------------------------------------------------------------------


class Evidence:
    def __init__(self, store: PhotoStore, model: type[PhotoColumns]) -> None:
        self.store = store
        self.model: Any = model
        self._bucket_ready = False

    @classmethod
    def of(cls, settings: Any, model: type[PhotoColumns]) -> Evidence:
        """The evidence of a service whose settings embed ``photos`` (shared.settings.ServiceSettings)."""
        return cls(PhotoStore(settings.photos), model)

    async def _bucket(self) -> None:
        # Created on first use, not at start-up: a service starts (and serves everything but photos) while S3 is down.
        if not self._bucket_ready:
            try:
                await self.store.ensure_bucket()
            except StoreUnavailable as exc:
                raise self.unavailable(exc) from exc
            self._bucket_ready = True

    def unavailable(self, exc: StoreUnavailable) -> ApiError:
        return ApiError(
            503, "photo_store_unavailable", UNAVAILABLE, "photo_refs", headers={"Retry-After": str(exc.retry_after)}
        )

    async def grant(self, session: AsyncSession, principal: Principal, content_type: ImageType) -> UploadOut:
        await self._bucket()
        owner = owner_of(principal)
        now = datetime.now(UTC)
        open_grants = await session.scalar(
            select(func.count())
            .select_from(self.model)
            .where(self.model.owner == owner, self.model.status == PhotoStatus.GRANTED, self.model.expires_at > now)
        )
        if (open_grants or 0) >= MAX_OPEN_GRANTS:
            raise ApiError(429, "too_many_open_uploads", TOO_MANY_GRANTS, headers={"Retry-After": "60"})
        grant = self.store.presign_upload(content_type)
        session.add(
            self.model(
                key=grant.key,
                owner=owner,
                content_type=grant.content_type.value,
                granted_at=now,
                expires_at=grant.expires_at,
                status=PhotoStatus.GRANTED,
                outside_window=False,
            )
        )
        return UploadOut(
            key=grant.key, url=grant.url, fields=grant.fields, max_bytes=grant.max_bytes, expires_at=grant.expires_at
        )

    async def accept(
        self,
        session: AsyncSession,
        keys: Sequence[str],
        *,
        principal: Principal,
        subject: str,
        case_id: str | None,
        window: tuple[datetime, datetime],
        required: bool = False,
        field: str = "photo_refs",
    ) -> list[Any]:
        """Take the photos an action names (in the action's transaction; see the module's docstring). Returns
        their rows. ``window`` is when the photos should have been taken (e.g. from the fix to now)."""
        if required and not keys:
            raise ApiError(422, "photo_required", REQUIRED, field)
        if len(set(keys)) != len(keys):
            raise ApiError(422, "photo_repeated", "同一张照片提交了两次", field)
        owner, now = owner_of(principal), datetime.now(UTC)
        rows = []
        for i, key in enumerate(keys):
            where = f"{field}.{i}"
            row = await session.get(self.model, key, with_for_update=True)
            if row is None or row.owner != owner or row.status == PhotoStatus.DELETED:
                raise ApiError(404, "photo_not_found", NOT_FOUND, where)
            if row.status == PhotoStatus.ACCEPTED:
                if row.subject != subject:
                    raise ApiError(409, "photo_already_used", USED, where)
                rows.append(row)
                continue
            try:
                info, _ = await self.store.accept(key, not_after=row.expires_at)
            except StoreUnavailable as exc:
                raise self.unavailable(exc) from exc
            except PhotoNotFound as exc:
                raise ApiError(404, "photo_not_found", "照片尚未上传完成或已不存在", where) from exc
            except PhotoTooLarge as exc:
                raise ApiError(413, "photo_too_large", TOO_LARGE, where) from exc
            except UploadExpired as exc:
                raise ApiError(422, "upload_expired", EXPIRED, where) from exc
            except PhotoWrongType as exc:
                raise ApiError(422, "photo_wrong_type", WRONG_TYPE, where) from exc
            row.status, row.subject, row.case_id, row.accepted_at = PhotoStatus.ACCEPTED, subject, case_id, now
            row.size, row.width, row.height, row.taken_at = info.size, info.width, info.height, info.taken_at
            row.outside_window = taken_outside(window[0], window[1], info.taken_at)
            rows.append(row)
        return rows

    async def shown(self, session: AsyncSession, keys: Iterable[str]) -> list[PhotoOut]:
        """What a reader who may see the case is shown of these photos (in order). Keys this service never
        accepted (written before photos were checked) are shown as missing."""
        wanted = [k for k in keys if re.fullmatch(KEY_PATTERN, k)]
        found = (
            {
                r.key: r
                for r in (
                    await session.scalars(
                        select(self.model).where(self.model.key.in_(wanted), self.model.status == PhotoStatus.ACCEPTED)
                    )
                ).all()
            }
            if wanted
            else {}
        )
        out = []
        for key in keys:
            row = found.get(key)
            if row is None:
                out.append(
                    PhotoOut(key=key, url=None, thumbnail_url=None, taken_at=None, outside_window=False, missing=True)
                )
                continue
            image, thumb = published_keys(key)
            out.append(
                PhotoOut(
                    key=key,
                    url=self.store.presign_get(image),
                    thumbnail_url=self.store.presign_get(thumb),
                    taken_at=row.taken_at,
                    outside_window=row.outside_window,
                )
            )
        return out

    async def forget(self, session: AsyncSession, due: Any, *, limit: int = 500) -> int:
        """Delete from the store the accepted photos whose keys ``due`` (a SELECT of keys) names, and mark them
        deleted: what a reader is shown of them is then ``missing``. Returns how many; ``StoreUnavailable`` when S3 is
        down (the rows stay, the next pass takes them)."""
        rows = (
            await session.scalars(
                select(self.model)
                .where(self.model.key.in_(due), self.model.status == PhotoStatus.ACCEPTED)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        return await self._delete(rows)

    async def forget_unused(self, session: AsyncSession, *, older_than: timedelta, limit: int = 500) -> int:
        """Delete uploads no action named within ``older_than`` after their grant ran out (left on a phone)."""
        rows = (
            await session.scalars(
                select(self.model)
                .where(self.model.status == PhotoStatus.GRANTED, self.model.expires_at < datetime.now(UTC) - older_than)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        return await self._delete(rows)

    async def _delete(self, rows: Sequence[Any]) -> int:
        now = datetime.now(UTC)
        for row in rows:
            await self.store.delete(row.key)
            row.status, row.deleted_at = PhotoStatus.DELETED, now
        return len(rows)


# How long an upload no action named is kept after its grant ran out (a phone may retry an action for a while).
UNUSED_KEPT = timedelta(days=1)


def retention(
    evidence: Evidence, due: Callable[[datetime], Any], *, every_seconds: float = 3600.0
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """A service's background task: every ``every_seconds``, delete the photos of cases closed more than
    ``photo_retention_days`` ago (``due(cutoff)`` selects their keys) and the uploads no action named."""

    async def run(runtime: Any) -> None:
        async def step() -> bool:
            await retention_pass(evidence, runtime.sessions, due, days=runtime.settings.photo_retention_days)
            return False  # S3 or the database away: the step fails, and the next pass takes what this one left

        await poll_forever(
            step,
            name="photo-retention",
            service=runtime.settings.service_name,
            idle=every_seconds,
            after_failure=every_seconds,
            start_idle=True,
        )

    return run


async def retention_pass(
    evidence: Evidence, sessions: Any, due: Callable[[datetime], Any], *, days: int
) -> tuple[int, int]:
    """One pass of ``retention`` (what its tests call): (photos of closed cases deleted, unused uploads deleted)."""
    closed = unused = 0
    async with sessions() as session, session.begin():
        if days > 0:
            closed = await evidence.forget(session, due(datetime.now(UTC) - timedelta(days=days)))
        unused = await evidence.forget_unused(session, older_than=UNUSED_KEPT)
    if closed or unused:
        log.info("photo retention", extra={"closed_case_photos": closed, "unused_uploads": unused})
    return closed, unused
