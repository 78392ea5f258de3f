"""Every route's OpenAPI lists the refusals it can answer with: those of the shared plumbing, added to every route
by shared.errors.declare_refusals (413 and 408 with a body, 401 behind a credential dependency), and those of the
route's own code, held here to the authorization matrix (401, 403) and to the rate limiter's use (429)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from deploy.authz_matrix import Outcome, access
from services.dispatch.main import create_app as dispatch_app
from services.followup.main import create_app as followup_app
from services.intake.main import create_app as intake_app
from shared.errors import BODY_METHODS
from shared.http import security

APPS: dict[str, Callable[[], FastAPI]] = {"intake": intake_app, "dispatch": dispatch_app, "followup": followup_app}
# How a route spends a caller's tokens: shared.limits.RateLimiter from app.state, directly or through a helper; or
# dispatch's sign-in lockout (services.dispatch.throttle).
# Spending a rate limit, a login throttle, or a party's cap of open photo upload grants (shared.evidence).
RATE_LIMITED = re.compile(
    r"_limits\(request\)|_within_rate\(|\.rate_limits\b|throttle\.attempt\(|evidence_of\(request\)\.grant\("
)


def operations(app: FastAPI) -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    """(METHOD, path, route, its OpenAPI operation) for every documented route."""
    paths = app.openapi()["paths"]
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not getattr(route, "include_in_schema", False) or not hasattr(route, "dependant"):
            continue
        for method in sorted(set(route.methods) - {"HEAD"}):
            yield method, context.path, route, paths[context.path][method.lower()]


def depends_on(dependant: Any, call: Callable[..., Any]) -> bool:
    return any(d.call is call or depends_on(d, call) for d in dependant.dependencies)


def cases() -> list[tuple[str, str, str, Any, dict[str, Any]]]:
    return [(name, m, path, route, op) for name, make in APPS.items() for m, path, route, op in operations(make())]


CASES = cases()
IDS = [f"{name} {method} {path}" for name, method, path, _, _ in CASES]


def test_the_walk_sees_every_service_and_kind_of_route() -> None:
    assert {name for name, *_ in CASES} == set(APPS)
    assert sum(1 for _, m, *_ in CASES if m in BODY_METHODS) >= 20
    assert sum(1 for *_, route, _ in CASES if depends_on(route.dependant, security.bearer)) >= 25


@pytest.mark.parametrize(("service", "method", "path", "route", "op"), CASES, ids=IDS)
def test_a_route_lists_what_it_can_be_refused_with(
    service: str, method: str, path: str, route: Any, op: dict[str, Any]
) -> None:
    listed = {int(s) for s in op["responses"] if s.isdigit()}
    expected: set[int] = set()
    if method in BODY_METHODS:
        expected |= {408, 413}  # shared.slow_requests.BodyDeadline, shared.limits.BodyLimit
    if depends_on(route.dependant, security.bearer) or depends_on(route.dependant, security.admin):
        expected.add(401)
    cells = access(service, f"{method} {path}")
    assert cells is not None, f"{method} {path} has no row in deploy/authz_matrix.py"
    outcomes = {o for cell in cells.values() for o in (cell.own, cell.foreign)}
    if Outcome.UNAUTHENTICATED in outcomes:
        expected.add(401)
    if Outcome.FORBIDDEN in outcomes:
        expected.add(403)
    elif 403 in listed:
        pytest.fail(f"{method} {path} lists 403, which the authorization matrix never gives")
    source = inspect.getsource(route.endpoint)
    if RATE_LIMITED.search(source):
        expected.add(429)
    elif 429 in listed:
        pytest.fail(f"{method} {path} lists 429 but spends no rate limit")
    assert expected <= listed, f"{method} {path} does not list {sorted(expected - listed)}"


def test_the_plumbings_refusals_come_in_the_error_format() -> None:
    doc = intake_app().openapi()
    op = doc["paths"]["/v1/grid-reports"]["post"]
    for status in ("408", "413", "401"):
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}, status
    assert "ErrorOut" in doc["components"]["schemas"]
    assert "did not arrive in time" in op["responses"]["408"]["description"]
    # A status a route declares itself is kept as declared: Open311's 429 and 413 are in the spec's error list
    # (the body limit renders its 413 there too: shared.limits.speak_refusals).
    open311 = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]["responses"]
    for status in ("429", "413"):
        assert open311[status]["content"]["application/json"]["schema"] != {"$ref": "#/components/schemas/ErrorOut"}


def test_an_admin_route_gets_401_without_declaring_it() -> None:
    from fastapi import APIRouter

    from shared.errors import declare_refusals

    router = APIRouter()

    @router.put("/admin/thing", dependencies=[security.AdminOnly])
    async def put_thing() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/v1/mine")
    async def mine(principal: security.CurrentPrincipal) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.get("/v1/open")
    async def open_to_all() -> dict[str, bool]:
        return {"ok": True}

    declare_refusals(router.routes, credentials=(security.bearer, security.admin))
    app = FastAPI()
    app.include_router(router)
    paths = app.openapi()["paths"]
    assert {"401", "408", "413"} <= set(paths["/admin/thing"]["put"]["responses"])
    assert "401" in paths["/v1/mine"]["get"]["responses"]
    assert "413" not in paths["/v1/mine"]["get"]["responses"]
    assert set(paths["/v1/open"]["get"]["responses"]) == {"200"}
