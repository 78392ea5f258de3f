"""The photo store on the real S3 server of the local stack (S3Proxy): presigned uploads sent with httpx, the checks
on what arrived, the metadata-free copies, presigned reads, and an S3 that stops and comes back.

S3Proxy 2.6.0 checks a presigned POST's signature but none of its policy's conditions (expiry, size, type, key): where
a conforming S3 would refuse the upload itself, these tests show the store refusing it on ``inspect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from PIL import ExifTags, Image

from shared.photos import (
    ImageType,
    PhotoNotFound,
    PhotoStore,
    PhotoStoreSettings,
    PhotoTooLarge,
    PhotoWrongType,
    StoreUnavailable,
    UploadExpired,
    UploadGrant,
    taken_outside,
)
from tests.harness import RUN_ID, S3_ENDPOINT, check_stack, free_ports
from tests.photo_factory import exif_of, phone_jpeg, png

REPO = Path(__file__).resolve().parents[2]
STACK_DIR = Path(os.environ.get("STACK_DIR", REPO / ".local"))


def settings(**overrides: object) -> PhotoStoreSettings:
    base: dict[str, object] = {"endpoint_url": S3_ENDPOINT, "bucket": f"photos-it-{RUN_ID}", "clock_skew_seconds": 0}
    return PhotoStoreSettings.model_validate(base | overrides)


@pytest.fixture(scope="module")
async def store() -> AsyncIterator[PhotoStore]:
    await check_stack()
    store = PhotoStore(settings())
    await store.ensure_bucket()
    await store.ensure_bucket()  # idempotent
    yield store
    await asyncio.to_thread(empty_and_remove, store.settings)


def empty_and_remove(s: PhotoStoreSettings) -> None:
    """This run's bucket goes when the module is done, so runs do not pile up in the stack's data."""
    s3 = boto3.client(
        "s3",
        endpoint_url=s.endpoint_url,
        region_name=s.region,
        aws_access_key_id=s.access_key_id,
        aws_secret_access_key=s.secret_access_key.get_secret_value(),
        config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s.bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=s.bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=s.bucket)


async def upload(
    grant: UploadGrant, data: bytes, *, filename: str = "photo.jpg", content_type: str | None = None
) -> int:
    """What the phone does: the grant's fields, then the file, as multipart/form-data."""
    fields = dict(grant.fields)
    if content_type is not None:
        fields["Content-Type"] = content_type
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(grant.url, data=fields, files={"file": (filename, data, fields["Content-Type"])})
    return r.status_code


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url)


