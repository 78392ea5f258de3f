"""Request dependencies every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.context import context_of


async def _transaction(request: Request) -> AsyncIterator[AsyncSession]:
    sessions = context_of(request).runtime.sessions
    assert sessions is not None, "the service is not started"
    async with sessions() as session, session.begin():
        yield session


# FastAPI dependency: one session per request, in one transaction committed when the endpoint returns — before the
# response is sent (scope "function"; the default, "request", commits after it is sent, so a commit that fails, or a
# process killed in between, would leave a 2xx for something that was never stored).
Transaction = Annotated[AsyncSession, Depends(_transaction, scope="function")]
