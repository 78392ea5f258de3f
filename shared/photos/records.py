"""What the store hands out and hands back: its object keys (``uploads/``, ``published/``, ``thumbs/``), an upload's
presigned grant, what ``inspect`` found and what ``publish`` wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.photo_checks import ImageType, PhotoNotFound

# An upload's key: uploads/<32 hex>. Its published copies share the id.
_UPLOAD_KEY = re.compile(r"^uploads/([0-9a-f]{32})$")
_SERVED_KEY = re.compile(r"^(published|thumbs)/[0-9a-f]{32}\.jpg$")


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
