"""Async SQLAlchemy engine and session factory. Nothing connects at import time."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping`` tests each connection as it leaves the pool; with asyncpg that is three round trips (BEGIN, a
    ping, ROLLBACK). Without it a connection broken by a database restart fails once and the pool then discards
    every connection older than the failure.

    ``hide_parameters``: a failed statement's error names the SQL but not its values, so a traceback in a log or a
    dead letter's ``dlq.error`` never carries a resident's name, phone number or free text."""
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping, hide_parameters=True
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
