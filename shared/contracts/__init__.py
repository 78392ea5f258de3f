"""Event contracts: the only thing the services share about each other. One module per producing service."""

from __future__ import annotations

from types import ModuleType

from shared.contracts import dispatch, followup, intake
from shared.events import EventPayload
from shared.topics import Topics


def events_of(module: ModuleType) -> tuple[type[EventPayload], ...]:
    """The event types a contract module declares, in declaration order."""
    return tuple(model for model in EventPayload.registry.values() if model.__module__ == module.__name__)


def catalogue(topics: Topics) -> dict[str, tuple[str, tuple[type[EventPayload], ...]]]:
    """topic → (producing service, the event types it carries)."""
    return {
        topics.complaints: ("intake", events_of(intake)),
        topics.cases: ("dispatch", events_of(dispatch)),
        topics.followup: ("followup", events_of(followup)),
    }
