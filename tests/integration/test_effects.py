"""``shared.effects.apply`` on the real PostgreSQL: what follows from a change (timers, metrics, the outbox row)
exists exactly when the transaction that made the change commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, func, select, update

from shared.contracts.followup import VisitOverdue
from shared.db import create_engine, session_factory
from shared.effects import Arm, Effect, Stop, apply, count
from shared.events import Envelope
from shared.outbox import OutboxWriter, add_events, messaging_tables
from shared.timers import schedule, schedule_many, timers_table
from tests.harness import drop_database, fresh_database, run_db, statements_of

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


async def test_many_timers_are_armed_in_one_statement_and_a_moved_one_is_armed_again() -> None:
    """``timers.schedule_many``: every row in one statement (the rows as arrays); a timer named twice ends as its last
    row says, as two ``schedule`` calls would leave it; one that had fired, moved, fires again; payloads keep their
    Chinese text as it was."""
    name = run_db("effects_many")
    engine = create_engine(await fresh_database(name), pool_size=2)
    sessions = session_factory(engine)
    metadata = MetaData()
    timers = timers_table(metadata)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with sessions() as session, session.begin():
            await schedule(session, timers, kind="visit_due", ref="v1", due_at=AT, payload={"note": "旧"})
            await session.execute(update(timers).where(timers.c.ref == "v1").values(fired_at=AT, attempts=2))
        with statements_of(engine) as sent:
            async with sessions() as session, session.begin():
                await sent.watch(session)
                await schedule_many(
                    session,
                    timers,
                    [
                        {
                            "kind": "visit_due",
                            "ref": "v1",
                            "due_at": AT + timedelta(hours=1),
                            "payload": {"note": "新"},
                        },
                        {"kind": "visit_due", "ref": "v2", "due_at": AT + timedelta(hours=2), "payload": {}},
                        {"kind": "visit_due", "ref": "v2", "due_at": AT + timedelta(hours=3), "payload": {"n": 3}},
                        {"kind": "overdue", "ref": "v2", "due_at": AT + timedelta(hours=4), "payload": {}},
                    ],
                )
        assert sent.count("INSERT INTO timers") == 1
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(
                        timers.c.kind,
                        timers.c.ref,
                        timers.c.due_at,
                        timers.c.payload,
                        timers.c.fired_at,
                        timers.c.attempts,
                    ).order_by(timers.c.due_at)
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("visit_due", "v1", AT + timedelta(hours=1), {"note": "新"}, None, 0),
            ("visit_due", "v2", AT + timedelta(hours=3), {"n": 3}, None, 0),
            ("overdue", "v2", AT + timedelta(hours=4), {}, None, 0),
        ]
    finally:
        await engine.dispose()
        await drop_database(name)


async def test_events_staged_together_are_numbered_in_the_order_given() -> None:
    """``outbox.add_events``: several events in one statement, each row numbered (and so published) in the order
    the caller gave, its envelope stored whole."""
    name = run_db("effects_outbox")
    engine = create_engine(await fresh_database(name), pool_size=2)
    sessions = session_factory(engine)
    metadata = MetaData()
    outbox, _ = messaging_tables(metadata)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        envelopes = [
            Envelope.wrap(_overdue(f"v{n}"), correlation_id="case-1", producer="test", occurred_at=AT) for n in range(6)
        ]
        async with sessions() as session, session.begin():
            await add_events(
                session, outbox, topic="heating.test", keyed=[(f"k{n % 2}", e) for n, e in enumerate(envelopes)]
            )
        async with sessions() as session:
            rows = (
                await session.execute(select(outbox.c.event_id, outbox.c.key, outbox.c.value).order_by(outbox.c.id))
            ).all()
        assert [r.event_id for r in rows] == [e.event_id for e in envelopes]
        assert [r.key for r in rows] == ["k0", "k1"] * 3
        assert [Envelope.model_validate(r.value) for r in rows] == envelopes
    finally:
        await engine.dispose()
        await drop_database(name)
