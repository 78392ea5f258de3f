"""Replicas starting together each run their service's migrations on start: under the advisory lock the first
migrates and the others wait, then find the database at head. Without it, upgrades of a fresh database race on the
same DDL and a replica fails to start. The replicas are processes, as in production (Alembic's context is global
to a process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
from alembic.script import ScriptDirectory

from deploy.local.services import REPO
from services.dispatch.main import MIGRATIONS
from shared import migrate
from tests.harness import PG_PORT, check_stack, drop_database, fresh_database, run_db

REPLICAS = 4
# Each replica waits for the go file, so all of them reach their upgrade at the same moment.
REPLICA = """
import sys, time
from pathlib import Path
from shared import migrate
from services.dispatch.main import MIGRATIONS
ready, go, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ready.touch()
while not go.exists():
    time.sleep(0.005)
migrate.upgrade(MIGRATIONS, url)
"""


def test_replicas_migrating_a_fresh_database_at_once_all_start(tmp_path: Path) -> None:
    asyncio.run(check_stack())
    db = run_db("migrate_race")
    url = asyncio.run(fresh_database(db))
    go = tmp_path / "go"
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", REPLICA, str(tmp_path / f"ready-{i}"), str(go), url],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for i in range(REPLICAS)
        ]
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{i}").exists() for i in range(REPLICAS)):
            assert time.monotonic() < deadline, "the replicas did not start"
            time.sleep(0.01)
        go.touch()
        outcomes = [(p.wait(timeout=120), p.stdout.read().decode() if p.stdout else "") for p in procs]
        failed = [out[-3000:] for code, out in outcomes if code != 0]
        assert not failed, f"{len(failed)} of {REPLICAS} replicas failed to migrate:\n" + "\n---\n".join(failed)
        assert asyncio.run(versions(db)) == [
            ScriptDirectory.from_config(migrate.config(MIGRATIONS, url)).get_current_head()
        ]
    finally:
        asyncio.run(drop_database(db))


async def versions(db: str) -> list[str]:
    conn = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database=db)
    try:
        return [r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()
