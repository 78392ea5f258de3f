"""The photo checks without S3: real type by magic bytes, EXIF capture time, the action's window, clean copies."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import ExifTags, Image

from shared.photo_checks import (
    ImageType,
    PhotoTooLarge,
    PhotoWrongType,
    decode,
    parse_exif_time,
    render,
    sniff,
    taken_outside,
)
from tests.photo_factory import exif_of, phone_jpeg, png, webp

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIX = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # the repair was reported done
VISIT_END = FIX + timedelta(hours=24)  # the return visit is owed within 24 h


# -- magic bytes -----------------------------------------------------------------------------------------------------


def test_sniff_knows_the_allowed_types_by_their_bytes() -> None:
    assert sniff(phone_jpeg()[:16]) is ImageType.JPEG
    assert sniff(png()[:16]) is ImageType.PNG
    assert sniff(webp()[:16]) is ImageType.WEBP


@pytest.mark.parametrize(
    "head",
    [b"", b"hello, this is text", b"GIF89a\x01\x00", b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xd8"],
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    assert sniff(head) is None


def test_a_png_declared_as_jpeg_is_the_wrong_type() -> None:
    with pytest.raises(PhotoWrongType, match="declared as image/jpeg but is image/png"):
        decode(png(), declared="image/jpeg", max_pixels=10**7, default_tz=SHANGHAI)


def test_text_is_the_wrong_type() -> None:
    with pytest.raises(PhotoWrongType):
        decode(b"not an image at all", declared="image/jpeg", max_pixels=10**7, default_tz=SHANGHAI)


def test_jpeg_magic_on_garbage_is_the_wrong_type() -> None:
    with pytest.raises(PhotoWrongType, match="cannot be decoded"):
        decode(b"\xff\xd8\xff\xe0" + b"\x00" * 200, declared=None, max_pixels=10**7, default_tz=SHANGHAI)


def test_a_truncated_jpeg_is_the_wrong_type() -> None:
    data = phone_jpeg()
    with pytest.raises(PhotoWrongType, match="cannot be decoded"):
        decode(data[: len(data) // 2], declared="image/jpeg", max_pixels=10**7, default_tz=SHANGHAI)


def test_too_many_pixels_are_refused_before_decoding() -> None:
    with pytest.raises(PhotoTooLarge):
        decode(phone_jpeg((1200, 900)), declared=None, max_pixels=1_000_000, default_tz=SHANGHAI)


def test_declared_type_parameters_are_ignored() -> None:
    assert (
        decode(png(), declared="image/png; charset=binary", max_pixels=10**7, default_tz=SHANGHAI).type == "image/png"
    )


# -- EXIF capture time -----------------------------------------------------------------------------------------------


def test_capture_time_is_read_in_the_camera_zone() -> None:
    decoded = decode(
        phone_jpeg(taken="2026:12:04 09:30:00"), declared="image/jpeg", max_pixels=10**7, default_tz=SHANGHAI
    )
    assert decoded.taken_at == datetime(2026, 12, 4, 1, 30, tzinfo=UTC)
    assert (decoded.width, decoded.height) == (1200, 900)


def test_an_offset_written_by_the_camera_wins() -> None:
    data = phone_jpeg(taken="2026:12:04 09:30:00", offset="+09:00")
    decoded = decode(data, declared=None, max_pixels=10**7, default_tz=SHANGHAI)
    assert decoded.taken_at == datetime(2026, 12, 4, 0, 30, tzinfo=UTC)


def test_no_exif_time_is_none() -> None:
    assert decode(phone_jpeg(taken=None), declared=None, max_pixels=10**7, default_tz=SHANGHAI).taken_at is None
    assert decode(png(), declared=None, max_pixels=10**7, default_tz=SHANGHAI).taken_at is None


@pytest.mark.parametrize("value", ["0000:00:00 00:00:00", "    :  :     :  :  ", "yesterday", "2026:13:40 25:00:00", 7])
def test_malformed_exif_times_are_none(value: object) -> None:
    assert parse_exif_time(value, None, SHANGHAI) is None


def test_exif_time_as_bytes_and_a_negative_offset() -> None:
    got = parse_exif_time(b"2026:12:04 09:30:00\x00", b"-03:30", SHANGHAI)
    assert got == datetime(2026, 12, 4, 9, 30, tzinfo=timezone(-timedelta(hours=3, minutes=30)))


# -- the action's window ---------------------------------------------------------------------------------------------


def test_a_photo_within_the_window_is_not_flagged() -> None:
    assert not taken_outside(FIX, VISIT_END, FIX + timedelta(hours=3))


def test_a_visit_photo_older_than_the_fix_is_flagged() -> None:
    assert taken_outside(FIX, VISIT_END, FIX - timedelta(days=2))


def test_a_photo_after_the_window_is_flagged() -> None:
    assert taken_outside(FIX, VISIT_END, VISIT_END + timedelta(hours=1))


def test_slack_absorbs_a_phone_clock_a_few_minutes_off() -> None:
    assert not taken_outside(FIX, VISIT_END, FIX - timedelta(minutes=9))
    assert taken_outside(FIX, VISIT_END, FIX - timedelta(minutes=11))
    assert taken_outside(FIX, VISIT_END, FIX - timedelta(minutes=1), slack=timedelta(0))


def test_a_photo_without_capture_time_is_flagged() -> None:
    assert taken_outside(FIX, VISIT_END, None)


def test_zones_are_compared_as_instants() -> None:
    local = datetime(2026, 12, 3, 18, 30, tzinfo=SHANGHAI)  # 10:30 UTC, half an hour after the fix
    assert not taken_outside(FIX, VISIT_END, local)


def test_naive_times_and_a_reversed_window_are_errors() -> None:
    with pytest.raises(ValueError):
        taken_outside(FIX.replace(tzinfo=None), VISIT_END, FIX)
    with pytest.raises(ValueError):
        taken_outside(FIX, VISIT_END, FIX.replace(tzinfo=None))
    with pytest.raises(ValueError):
        taken_outside(VISIT_END, FIX, FIX)


# -- what may be shown -----------------------------------------------------------------------------------------------


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_rendered_copies_carry_no_exif_at_all() -> None:
    original = phone_jpeg((2400, 1800))
    assert exif_of(original).get_ifd(ExifTags.IFD.GPSInfo)  # the factory really writes GPS
    out = render(original, max_px=1600, thumb_px=320, quality=85, max_pixels=10**8)
    for data in (out.image, out.thumbnail):
        assert sniff(data[:16]) is ImageType.JPEG
        assert len(exif_of(data)) == 0
        assert b"Exif" not in data and b"TestPhone" not in data
        with _open(data) as image:
            assert not {"exif", "xmp", "icc_profile"} & set(image.info)
    assert out.size == (1600, 1200)
    assert out.thumbnail_size == (320, 240)


def test_rendering_turns_the_photo_upright() -> None:
    # orientation 6: the camera was turned; the pixels are stored sideways
    out = render(phone_jpeg((400, 300), orientation=6), max_px=1600, thumb_px=320, quality=85, max_pixels=10**8)
    assert out.size == (300, 400)


def test_a_png_with_transparency_is_served_as_jpeg() -> None:
    out = render(png((100, 80)), max_px=1600, thumb_px=320, quality=85, max_pixels=10**8)
    with _open(out.image) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (100, 80))
    assert out.thumbnail_size == (100, 80)  # never enlarged
