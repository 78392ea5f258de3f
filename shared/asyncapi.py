"""An AsyncAPI 3.0 document of the event flow, built from the contracts and the services' subscriptions.

The services' handlers take the raw record (so a malformed one can be dead-lettered), which leaves
faststream's own AsyncAPI without payload schemas; this document carries the real schemas instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.contracts import catalogue
from shared.events import Envelope, EventPayload
from shared.topics import Topics


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{name}"}


def document(consumes: Mapping[str, Mapping[str, list[type[EventPayload]]]]) -> dict[str, Any]:
    """``consumes``: service → topic → event types it handles."""
    topics = Topics()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    for topic, (producer, models) in catalogue(topics).items():
        channel = topic.replace(".", "_")
        channels[channel] = {
            "address": topic,
            "description": f"Produced by {producer}. Key: the case id (the household before a case exists; "
            "account:<name> for an account's AccountTokensRevoked). "
            f"Dead letters: {topics.dlq(topic)}.",
            "messages": {m.event_type: _ref(m.event_type) for m in models},
        }
        operations[f"{producer}_sends_{channel}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m.event_type}"} for m in models],
        }
        for model in models:
            schemas[model.event_type] = model.model_json_schema(ref_template="#/components/schemas/{model}")
            defs = schemas[model.event_type].pop("$defs", {})
            schemas.update(defs)
            messages[model.event_type] = {
                "name": model.event_type,
                "title": model.event_type,
                "summary": (model.__doc__ or "").strip(),
                "contentType": "application/json",
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Envelope"},
                        {
                            "type": "object",
                            "properties": {
                                "event_type": {"const": model.event_type},
                                "schema_version": {"const": model.schema_version},
                                "payload": {"$ref": f"#/components/schemas/{model.event_type}"},
                            },
                        },
                    ]
                },
            }
    for service, by_topic in sorted(consumes.items()):
        for topic, handled in by_topic.items():
            channel = topic.replace(".", "_")
            operations[f"{service}_receives_{channel}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{m.event_type}"} for m in handled],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "供暖诉求闭环 · events",
            "version": "0.1.0",
            "description": "Facts exchanged by intake, dispatch and followup over Kafka.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
