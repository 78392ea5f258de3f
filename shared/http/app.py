"""A service's FastAPI app, assembled: its runtime's lifespan, the shared middleware and operational endpoints,
the error format, its routers, and the context its handlers depend on (shared.http.context)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shared import docs_ui, errors
from shared.http import security
from shared.http.context import ServiceContext
from shared.http.middleware import HttpMetrics, RequestContext, bind_path_ids
from shared.limits import BodyLimit
from shared.runtime import ServiceRuntime
from shared.slow_requests import BodyDeadline


def build_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    context: ServiceContext,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """The service's FastAPI app: lifespan, ops endpoints, error format, routers, and the ``context`` its
    handlers depend on (shared.http.context).

    ``body_limits``: path prefix → the most bytes a request body may have there, where a route needs more (or
    less) than ``max_body_bytes``; ``/admin/`` gets ``max_admin_body_bytes``."""
    # /docs from the service's own files (shared.docs_ui), not FastAPI's pages, which load from a public CDN.
    app = FastAPI(
        title=title, description=description, version="0.1.0", lifespan=runtime.lifespan, docs_url=None, redoc_url=None
    )
    docs_ui.install(app)
    app.state.context = context
    install(runtime, app, body_limits=body_limits)
    errors.install(app)
    for router in routers:
        # Every route's OpenAPI lists the refusals of the shared plumbing (413, 408; 401 behind a credential).
        errors.declare_refusals(router.routes, credentials=(security.bearer, security.admin))
        app.include_router(router)
    if runtime.settings.cors_origins:
        # Bearer tokens travel in a header, never in cookies: no credentials mode.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=runtime.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "Idempotent-Replayed", "X-Request-ID"],
            max_age=600,
        )
    return app


def install(runtime: ServiceRuntime, app: FastAPI, *, body_limits: Mapping[str, int] | None = None) -> None:
    """The shared plumbing of every service app: body limits and deadlines, metrics, request ids, and the
    operational endpoints (/healthz, /readyz, /metrics)."""
    s = runtime.settings
    service = s.service_name

    # Added first, so it runs inside HttpMetrics: a refused body is counted as the 413 it is.
    app.add_middleware(
        BodyLimit,
        service=service,
        default=s.max_body_bytes,
        limits={"/admin/": s.max_admin_body_bytes, **(body_limits or {})},
    )
    # Outside BodyLimit, so a body that stalls while a refused one is drained still ends; inside HttpMetrics, so a
    # 408 is counted.
    app.add_middleware(BodyDeadline, seconds=s.http_request_timeout_seconds)
    app.add_middleware(HttpMetrics, service=service)
    app.add_middleware(RequestContext)  # outermost: every log line of the request carries its id
    app.router.dependencies.append(Depends(bind_path_ids))

    @app.get("/healthz", tags=["ops"], summary="Process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Database and Kafka reachable, consumers running",
        responses={
            503: {"description": "Not ready: the checks that failed are false", "content": {"application/json": {}}}
        },
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
