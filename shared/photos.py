"""Photo evidence in S3-compatible object storage (S3Proxy locally; MinIO, Ceph RGW or a cloud's OSS / COS / OBS in
S3 mode in production), and the pure checks a photo goes through.

The life of a photo:

1. ``presign_upload`` hands the phone a short-lived presigned POST for one new key under ``uploads/``, its policy
   limited to one image type and a size range.
2. The action that names the photo calls ``inspect``: the object exists, is not too large, is really the image type it
   was declared as (magic bytes, then Pillow must decode it), was stored before its grant expired, and its EXIF
   capture time is read. ``taken_outside`` then tells whether it was taken outside the action's window.
3. ``publish`` writes what may be shown: a re-encoded JPEG with no EXIF at all (no GPS: these are residents' homes)
   and a thumbnail. Originals are never served: ``presign_get`` signs only published keys.
4. ``delete`` removes a photo's three objects (for the retention job).

The pure checks live in ``shared.photo_checks``. The store does not trust the POST policy to have been enforced:
S3Proxy 2.6.0 checks the policy's signature but none of its conditions (expiry, size, key, type), so ``inspect``
checks size, type and upload time itself.

boto3 is synchronous: every S3 call and every image decode runs in a worker thread (``asyncio.to_thread``) so the
event loop is never blocked. An S3 that cannot be reached, or answers 5xx, raises ``StoreUnavailable`` (for a 503
with Retry-After); the other refusals are ``PhotoNotFound``, ``PhotoTooLarge``, ``PhotoWrongType`` and
``UploadExpired``, errors by meaning that the HTTP layer maps to statuses.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from shared.photo_checks import (
    ImageType,
    PhotoError,
    PhotoNotFound,
    PhotoRefused,
    PhotoTooLarge,
    PhotoWrongType,
    StoreUnavailable,
    UploadExpired,
    decode,
    render,
    sniff,
    taken_outside,
)

__all__ = [
    "DEV_S3_ACCESS_KEY",
    "DEV_S3_SECRET_KEY",
    "ImageType",
    "PhotoError",
    "PhotoInfo",
    "PhotoNotFound",
    "PhotoRefused",
    "PhotoStore",
    "PhotoStoreSettings",
    "PhotoTooLarge",
    "PhotoWrongType",
    "Published",
    "StoreUnavailable",
    "UploadExpired",
    "UploadGrant",
    "sniff",
    "taken_outside",
]

# The local stack's S3Proxy (deploy/local/stack: S3_IDENTITY / S3_CREDENTIAL).
DEV_S3_ACCESS_KEY = "heat-dev"
DEV_S3_SECRET_KEY = "heat-dev-secret-change-me"

T = TypeVar("T")


class PhotoStoreSettings(BaseModel):
    """Where photos live and the limits they are held to; a fragment a service's settings embed
    (e.g. ``photos: PhotoStoreSettings = PhotoStoreSettings()``)."""

    model_config = ConfigDict(frozen=True)

    endpoint_url: str = Field(default="http://127.0.0.1:19000", description="The S3 endpoint (scheme, host, port).")
    # Where phones and browsers reach the same store, when not at ``endpoint_url`` (a service inside a cluster or a
    # compose network talks to http://s3:9000, a phone to https://photos.example.gov.cn): presigned URLs are signed
    # for this host. None: ``endpoint_url``.
    public_endpoint_url: str | None = None
    region: str = "us-east-1"
    bucket: str = "heat-photos"
    access_key_id: str = DEV_S3_ACCESS_KEY
    secret_access_key: SecretStr = SecretStr(DEV_S3_SECRET_KEY)
    # Path style (http://host/bucket/key) works with every S3 server; virtual-host style needs DNS for each bucket.
    addressing_style: Literal["path", "virtual"] = "path"
    # The phone sends a JPEG shrunk to at most 1600 px, well under 2 MiB; the limit leaves room for a PNG.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # A decoded image larger than this is refused before it is decoded (a small file can hold a huge image).
    max_pixels: int = Field(default=40_000_000, ge=1)
    upload_ttl_seconds: int = Field(default=300, ge=1, le=3600)
    download_ttl_seconds: int = Field(default=300, ge=1, le=3600)
    published_max_px: int = Field(default=1600, ge=64)
    thumbnail_px: int = Field(default=320, ge=16)
    jpeg_quality: int = Field(default=85, ge=30, le=95)
    # How far S3's clock may run ahead of ours when an upload's time is compared with its grant's expiry.
    clock_skew_seconds: float = Field(default=5.0, ge=0)
    # EXIF times carry no zone unless the camera wrote OffsetTimeOriginal; phones write the local time.
    camera_timezone: str = "Asia/Shanghai"
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    # What a 503 answers in Retry-After when S3 cannot be reached.
    retry_after_seconds: int = Field(default=30, ge=1)

    @field_validator("camera_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def refuse_placeholders(self) -> None:
        """Production must not run on the local stack's credentials."""
        secret = self.secret_access_key.get_secret_value()
        if "change-me" in secret or len(secret) < 16 or self.access_key_id == DEV_S3_ACCESS_KEY:
            raise ValueError("the photo store's S3 credentials are the local stack's placeholders; set real ones")


