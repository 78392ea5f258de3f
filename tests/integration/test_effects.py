"""``shared.effects.apply`` on the real PostgreSQL: what follows from a change (timers, metrics, the outbox row)
exists exactly when the transaction that made the change commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, func, select

from shared.contracts.followup import VisitOverdue
from shared.db import create_engine, session_factory
from shared.effects import Arm, Effect, Stop, apply, count
from shared.outbox import OutboxWriter, messaging_tables
from shared.timers import timers_table
from tests.harness import drop_database, fresh_database, run_db

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _overdue(visit_id: str) -> VisitOverdue:
    return VisitOverdue(
        visit_id=visit_id,
        case_id="case-1",
        round=1,
        grid_id="G1",
        community_id="C1",
        street_id="S1",
        district_id="D1",
        due_at=AT - timedelta(hours=1),
        overdue_at=AT,
        attempts=0,
    )


async def test_effects_land_with_a_commit_and_vanish_with_a_rollback() -> None:
    name = run_db("effects")
    engine = create_engine(await fresh_database(name), pool_size=2)
    sessions = session_factory(engine)
    metadata = MetaData()
    outbox, _ = messaging_tables(metadata)
    timers = timers_table(metadata)
    writer = OutboxWriter(outbox=outbox, topic="heating.test", producer="test")
    moved: list[str] = []
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

        async with sessions() as session, session.begin():
            await apply(
                session,
                writer,
                Effect(
                    at=AT,
                    event=_overdue("v1"),
                    key="case-1",
                    arms=(Arm(timers, "visit_due", "v1", AT + timedelta(hours=2)),),
                    metrics=(count(moved.append, "committed"),),
                ),
            )
            assert moved == [], "a metric moves only once the transaction commits"
        assert moved == ["committed"]

        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await apply(
                    session,
                    writer,
                    Effect(
                        at=AT,
                        event=_overdue("v2"),
                        key="case-1",
                        stops=(Stop(timers, "v1", ("visit_due",)),),
                        metrics=(count(moved.append, "rolled back"),),
                    ),
                )
                raise RuntimeError("the change fails after its effects were staged")
        assert moved == ["committed"]

        async with sessions() as session:
            rows = (await session.execute(select(outbox.c.key, outbox.c.value))).all()
            assert [(key, env["payload"]["visit_id"]) for key, env in rows] == [("case-1", "v1")]
            assert await session.scalar(select(func.count()).select_from(timers).where(timers.c.ref == "v1")) == 1

        async with sessions() as session, session.begin():
            await apply(session, writer, Effect(at=AT, stops=(Stop(timers, "v1", ("visit_due",)),)))
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(timers)) == 0

        async with sessions() as session, session.begin():
            with pytest.raises(ValueError, match="needs a key"):
                await apply(session, writer, Effect(at=AT, event=_overdue("v3")))
    finally:
        await engine.dispose()
        await drop_database(name)
