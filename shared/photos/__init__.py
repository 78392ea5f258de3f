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

The parts: ``settings`` (``PhotoStoreSettings``), ``records`` (the store's keys and what it hands back) and ``store``
(``PhotoStore``); the pure checks and the errors are ``shared.photo_checks``'s, re-exported here.
"""

from __future__ import annotations

from shared.photo_checks import (
    ImageType,
    PhotoError,
    PhotoNotFound,
    PhotoRefused,
    PhotoTooLarge,
    PhotoWrongType,
    StoreUnavailable,
    UploadExpired,
    sniff,
    taken_outside,
)
from shared.photos.records import PhotoInfo, Published, UploadGrant, published_keys
from shared.photos.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, PhotoStoreSettings
from shared.photos.store import PhotoStore

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
    "published_keys",
    "sniff",
    "taken_outside",
]
