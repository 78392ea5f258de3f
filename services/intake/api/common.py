"""What the intake API's routers share: the request's transaction, bounded query parameters, the clock check of
a time the caller observed, and bodies read from raw bytes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

from services.intake import texts
from services.intake.deps import intake_context
from shared.errors import ApiError
from shared.http.deps import Transaction
from shared.inputs import not_in_future

M = TypeVar("M", bound=BaseModel)
IdQuery = Annotated[str | None, Query(max_length=64)]
OrderQuery = Annotated[str | None, Query(max_length=80)]


def _ascii_digits(value: Any) -> Any:
    """A number read from a query string in ASCII digits only: pydantic's lax int also reads ``1_0``, `` 10``,
    ``+10`` and ``10.0``."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise PydanticCustomError("ascii_int", "Input should be a whole number in ASCII digits")
    return value


CountQuery = Annotated[int, Query(ge=1, le=1000), BeforeValidator(_ascii_digits)]


Session = Transaction


def not_future(request: Request, at: datetime | None, field: str) -> None:
    """A time the caller observed lies no later than the service's clock plus the allowed skew, else 422."""
    ctx = intake_context(request)
    skew = ctx.settings.max_clock_skew_seconds
    if at is not None and not not_in_future(at, now=ctx.clock.now(), skew_seconds=skew):
        raise ApiError(422, "in_future", texts.IN_FUTURE.format(seconds=skew), field)


def parse_body(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions inlined: bodies read from raw bytes (to check a signature, or
    to parse thousands of readings at once) are documented through ``openapi_extra``, outside FastAPI's components."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined
