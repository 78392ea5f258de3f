"""``PhotoStore``: photos in one bucket of an S3-compatible server. Presigned uploads, the checks of an upload
(``inspect``), the published copy and thumbnail (``publish``), presigned downloads of published copies and deletion;
every blocking call in a worker thread."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.photo_checks import (
    ImageType,
    PhotoNotFound,
    PhotoTooLarge,
    PhotoWrongType,
    StoreUnavailable,
    UploadExpired,
    decode,
    render,
)
from shared.photos.records import _SERVED_KEY, PhotoInfo, Published, UploadGrant, published_keys
from shared.photos.settings import PhotoStoreSettings

# What a 5xx or throttling answer of S3 is called: the store is unavailable, not the request wrong.
_UNAVAILABLE_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}

T = TypeVar("T")


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
