"""Rate-limit buckets in the service's own PostgreSQL, so that every replica spends one budget per caller.

A request's token is taken by one statement, ``INSERT … ON CONFLICT DO UPDATE … RETURNING``, that creates the
caller's bucket full less one, or refills it for the time since it was counted and takes a token if one is there
(``shared.limits.Bucket.take``, written in SQL). Two replicas taking from one bucket at once are serialized by the
row's lock, so neither can spend a token the other spent.

The statement runs on a connection of its own in autocommit, not in the request's transaction:

- a token taken stays taken when the request then fails or rolls back (a caller sending bad requests is limited
  like any other, as it always was in memory);
- the row lock is held for one statement, not for the whole request: inside the request's transaction one 12345
  platform's orders would wait for each other's registry reads, inserts and commit, across every replica;
- the table is UNLOGGED: a transaction that wrote nothing else writes no WAL to flush at commit, so the lock is
  released as soon as the row is written. A crash of PostgreSQL empties the table (every bucket full again, what
  a restart of the services did before) and a standby does not have it; neither matters for a rate limit.

The check runs before the request's transaction has used its connection (the routes check the rate right after
authenticating, before any statement of their own), so a request never holds one pooled connection while waiting
for another.

Rows of callers who stopped calling are deleted by ``prune`` (a background job of the service): a bucket counted
``burst / per_second`` seconds ago is full, the same as no row. The table has no index on the time it was counted,
so each take can be a HOT update of the row in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Column, DateTime, Double, MetaData, String, Table, Text, delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.limits import Rate, wait_for


def rate_buckets_table(metadata: MetaData) -> Table:
    return Table(
        "rate_buckets",
        metadata,
        Column("kind", String(32), primary_key=True),
        Column("caller", Text, primary_key=True),
        Column("tokens", Double, nullable=False),
        Column("counted_at", DateTime(timezone=True), nullable=False),
        Column("granted", Boolean, nullable=False),  # the last take's answer: RETURNING sees only the new row
        prefixes=["UNLOGGED"],
    )


# Bucket.take in SQL. In DO UPDATE, ``b`` is the row as it was and EXCLUDED the proposed row (counted_at = :now).
_REFILLED = """LEAST(
    CAST(:burst AS double precision),
    b.tokens + CAST(EXTRACT(EPOCH FROM GREATEST(b.counted_at, EXCLUDED.counted_at) - b.counted_at) AS double precision)
        * CAST(:per_second AS double precision)
)"""
TAKE = text(
    f"""
INSERT INTO rate_buckets AS b (kind, caller, tokens, counted_at, granted)
VALUES (:kind, :caller, CAST(:burst AS double precision) - 1, :now, true)
ON CONFLICT (kind, caller) DO UPDATE SET
    tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
    counted_at = GREATEST(b.counted_at, EXCLUDED.counted_at),
    granted = {_REFILLED} >= 1
RETURNING tokens, granted
"""
)


class SharedBuckets:
    """``shared.limits.BucketStore`` in ``table`` (``rate_buckets_table``) of the database of ``engine``, a
    callable read at call time (the engine exists once the service has started)."""

    def __init__(self, table: Table, engine: Callable[[], AsyncEngine | None]) -> None:
        self.table = table
        self._engine = engine
        self._autocommit: AsyncEngine | None = None

    def _autocommitting(self) -> AsyncEngine:
        engine = self._engine()
        assert engine is not None, "the service has not started"
        if self._autocommit is None or self._autocommit.pool is not engine.pool:
            # The same pool; each statement is its own transaction, with no BEGIN or COMMIT round trip.
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit

    async def take(self, kind: str, key: str, rate: Rate, now: datetime) -> float:
        params = {"kind": kind, "caller": key, "burst": float(rate.burst), "per_second": rate.per_second, "now": now}
        async with self._autocommitting().connect() as conn:
            tokens, granted = (await conn.execute(TAKE, params)).one()
        return 0.0 if granted else wait_for(tokens, rate)

    async def prune(self, rates: Mapping[str, Rate], now: datetime) -> int:
        """Deletes the buckets full by ``now``. A take racing with it either comes first (its row is then recent and
        stays) or finds no row and starts a full bucket, which is what the deleted row held."""
        deleted = 0
        async with self._autocommitting().connect() as conn:
            for kind, rate in rates.items():
                full_since = now - timedelta(seconds=rate.refill_seconds)
                t = self.table
                result = await conn.execute(delete(t).where(t.c.kind == kind, t.c.counted_at <= full_since))
                deleted += result.rowcount
        return deleted
