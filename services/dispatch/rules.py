"""The dispatch rules in force (versioned in the database) and the districts' cold-snap flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.domain import Rules
from services.dispatch.models import RuleSet, WeatherFlag

# (database, version) → parsed rules: versions are numbered per database, and a process may serve two (tests run
# several dispatch apps in one process).
_RULES_CACHE: dict[tuple[str, int], Rules] = {}


async def current_rules(session: AsyncSession) -> tuple[int, Rules]:
    """The rule set in force (highest version). Parsed once per version per database per process."""
    version = await session.scalar(select(func.max(RuleSet.version)))
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
    row = RuleSet(document=rules.model_dump(mode="json"), note=note, created_by=by)
    session.add(row)
    await session.flush()
    return row.version


async def rule_history(session: AsyncSession) -> list[RuleSet]:
    return list((await session.scalars(select(RuleSet).order_by(RuleSet.version.desc()))).all())


async def set_cold_snap(
    session: AsyncSession, *, district_id: str, active: bool, until: datetime | None, by: str, at: datetime
) -> WeatherFlag:
    flag = await session.get(WeatherFlag, district_id)
    if flag is None:
        flag = WeatherFlag(district_id=district_id)
        session.add(flag)
    flag.cold_snap, flag.until, flag.set_by, flag.set_at = active, until, by, at
    return flag


async def cold_snap_active(session: AsyncSession, district_id: str, at: datetime) -> bool:
    flag = await session.get(WeatherFlag, district_id)
    return bool(flag and flag.cold_snap and (flag.until is None or flag.until > at))
