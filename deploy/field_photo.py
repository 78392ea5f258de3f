"""Photos the demo and the simulator's grid workers and crews take: a small JPEG with its EXIF capture time, as a
phone's camera writes it (local time, Asia/Shanghai), so the server's window check has something to read."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageDraw

CAMERA_ZONE = ZoneInfo("Asia/Shanghai")


def field_jpeg(taken_at: datetime, *, size: tuple[int, int] = (320, 240), shade: int = 0, grain: float = 0.0) -> bytes:
    """A JPEG of ``size`` with DateTimeOriginal = ``taken_at`` in the camera's local time (no GPS); ``grain`` adds
    a sensor's noise of that standard deviation (a plain drawing compresses far better than a photo)."""
    image = Image.new("RGB", size, (230 - shade % 60, 230, 220))
    if grain:
        noise = Image.effect_noise(size, grain).convert("RGB")
        image = Image.blend(image, noise, 0.35)
    draw = ImageDraw.Draw(image)
    draw.rectangle((size[0] // 3, size[1] // 6, size[0] // 3 + 24, size[1] * 5 // 6), outline=(20, 20, 20), width=3)
    level = size[1] * 5 // 6 - (shade % (size[1] // 2))
    draw.rectangle((size[0] // 3 + 6, level, size[0] // 3 + 18, size[1] * 5 // 6), fill=(200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HeatDemo"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken_at.astimezone(CAMERA_ZONE).strftime(
        "%Y:%m:%d %H:%M:%S"
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, exif=exif)
    return out.getvalue()
