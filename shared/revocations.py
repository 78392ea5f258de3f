"""Token versions of console accounts as intake and follow-up learn them from dispatch (``AccountTokensRevoked``):
one small table per service, read by ``shared.auth.TokenVersions`` on a request and written by the consumer.

An account the service has not heard of has version 0, so its tokens pass until dispatch revokes some; dispatch
itself checks its own accounts table, where an unknown or deactivated account's tokens fail at once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Auth, TokenVersions, VersionLookup, verifier_from_settings
from shared.consumer import Handler
from shared.contracts.dispatch import AccountTokensRevoked
from shared.events import Envelope
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


def token_versions_table(metadata: MetaData) -> Table:
    return Table(
        "account_token_versions",
        metadata,
        Column("account", String(64), primary_key=True),
        Column("token_version", Integer, nullable=False),
        Column("revoked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def lookup(sessions: Callable[[], async_sessionmaker[AsyncSession] | None], table: Table) -> VersionLookup:
    """``sessions``: the runtime's session factory, read at call time (it exists once the service started)."""

    async def current(account: str) -> int | None:
        factory = sessions()
        assert factory is not None, "the service has not started"
        async with factory() as session:
            version = await session.scalar(select(table.c.token_version).where(table.c.account == account))
        return int(version or 0)

    return current


def handler(table: Table) -> Handler:
    """Consumer of ``AccountTokensRevoked``: keeps the highest version heard (events may arrive out of order)."""

    async def on_revoked(session: AsyncSession, _: Envelope, e: AccountTokensRevoked) -> None:
        stmt = insert(table).values(account=e.account, token_version=e.token_version, revoked_at=e.revoked_at)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.account],
                set_={"token_version": func.greatest(table.c.token_version, stmt.excluded.token_version)},
            )
        )

    return on_revoked


def auth_of(settings: ServiceSettings, runtime: ServiceRuntime, table: Table) -> Auth:
    """Intake's and follow-up's ``auth`` (their context's, shared.http.context): the settings' key set, and the
    versions in ``table``."""
    return Auth(
        verifier_from_settings(settings),
        TokenVersions(lookup(lambda: runtime.sessions, table), ttl_seconds=settings.auth_revocation_cache_seconds),
    )
