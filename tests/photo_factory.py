"""Photos made on the spot with Pillow: a phone's JPEG with EXIF capture time and GPS, and other images."""

from __future__ import annotations

import io

from PIL import ExifTags, Image


def phone_jpeg(
    size: tuple[int, int] = (1200, 900),
    *,
    taken: str | None = "2026:12:04 09:30:00",
    offset: str | None = None,
    gps: bool = True,
    orientation: int | None = None,
) -> bytes:
    """A JPEG as a phone writes it: EXIF with the maker, DateTimeOriginal (local time) and a GPS position."""
    image = Image.new("RGB", size, (200, 120, 40))
    for x in range(0, size[0], 50):  # some content, so the JPEG is not trivially small
        image.paste((30, 60, 200), (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.Base.Model] = "Field 1"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        sub[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        where = exif.get_ifd(ExifTags.IFD.GPSInfo)
        where[ExifTags.GPS.GPSLatitudeRef] = "N"
        where[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 26.0)
        where[ExifTags.GPS.GPSLongitudeRef] = "E"
        where[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 29.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, format="PNG")
    return out.getvalue()


def webp(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 0, 128)).save(out, format="WEBP")
    return out.getvalue()


def exif_of(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif()
