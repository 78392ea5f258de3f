"""No route of the three services runs a plain function as a dependency or as its endpoint: FastAPI runs those on
a worker thread, a hop to another thread and back (and a wait for the GIL) per request, which under load costs more
than what such a dependency does (reading an attribute of the service's context)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app as dispatch_app
from services.followup.config import FollowupSettings
from services.followup.main import create_app as followup_app
from services.intake.config import IntakeSettings
from services.intake.main import create_app as intake_app


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _routes(router.routes)


def _plain(dependant: Any) -> Iterator[str]:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)):
            yield getattr(call, "__qualname__", repr(call))
        yield from _plain(sub)


APPS = {
    "intake": lambda: intake_app(IntakeSettings()),
    "dispatch": lambda: dispatch_app(DispatchSettings()),
    "followup": lambda: followup_app(FollowupSettings()),
}


@pytest.mark.parametrize("service", APPS)
def test_every_dependency_and_endpoint_is_a_coroutine(service: str) -> None:
    app: FastAPI = APPS[service]()
    routes = list(_routes(app.routes))
    assert len(routes) > 15  # the included routers were walked, not only the app's own few routes
    found = {
        f"{route.path}: {name}"
        for route in routes
        for name in [*_plain(route.dependant), *([] if inspect.iscoroutinefunction(route.endpoint) else ["endpoint"])]
    }
    assert not found, sorted(found)