# An upload's key: uploads/<32 hex>. Its published copies share the id.
_UPLOAD_KEY = re.compile(r"^uploads/([0-9a-f]{32})$")
_SERVED_KEY = re.compile(r"^(published|thumbs)/[0-9a-f]{32}\.jpg$")
# What a 5xx or throttling answer of S3 is called: the store is unavailable, not the request wrong.
_UNAVAILABLE_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}


@dataclass(frozen=True)
class UploadGrant:
    """A presigned POST for one photo: the phone sends ``fields`` plus the file (form field ``file``, last) to
    ``url``. ``key`` names the photo in the action; keep ``expires_at`` to pass to ``inspect(not_after=…)``."""

    key: str
    url: str
    fields: dict[str, str]
    content_type: ImageType
    max_bytes: int
    expires_at: datetime


@dataclass(frozen=True)
class PhotoInfo:
    """What ``inspect`` found: an upload that may be accepted."""

    key: str
    size: int
    content_type: ImageType
    width: int
    height: int
    taken_at: datetime | None  # EXIF DateTimeOriginal, timezone-aware; None if the photo does not say
    uploaded_at: datetime


@dataclass(frozen=True)
class Published:
    """The copies of a photo that may be shown: no EXIF, re-encoded as JPEG."""

    key: str
    image_key: str
    thumbnail_key: str
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int


def published_keys(key: str) -> tuple[str, str]:
    """The served image and thumbnail keys of an upload key."""
    m = _UPLOAD_KEY.match(key)
    if m is None:
        raise PhotoNotFound(f"{key!r} is not a photo key this store hands out")
    return f"published/{m[1]}.jpg", f"thumbs/{m[1]}.jpg"


