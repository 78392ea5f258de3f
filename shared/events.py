"""The event envelope carried on every Kafka message, and the registry of known event types.

An event on the wire is JSON: the envelope fields plus ``payload``. Changes to a payload are additive;
consumers ignore unknown fields; an unknown ``event_type`` or ``schema_version`` is a poison message.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

MAX_EVENT_BYTES = 256 * 1024


class BadEvent(Exception):
    """A message that can never be processed: it goes to the dead-letter topic with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses name themselves with ``event_type`` and register on import."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    registry: ClassVar[dict[str, type[EventPayload]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("event_type")
        if name:
            existing = EventPayload.registry.get(name)
            if existing is not None and existing is not cls:
                raise TypeError(f"event type {name} registered twice")
            EventPayload.registry[name] = cls


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(description="Unique id of this fact; consumers record it to drop redeliveries.")
    event_type: str = Field(description="Name of the fact, past tense, e.g. CaseAssigned.")
    schema_version: int = Field(ge=1, description="Version of the payload schema for this event type.")
    occurred_at: AwareDatetime = Field(description="When the fact happened (UTC).")
    correlation_id: str = Field(description="The case id, or the report id before a case exists.")
    producer: str = Field(description="Service that produced the event.")
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        correlation_id: str,
        producer: str,
        occurred_at: datetime,
        event_id: UUID | None = None,
    ) -> Self:
        return cls(
            event_id=event_id or uuid4(),
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            producer=producer,
            payload=payload.model_dump(mode="json"),
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    def open(self) -> EventPayload:
        """Validate the payload against its registered model; raise BadEvent when it cannot be trusted."""
        model = EventPayload.registry.get(self.event_type)
        if model is None:
            # Not echoed: the name is the sender's text, and the dead letter keeps the message as it came.
            raise BadEvent("unknown_event_type", "the event type is not one of the registered contracts")
        if self.schema_version != model.schema_version:
            raise BadEvent(
                "unsupported_schema_version",
                f"{self.event_type} v{self.schema_version}, this consumer reads v{model.schema_version}",
            )
        try:
            return model.model_validate(self.payload)
        except ValidationError as exc:
            raise BadEvent("invalid_payload", _short(exc)) from exc


def decode(raw: bytes | None) -> Envelope:
    if raw is None:
        raise BadEvent("malformed", "empty message")
    if len(raw) > MAX_EVENT_BYTES:
        raise BadEvent("oversized", f"{len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent("malformed", f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadEvent("malformed", "not a JSON object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise BadEvent("invalid_envelope", _short(exc)) from exc


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
