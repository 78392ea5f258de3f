"""The Open311 calls under ``/open311/v2/``: who may submit (``api_key`` and its rate), what each call answers and
how it is documented; every answer, refusals included, goes through the wire format (``wire.respond``)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from services.intake import texts
from services.intake.config import OPEN311
from services.intake.deps import intake_context, sessions_of
from services.intake.open311.catalog import ATTRIBUTES, category_of, service_list
from services.intake.open311.service_requests import create_request, get_request, list_requests
from services.intake.open311.wire import PREFIX, Open311Error, read_params, render, respond
from shared.limits import retry_after

router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])


def _client(request: Request, api_key: str) -> str:
    keys = intake_context(request).settings.open311_api_keys or {}
    for client_id, secret in keys.items():
        if api_key and hmac.compare_digest(api_key.encode(), secret.get_secret_value().encode()):
            return str(client_id)
    raise Open311Error(403, texts.OPEN311_BAD_API_KEY)


async def _within_rate(request: Request, client_id: str) -> None:
    """The api_key's rate limit, refused in the spec's error format (429 with Retry-After)."""
    limits = intake_context(request).rate_limits
    wait = await limits.wait(OPEN311, client_id)
    if wait > 0:
        seconds = retry_after(wait)
        raise Open311Error(
            429, texts.OPEN311_RATE_LIMITED.format(seconds=seconds), headers={"Retry-After": str(seconds)}
        )


class Open311ErrorOut(BaseModel):
    code: int = Field(description="The HTTP status.")
    description: str = Field(description="What went wrong, in Chinese with the English gist.")


_XML: dict[str, Any] = {"content": {"text/xml": {}}}
_ANSWER = {**_XML, "description": "JSON or XML, as the path's suffix says"}
_REFUSALS = {
    400: "Bad format suffix, parameter or value",
    403: "api_key missing or not valid",
    404: "No such service or service request",
    408: "The request body did not arrive in time (the connection is closed)",
    413: "Request body too large",
    429: "Too many requests for this api_key (Retry-After)",
    500: "Internal error",
}


def _answers(*statuses: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    """The documented answers of an Open311 call: JSON or XML, errors in the spec's list of ``{code, description}``."""
    answers: dict[int | str, dict[str, Any]] = {ok: _ANSWER}
    for s in statuses:
        answers[s] = {**_XML, "model": list[Open311ErrorOut], "description": _REFUSALS[s]}
    return answers


@router.get("/services.{fmt}", summary="GET Service List", responses=_answers(400))
async def services_(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        return render(f, "services", service_list())

    return await respond(request, fmt, work)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition", responses=_answers(400, 404))
async def service_definition(request: Request, service_code: str, fmt: str) -> Response:
    async def work(f: str) -> Response:
        category = category_of(service_code)
        return render(f, "service_definition", {"service_code": category.value, "attributes": ATTRIBUTES})

    return await respond(request, fmt, work)


_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "api_key",
                            "jurisdiction_id",
                            "service_code",
                            "address_id",
                            "attribute[household_id]",
                            "attribute[building_id]",
                            "attribute[measured_temp_c]",
                            "description",
                            "media_url",
                            "lat",
                            "long",
                            "address_string",
                            "email",
                            "device_id",
                            "account_id",
                            "first_name",
                            "last_name",
                            "phone",
                        )
                    },
                }
            }
        }
    }
}


@router.post(
    "/requests.{fmt}",
    summary="POST Service Request",
    status_code=201,
    openapi_extra=_FORM,
    responses=_answers(400, 403, 408, 413, 429, ok=201),
)
async def post_request(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        params = await read_params(request)
        client_id = _client(request, params.get("api_key", ""))
        await _within_rate(request, client_id)
        ctx = intake_context(request)
        async with sessions_of(request)() as session, session.begin():
            created = await create_request(
                session,
                ctx.intake,
                params,
                client_id=client_id,
                at=ctx.clock.now(),
            )
        return render(f, "service_requests", [created], status=201)

    return await respond(request, fmt, work)


@router.get("/requests.{fmt}", summary="GET Service Requests", responses=_answers(400))
async def get_requests(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        params = await read_params(request)
        async with sessions_of(request)() as session:
            views = await list_requests(session, params, now=intake_context(request).clock.now())
        return render(f, "service_requests", views)

    return await respond(request, fmt, work)


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request", responses=_answers(400, 404))
async def get_one(request: Request, service_request_id: str, fmt: str) -> Response:
    async def work(f: str) -> Response:
        async with sessions_of(request)() as session:
            view = await get_request(session, service_request_id)
        return render(f, "service_requests", [view])

    return await respond(request, fmt, work)
