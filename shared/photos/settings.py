"""Where photos live and the limits they are held to (``PhotoStoreSettings``), with the local stack's placeholder
credentials production refuses."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# The local stack's S3Proxy (deploy/local/stack: S3_IDENTITY / S3_CREDENTIAL).
DEV_S3_ACCESS_KEY = "heat-dev"
DEV_S3_SECRET_KEY = "heat-dev-secret-change-me"


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
