"""The checks a photo goes through, without I/O: its real type by magic bytes, its EXIF capture time, whether it
was taken within an action's window, and the metadata-free copies that may be shown. The store that applies them to
objects in S3 is ``shared.photos``; the errors by meaning are defined here so both raise the same ones."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from enum import StrEnum

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError


class ImageType(StrEnum):
    """The image types a phone may upload, by their MIME type."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"


# Pillow's format name for each type: the decoder must agree with the magic bytes.
_PILLOW_FORMAT = {ImageType.JPEG: "JPEG", ImageType.PNG: "PNG", ImageType.WEBP: "WEBP"}


# ---------------------------------------------------------------------------------------------------------------------
# errors by meaning


class PhotoError(Exception):
    """Base of the photo store's errors."""


class StoreUnavailable(PhotoError):
    """S3 could not be reached or answered 5xx: try again later (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PhotoNotFound(PhotoError):
    """No object under this key, or a key the store never hands out."""


class PhotoRefused(PhotoError):
    """The object is there but cannot be accepted as a photo."""


class PhotoTooLarge(PhotoRefused):
    """More bytes, or more pixels, than allowed (HTTP 413)."""


class PhotoWrongType(PhotoRefused):
    """Not an image of an allowed type, not the type it was declared as, or not decodable (HTTP 422)."""


class UploadExpired(PhotoRefused):
    """Stored after its upload grant had expired."""


# ---------------------------------------------------------------------------------------------------------------------
# pure checks (no I/O)


def sniff(head: bytes) -> ImageType | None:
    """The image type the first bytes announce, whatever the file is called or declared as."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageType.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageType.PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageType.WEBP
    return None


_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def parse_exif_time(value: object, offset: object, default_tz: tzinfo) -> datetime | None:
    """An EXIF ``DateTimeOriginal`` ("2026:12:04 09:30:00"), in the zone of ``OffsetTimeOriginal`` ("+08:00") if
    the camera wrote one, else in ``default_tz``; None if absent or malformed (cameras write "0000:00:00 00:00:00")."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not (m := _EXIF_TIME.match(value.strip())):
        return None
    zone = default_tz
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if isinstance(offset, str) and (o := _EXIF_OFFSET.match(offset.strip())):
        sign = 1 if o[1] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(o[2]), minutes=int(o[3])))
    try:
        year, month, day, hour, minute, second = (int(part) for part in m.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def capture_time(image: Image.Image, default_tz: tzinfo) -> datetime | None:
    """When the photo was taken according to its EXIF (``DateTimeOriginal``), or None if it does not say."""
    exif_ifd = image.getexif().get_ifd(ExifTags.IFD.Exif)
    return parse_exif_time(
        exif_ifd.get(ExifTags.Base.DateTimeOriginal), exif_ifd.get(ExifTags.Base.OffsetTimeOriginal), default_tz
    )


def taken_outside(
    window_start: datetime,
    window_end: datetime,
    taken_at: datetime | None,
    *,
    slack: timedelta = timedelta(minutes=10),
) -> bool:
    """Whether a photo is to be flagged: not shown to be taken within ``[window_start - slack, window_end + slack]``.

    A photo without a capture time is flagged too: nothing shows it was taken then (a browser that shrinks a photo
    through a canvas drops its EXIF, so the field app must carry the capture time over). ``slack`` absorbs a phone
    clock that is a few minutes off. All times must be timezone-aware."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window's bounds must be timezone-aware")
    if window_end < window_start:
        raise ValueError("the window ends before it starts")
    if taken_at is None:
        return True
    if taken_at.tzinfo is None:
        raise ValueError("taken_at must be timezone-aware")
    return not (window_start - slack <= taken_at <= window_end + slack)


@dataclass(frozen=True)
class Decoded:
    """What the bytes of an upload turned out to be."""

    type: ImageType
    width: int
    height: int
    taken_at: datetime | None


def decode(data: bytes, *, declared: str | None, max_pixels: int, default_tz: tzinfo) -> Decoded:
    """Check that ``data`` is an image of an allowed type, the one it was ``declared`` as (if any), within
    ``max_pixels``, and decodable; read its capture time. Raises ``PhotoWrongType`` or ``PhotoTooLarge``."""
    kind = sniff(data[:16])
    if kind is None:
        raise PhotoWrongType("not a JPEG, PNG or WebP image")
    if declared is not None and declared.split(";")[0].strip().lower() != kind.value:
        raise PhotoWrongType(f"declared as {declared} but is {kind.value}")
    with _open(data, max_pixels) as image:
        if image.format != _PILLOW_FORMAT[kind]:
            raise PhotoWrongType(f"magic bytes say {kind.value}, the decoder says {image.format}")
        width, height = image.size
        if width * height > max_pixels:
            raise PhotoTooLarge(f"{width}×{height} pixels, more than {max_pixels}")
        try:
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise PhotoWrongType(f"the image cannot be decoded ({exc})") from exc
        return Decoded(kind, width, height, capture_time(image, default_tz))


def _open(data: bytes, max_pixels: int) -> Image.Image:
    # Pillow's own bomb check is a process-wide setting and only warns below twice its limit; the size is checked
    # against our limit right after opening, before any pixel is decoded.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise PhotoTooLarge(f"too many pixels ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PhotoWrongType(f"the image cannot be decoded ({exc})") from exc


def _clean_copy(image: Image.Image) -> Image.Image:
    """The pixels only, turned upright: a new image carries no EXIF, XMP, ICC or comment of the original."""
    upright = ImageOps.exif_transpose(image)
    rgb = upright.convert("RGB") if upright.mode != "RGB" else upright
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())


@dataclass(frozen=True)
class Rendered:
    """The JPEGs that may be shown, and their sizes in pixels."""

    image: bytes
    size: tuple[int, int]
    thumbnail: bytes
    thumbnail_size: tuple[int, int]


def render(data: bytes, *, max_px: int, thumb_px: int, quality: int, max_pixels: int) -> Rendered:
    """The JPEG to serve (at most ``max_px`` on its longer side, no metadata at all) and its thumbnail."""
    with _open(data, max_pixels) as image:
        clean = _clean_copy(image)
    clean.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    thumb = clean.copy()
    thumb.thumbnail((thumb_px, thumb_px), Image.Resampling.LANCZOS)
    return Rendered(_jpeg(clean, quality), clean.size, _jpeg(thumb, quality), thumb.size)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