class PhotoStore:
    """Photos in one bucket of an S3-compatible server. Creating it connects to nothing; ``ensure_bucket`` is the
    first call that does."""

    def __init__(self, settings: PhotoStoreSettings) -> None:
        self.settings = settings
        self._zone = ZoneInfo(settings.camera_timezone)
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            # boto3 >= 1.36 adds CRC32 checksums to every request by default; S3Proxy (and some other S3 servers)
            # answer NotImplemented. Checksums only where the API requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            # one retry: a request held up by S3 holds up the person's request too
            retries={"max_attempts": 2, "mode": "standard"},
        )
        session = boto3.session.Session()

        def client(endpoint: str) -> Any:
            return session.client(
                "s3",
                endpoint_url=endpoint,
                region_name=settings.region,
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key.get_secret_value(),
                config=config,
            )

        self._s3: Any = client(settings.endpoint_url)
        # Presigning is local (no request): URLs for phones and browsers are signed for the host they reach.
        public = settings.public_endpoint_url
        self._signer: Any = client(public) if public and public != settings.endpoint_url else self._s3

    # -- plumbing --------------------------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking S3 call (or image work around one) in a thread; an unreachable or failing S3 becomes
        ``StoreUnavailable``. Other client errors are the caller's to read."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or str(error.get("Code")) in _UNAVAILABLE_CODES:
                raise self._unavailable(exc) from exc
            raise
        except BotoCoreError as exc:  # no connection, timeouts, a connection closed mid-answer
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"S3 at {self.settings.endpoint_url} is unavailable: {exc}", self.settings.retry_after_seconds
        )

    @staticmethod
    def _status(exc: ClientError) -> int:
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))

    # -- bucket ----------------------------------------------------------------------------------------------------

    async def ping(self) -> None:
        """One signed request (ListBuckets): raises ``StoreUnavailable`` if S3 does not answer."""
        await self._call(self._s3.list_buckets)

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (idempotent; run at start-up)."""
        bucket = self.settings.bucket
        try:
            await self._call(self._s3.head_bucket, Bucket=bucket)
            return
        except ClientError as exc:
            if self._status(exc) != 404:
                raise
        try:
            await self._call(self._s3.create_bucket, Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    # -- upload ----------------------------------------------------------------------------------------------------

    def presign_upload(self, content_type: ImageType | str, *, ttl_seconds: int | None = None) -> UploadGrant:
        """A presigned POST for one new photo of ``content_type``, at most ``max_upload_bytes``, valid for
        ``upload_ttl_seconds``. Signing is local: no request to S3."""
        kind = ImageType(content_type)  # ValueError for a type that is not allowed
        ttl = ttl_seconds if ttl_seconds is not None else self.settings.upload_ttl_seconds
        key = f"uploads/{uuid.uuid4().hex}"
        issued = datetime.now(UTC)
        post = self._signer.generate_presigned_post(
            Bucket=self.settings.bucket,
            Key=key,
            Fields={"Content-Type": kind.value},
            Conditions=[
                ["content-length-range", 1, self.settings.max_upload_bytes],
                {"Content-Type": kind.value},
            ],
            ExpiresIn=ttl,
        )
        return UploadGrant(
            key=key,
            url=post["url"],
            fields={str(k): str(v) for k, v in post["fields"].items()},
            content_type=kind,
            max_bytes=self.settings.max_upload_bytes,
            expires_at=issued + timedelta(seconds=ttl),
        )

    @staticmethod
    def policy_of(grant: UploadGrant) -> dict[str, Any]:
        """The decoded POST policy of a grant (what a conforming S3 enforces)."""
        policy: dict[str, Any] = json.loads(base64.b64decode(grant.fields["policy"]))
        return policy

    # -- checks ----------------------------------------------------------------------------------------------------

    async def inspect(self, key: str, *, not_after: datetime | None = None) -> PhotoInfo:
        """The checks of an upload, changing nothing in S3 (see ``_inspect``)."""
        info, _ = await self._inspect(key, not_after=not_after)
        return info

    async def accept(self, key: str, *, not_after: datetime | None = None) -> tuple[PhotoInfo, Published]:
        """``inspect`` then ``publish`` on one read of the object (HEAD, GET, two PUTs): what an action naming a
        photo does."""
        info, data = await self._inspect(key, not_after=not_after)
        return info, await self.publish(key, data=data)

    async def _inspect(self, key: str, *, not_after: datetime | None) -> tuple[PhotoInfo, bytes]:
        """Check the upload under ``key``: it exists (``PhotoNotFound``), is within ``max_upload_bytes``
        (``PhotoTooLarge``), was stored no later than ``not_after`` — its grant's expiry — (``UploadExpired``), and is
        an image of an allowed type, the type it was declared as, within ``max_pixels`` (``PhotoWrongType``,
        ``PhotoTooLarge``). Returns its size, type, dimensions and EXIF capture time. Changes nothing in S3."""
        published_keys(key)  # refuses keys the store never hands out
        head = await self._head(key)
        size = int(head["ContentLength"])
        if size > self.settings.max_upload_bytes:
            raise PhotoTooLarge(f"{size} bytes, more than {self.settings.max_upload_bytes}")
        if size == 0:
            raise PhotoWrongType("the object is empty")
        uploaded_at: datetime = head["LastModified"]
        if not_after is not None and uploaded_at > not_after + timedelta(seconds=self.settings.clock_skew_seconds):
            raise UploadExpired(f"stored at {uploaded_at.isoformat()}, after its grant expired at {not_after}")
        data = await self._read(key)
        decoded = await asyncio.to_thread(
            decode,
            data,
            declared=head.get("ContentType"),
            max_pixels=self.settings.max_pixels,
            default_tz=self._zone,
        )
        info = PhotoInfo(
            key=key,
            size=size,
            content_type=decoded.type,
            width=decoded.width,
            height=decoded.height,
            taken_at=decoded.taken_at,
            uploaded_at=uploaded_at,
        )
        return info, data

    async def _head(self, key: str) -> dict[str, Any]:
        try:
            head: dict[str, Any] = await self._call(self._s3.head_object, Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if self._status(exc) == 404:
                raise PhotoNotFound(f"no object {key!r}") from exc
            raise
        return head

    async def _read(self, key: str) -> bytes:
        def read() -> bytes:
            # never more than the limit, whatever the object grew to since the HEAD
            body = self._s3.get_object(
                Bucket=self.settings.bucket, Key=key, Range=f"bytes=0-{self.settings.max_upload_bytes}"
            )["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data

        try:
            data = await self._call(read)
        except ClientError as exc:
            if self._status(exc) == 404:
                raise PhotoNotFound(f"no object {key!r}") from exc
            raise
        if len(data) > self.settings.max_upload_bytes:
            raise PhotoTooLarge(f"more than {self.settings.max_upload_bytes} bytes")
        return data

    # -- serving ---------------------------------------------------------------------------------------------------

    async def publish(self, key: str, *, data: bytes | None = None) -> Published:
        """Write the copies that may be shown: the photo re-encoded as JPEG (at most ``published_max_px``, turned
        upright, with no EXIF, GPS, XMP or ICC data) and a thumbnail (at most ``thumbnail_px``). Call it after
        ``inspect`` accepted the upload; running it twice writes the same copies again."""
        image_key, thumb_key = published_keys(key)
        if data is None:  # ``accept`` passes what it already read
            data = await self._read(key)
        s = self.settings
        rendered = await asyncio.to_thread(
            render,
            data,
            max_px=s.published_max_px,
            thumb_px=s.thumbnail_px,
            quality=s.jpeg_quality,
            max_pixels=s.max_pixels,
        )
        for target, body in ((image_key, rendered.image), (thumb_key, rendered.thumbnail)):
            await self._call(
                self._s3.put_object,
                Bucket=s.bucket,
                Key=target,
                Body=body,
                ContentType=ImageType.JPEG.value,
                CacheControl="private, max-age=300",
            )
        return Published(
            key=key,
            image_key=image_key,
            thumbnail_key=thumb_key,
            width=rendered.size[0],
            height=rendered.size[1],
            thumbnail_width=rendered.thumbnail_size[0],
            thumbnail_height=rendered.thumbnail_size[1],
        )

    def presign_get(self, served_key: str, *, ttl_seconds: int | None = None) -> str:
        """A short-lived URL for a published image or thumbnail (never an original: it may hold GPS). Signing is
        local; whether the object exists is ``exists``'s question."""
        if not _SERVED_KEY.match(served_key):
            raise PhotoNotFound(f"{served_key!r} is not a published image or thumbnail")
        url: str = self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.settings.bucket, "Key": served_key},
            ExpiresIn=ttl_seconds if ttl_seconds is not None else self.settings.download_ttl_seconds,
        )
        return url

    async def exists(self, key: str) -> bool:
        try:
            await self._head(key)
        except PhotoNotFound:
            return False
        return True

    # -- retention -------------------------------------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        """Delete an upload and its published copies (idempotent: deleting what is gone is no error)."""
        image_key, thumb_key = published_keys(key)
        for target in (key, image_key, thumb_key):
            await self._call(self._s3.delete_object, Bucket=self.settings.bucket, Key=target)