async def test_upload_inspect_publish_and_serve(store: PhotoStore) -> None:
    original = phone_jpeg((2000, 1500), taken="2026:12:04 09:30:00")
    grant = store.presign_upload(ImageType.JPEG)
    policy = store.policy_of(grant)
    assert ["content-length-range", 1, store.settings.max_upload_bytes] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) <= timedelta(seconds=store.settings.upload_ttl_seconds)

    assert await upload(grant, original) == 204
    info = await store.inspect(grant.key, not_after=grant.expires_at)
    assert (info.size, info.content_type, info.width, info.height) == (len(original), ImageType.JPEG, 2000, 1500)
    assert info.taken_at == datetime(2026, 12, 4, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
    fixed_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert not taken_outside(fixed_at, fixed_at + timedelta(hours=24), info.taken_at)
    assert taken_outside(fixed_at + timedelta(days=2), fixed_at + timedelta(days=3), info.taken_at)

    published = await store.publish(grant.key)
    assert (published.width, published.height) == (1600, 1200)
    assert (published.thumbnail_width, published.thumbnail_height) == (320, 240)

    served = await get(store.presign_get(published.image_key))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert len(exif_of(served.content)) == 0  # no EXIF, so no GPS
    assert b"TestPhone" not in served.content
    thumb = await get(store.presign_get(published.thumbnail_key))
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "JPEG" and max(image.size) <= 320
        assert len(image.getexif()) == 0

    # the original is kept as sent (GPS and all) but never signed for reading
    assert exif_of(original).get_ifd(ExifTags.IFD.GPSInfo)
    with pytest.raises(PhotoNotFound):
        store.presign_get(grant.key)

    await store.delete(grant.key)
    for key in (grant.key, published.image_key, published.thumbnail_key):
        assert not await store.exists(key)
    await store.delete(grant.key)  # deleting what is gone is no error


async def test_too_large_is_refused(store: PhotoStore) -> None:
    small = PhotoStore(settings(max_upload_bytes=50_000))
    data = phone_jpeg((1200, 900))
    assert len(data) > 50_000
    grant = small.presign_upload("image/jpeg")
    status = await upload(grant, data)
    if status >= 400:  # a conforming S3 refuses it by the policy's content-length-range (400 EntityTooLarge)
        assert not await small.exists(grant.key)
    else:  # S3Proxy 2.6.0 stores it: the store refuses it
        with pytest.raises(PhotoTooLarge):
            await small.inspect(grant.key)


async def test_a_png_named_jpg_is_the_wrong_type(store: PhotoStore) -> None:
    grant = store.presign_upload(ImageType.JPEG)
    assert await upload(grant, png(), filename="photo.jpg") in {204, 403}  # 403 where S3 enforces Content-Type
    if await store.exists(grant.key):
        with pytest.raises(PhotoWrongType, match="image/png"):
            await store.inspect(grant.key)


async def test_text_is_the_wrong_type(store: PhotoStore) -> None:
    grant = store.presign_upload(ImageType.JPEG)
    assert await upload(grant, b"this is not a photo\n" * 20, filename="photo.jpg") == 204
    with pytest.raises(PhotoWrongType, match="not a JPEG, PNG or WebP"):
        await store.inspect(grant.key)


def test_only_image_types_get_a_grant(store: PhotoStore) -> None:
    with pytest.raises(ValueError):
        store.presign_upload("text/html")


async def test_an_expired_presigned_get_is_refused(store: PhotoStore) -> None:
    grant = store.presign_upload(ImageType.JPEG)
    assert await upload(grant, phone_jpeg((400, 300))) == 204
    published = await store.publish(grant.key)
    # The signature's X-Amz-Date is whole seconds: a TTL of n seconds lasts between n-1 and n from now.
    url = store.presign_get(published.thumbnail_key, ttl_seconds=3)
    assert (await get(url)).status_code == 200
    await asyncio.sleep(3.5)
    expired = await get(url)
    assert expired.status_code == 403
    assert b"expired" in expired.content


async def test_an_upload_on_an_expired_grant_is_refused(store: PhotoStore) -> None:
    grant = store.presign_upload(ImageType.JPEG, ttl_seconds=1)
    await asyncio.sleep(2.5)
    status = await upload(grant, phone_jpeg((400, 300)))
    if status >= 400:  # a conforming S3 refuses it by the policy's expiration (403)
        assert not await store.exists(grant.key)
    else:  # S3Proxy 2.6.0 stores it: the store refuses it by the time it was stored
        with pytest.raises(UploadExpired):
            await store.inspect(grant.key, not_after=grant.expires_at)


async def test_a_missing_object_is_not_found(store: PhotoStore) -> None:
    missing = store.presign_upload(ImageType.JPEG).key  # granted, never uploaded
    with pytest.raises(PhotoNotFound):
        await store.inspect(missing)
    with pytest.raises(PhotoNotFound):
        await store.publish(missing)
    for key in ("../etc/passwd", "published/x.jpg", "uploads/NOT-HEX"):
        with pytest.raises(PhotoNotFound):
            await store.inspect(key)
    assert (await get(store.presign_get(f"published/{missing.removeprefix('uploads/')}.jpg"))).status_code == 404


# -- S3 stopped --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def private_s3proxy(port: int, data: Path, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """An S3Proxy of this test's own (the stack's jars, its own port and data), killed on exit."""
    libs = STACK_DIR / "s3proxy" / "libs"
    if not any(libs.glob("s3proxy-*.jar")):
        pytest.fail(f"no S3Proxy jars in {libs}: run deploy/local/stack up", pytrace=False)
    conf = data.parent / f"s3proxy-{port}.conf"
    conf.write_text(
        f"s3proxy.endpoint=http://127.0.0.1:{port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={settings().access_key_id}\n"
        f"s3proxy.credential={settings().secret_access_key.get_secret_value()}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={data}\n"
    )
    logback = REPO / "deploy" / "local" / "s3proxy" / "logback.xml"
    with logs.open("ab") as out:
        proc = subprocess.Popen(
            ["java", "-Xmx256m", f"-Dlogback.configurationFile={logback}", "-cp", f"{libs}/*",
             "org.gaul.s3proxy.Main", "--properties", str(conf)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


async def wait_ready(store: PhotoStore, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await store.ping()
            return
        except StoreUnavailable:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_s3_stopped_is_unavailable_and_nothing_is_lost(tmp_path: Path, store: PhotoStore) -> None:
    (port,) = free_ports(1)
    data, logs = tmp_path / "data", tmp_path / "s3proxy.out"
    data.mkdir()
    private = PhotoStore(settings(endpoint_url=f"http://127.0.0.1:{port}", bucket="photos", retry_after_seconds=7))
    with private_s3proxy(port, data, logs) as proc:
        await wait_ready(private, proc)
        await private.ensure_bucket()
        grant = private.presign_upload(ImageType.JPEG)
        assert await upload(grant, phone_jpeg((800, 600))) == 204
        accepted = await private.inspect(grant.key)
        waiting = private.presign_upload(ImageType.JPEG)
        assert await upload(waiting, phone_jpeg((640, 480))) == 204

    started = time.monotonic()
    for call in (private.ping(), private.ensure_bucket(), private.inspect(waiting.key), private.publish(waiting.key)):
        with pytest.raises(StoreUnavailable) as caught:
            await call
        assert caught.value.retry_after == 7
    assert time.monotonic() - started < 20  # refused connections fail fast; no minute-long retries

    with private_s3proxy(port, data, logs) as proc:
        await wait_ready(private, proc)
        assert await private.inspect(grant.key) == accepted
        published = await private.publish(waiting.key)
        assert (await get(private.presign_get(published.image_key))).status_code == 200


async def test_accept_checks_and_publishes_from_one_read(store: PhotoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an action naming a photo runs: the checks of ``inspect`` and the copies of ``publish``, on one GET."""
    grant = store.presign_upload("image/jpeg")
    assert await upload(grant, phone_jpeg()) < 300
    reads = []
    real = store._read

    async def counted(key: str) -> bytes:
        reads.append(key)
        return await real(key)

    monkeypatch.setattr(store, "_read", counted)
    info, published = await store.accept(grant.key, not_after=grant.expires_at)
    assert reads == [grant.key]
    assert info.taken_at is not None and (info.width, info.height) == (1200, 900)
    assert await store.exists(published.image_key) and await store.exists(published.thumbnail_key)
