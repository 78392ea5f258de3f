"""The dispatch rules in force (versioned in the database) and the districts' cold-snap flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import texts
from services.dispatch.domain import Rules
from services.dispatch.models import RuleSet, WeatherFlag
from shared.db import forget, once_per_transaction
from shared.errors import NotFound

# (database, version) → parsed rules: versions are numbered per database, and a process may serve two (tests run
# several dispatch apps in one process).
_RULES_CACHE: dict[tuple[str, int], Rules] = {}
_IN_FORCE = "rules.in_force"  # the transaction's memo of the version in force (``once_per_transaction``)


async def current_rules(session: AsyncSession) -> tuple[int, Rules]:
    """The rule set in force (the one activated last), read once per transaction (a batch of events opens its cases
    on one version). Parsed once per version per database per process."""

    async def read() -> int | None:
        return await session.scalar(in_force())

    version = await once_per_transaction(session, _IN_FORCE, read)
    if version is None:
        raise RuntimeError("no dispatch rules loaded")
    bind = session.get_bind()
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    key = (url.render_as_string(hide_password=True), version)
    if key not in _RULES_CACHE:
        doc = await session.scalar(select(RuleSet.document).where(RuleSet.version == version))
        _RULES_CACHE[key] = Rules.model_validate(doc)
    return version, _RULES_CACHE[key]


async def ensure_rules(session: AsyncSession, *, default: Rules) -> int:
    """At start: load the shipped rules when the database has none yet."""
    version: int | None = await session.scalar(select(func.max(RuleSet.version)))
    if version is not None:
        return version
    return await put_rules(session, rules=default, note="rules.yaml", by="startup")


async def put_rules(session: AsyncSession, *, rules: Rules, note: str, by: str) -> int:
    # In force at once: activated now (the statement's time, later than any activation before it).
    row = RuleSet(document=rules.model_dump(mode="json"), note=note, created_by=by, activated_at=func.clock_timestamp())
    session.add(row)
    await session.flush()
    forget(session, _IN_FORCE)
    return row.version


def in_force() -> Select[int]:
    """The version in force: the one activated last (a version stored is activated at once)."""
    return select(RuleSet.version).order_by(RuleSet.activated_at.desc(), RuleSet.version.desc()).limit(1)


async def activate(session: AsyncSession, *, version: int) -> RuleSet:
    """Put a stored version back in force (a rollback), at once on every replica: each reads the version in force per
    transaction (a batch of events already under way finishes on the version it read). Activating the version
    already in force changes nothing."""
    row = await session.get(RuleSet, version, with_for_update=True)
    if row is None:
        raise NotFound("rules", texts.RULES_VERSION_NOT_FOUND)
    if await session.scalar(in_force()) != version:
        now: datetime | None = await session.scalar(select(func.clock_timestamp()))
        assert now is not None
        row.activated_at = now
        forget(session, _IN_FORCE)
    return row


async def rule_history(session: AsyncSession) -> list[RuleSet]:
    """Every version, the one in force first, then the others by when they were last in force."""
    q = select(RuleSet).order_by(RuleSet.activated_at.desc(), RuleSet.version.desc())
    return list((await session.scalars(q)).all())


async def set_cold_snap(
    session: AsyncSession, *, district_id: str, active: bool, until: datetime | None, by: str, at: datetime
) -> WeatherFlag:
    flag = await session.get(WeatherFlag, district_id)
    if flag is None:
        flag = WeatherFlag(district_id=district_id)
        session.add(flag)
    flag.cold_snap, flag.until, flag.set_by, flag.set_at = active, until, by, at
    forget(session, ("weather", district_id))
    return flag


async def cold_snap_active(session: AsyncSession, district_id: str, at: datetime) -> bool:
    """Whether the district's cold-snap flag stands at ``at``; the flag read once per transaction."""

    async def read() -> tuple[bool, datetime | None]:
        flag = await session.get(WeatherFlag, district_id)
        return (bool(flag.cold_snap), flag.until) if flag is not None else (False, None)

    cold_snap, until = await once_per_transaction(session, ("weather", district_id), read)
    return cold_snap and (until is None or until > at)
