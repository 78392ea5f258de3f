"""What a service's request handlers depend on, typed: one ``ServiceContext`` (a service extends it with its own
parts) built by the service's composition root (``main.py``), kept on the app, and read by ``context_of`` alone.
Each service's ``deps.py`` turns it into the dependencies its routes declare (``Session``, ``Writer``, ``Now`` …),
as full-stack-fastapi-template does with ``SessionDep`` and ``CurrentUser``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from shared.auth import Auth
from shared.clock import TimeSource
from shared.evidence import Evidence
from shared.runtime import ServiceRuntime


@dataclass(eq=False, kw_only=True)
class ServiceContext:
    runtime: ServiceRuntime
    clock: TimeSource
    auth: Auth  # how bearer tokens are checked (shared.http.security)
    evidence: Evidence | None = None  # where its actions' photos are kept, for a service that takes photos


def context_of(request: Request | Any) -> ServiceContext:
    """The app's context (a request's, or a websocket's)."""
    context: ServiceContext = request.app.state.context
    return context
