"""Photos accepted per second, beside a raw S3 PUT of the same bytes in the same run.

What a phone's photo costs the server, on the stack's real S3 server (S3Proxy): an upload grant through the API
(``POST /v1/photos/uploads`` of the intake app in this process: a presigned POST and a row), the phone's upload
straight to S3, and the acceptance when an action names it (``Evidence.accept``: HEAD, GET, magic bytes, a full
decode, the EXIF time, a re-encoded copy without EXIF and a 320 px thumbnail, two PUTs, the row). The baseline is
``put_object`` of the same JPEG with the same boto3 settings, through the same thread pool: S3's own floor.

    python -m bench --only photos
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from bench.intake_common import Figures, drive, running_intake
from deploy.field_photo import field_jpeg
from services.intake.deps import IntakeContext
from services.intake.models import Photo
from shared.auth import Principal, Role, TokenIssuer
from shared.evidence import Evidence
from shared.photos import PhotoStore
from shared.settings import DEV_AUTH_PRIVATE_KEY

PHONE_PX = (1600, 1200)  # what the field app sends: the long side shrunk to 1600 px


async def measure(total: int, concurrency: int) -> dict[str, Any]:
    photo = field_jpeg(datetime.now(UTC), size=PHONE_PX, grain=24)  # grain: a camera's noise, a real photo's weight
    worker = Principal(role=Role.GRID_WORKER, sub="GW-BENCH", scope="G-B-01")
    token = TokenIssuer(DEV_AUTH_PRIVATE_KEY).issue(worker, ttl_seconds=3600)
    auth = {"Authorization": f"Bearer {token}"}
    async with running_intake("photos") as (app, http, _db):
        context: IntakeContext = app.state.context
        assert context.evidence is not None
        evidence: Evidence = context.evidence
        store: PhotoStore = evidence.store
        await store.ensure_bucket()
        keys: list[str] = [""] * total
        async with httpx.AsyncClient(timeout=30) as s3:

            async def grant_and_upload(i: int) -> None:
                r = await http.post("/v1/photos/uploads", json={"content_type": "image/jpeg"}, headers=auth)
                r.raise_for_status()
                grant = r.json()
                up = await s3.post(grant["url"], data=grant["fields"], files={"file": ("p.jpg", photo, "image/jpeg")})
                up.raise_for_status()
                keys[i] = grant["key"]

            uploaded = await drive(total, concurrency, grant_and_upload)
        sessions = context.runtime.sessions
        assert sessions is not None

        async def accept(i: int) -> None:
            async with sessions() as session, session.begin():
                now = datetime.now(UTC)
                await evidence.accept(
                    session, [keys[i]], principal=worker, subject=f"bench:{i}", case_id=None, window=(now, now)
                )

        accepted = await drive(total, concurrency, accept)
        raw_keys = [f"bench/raw-{i}-{time.time_ns()}" for i in range(total)]

        async def raw_put(i: int) -> None:
            await store._call(  # the store's own client and thread pool: the same path to S3
                store._s3.put_object,
                Bucket=store.settings.bucket,
                Key=raw_keys[i],
                Body=photo,
                ContentType="image/jpeg",
            )

        raw = await drive(total, concurrency, raw_put)
        for key in raw_keys:
            await store._call(store._s3.delete_object, Bucket=store.settings.bucket, Key=key)
        async with sessions() as session, session.begin():  # the bucket is shared: leave nothing behind
            await evidence.forget(session, select(Photo.key).where(Photo.key.in_(keys)), limit=total)
    return {
        "photos": total,
        "concurrency": concurrency,
        "photo_bytes": len(photo),
        "upload": _fig(uploaded),
        "accept": _fig(accepted),
        "raw_put": _fig(raw),
    }


def _fig(f: Figures) -> dict[str, float]:
    return {"rate": f.rate, "p50_ms": f.pct(0.50), "p99_ms": f.pct(0.99), "n": f.count, "seconds": f.seconds}


if __name__ == "__main__":
    print(asyncio.run(measure(40, 4)))
