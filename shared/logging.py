"""JSON logs on stdout, one object per line, with the fields passed through ``extra`` and those bound to what the
line is about: every line written while a request is served carries its ``request_id`` (and the case, assignment,
visit or report its path names); every line written while an event is applied carries its ``event_id``,
``correlation_id``, ``event_type`` and, where the event has one, its ``case_id`` (see ``bound``)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# What the current request or event is about; a contextvar, so concurrent requests and events never mix theirs.
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every log line written inside the block (in this task and the tasks it starts) carries ``fields`` (None values
    are left out)."""
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to the current context until the enclosing ``bound`` block ends (for a dependency that learns
    the ids of a request after its middleware opened the block)."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def context() -> Mapping[str, Any]:
    return _CONTEXT.get()


_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_CONTEXT.get())
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(_DropSupervisorChatter())
    root = logging.getLogger()
    # Replace plain console handlers (ours from an earlier start, or basicConfig's); keep others, such as a
    # test runner's capture handlers.
    root.handlers[:] = [h for h in root.handlers if type(h) is not logging.StreamHandler] + [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _adopt_faststream()


class _DropSupervisorChatter(logging.Filter):
    """faststream's task supervisor says "callback for Task-N is being executed..." at INFO (through the broker's
    logger) whenever one of a subscriber's tasks ends, each consumer of each topic at every stop: nothing an
    operator acts on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("callback for ")


def _adopt_faststream() -> None:
    """faststream's own logger writes coloured text to stderr and does not propagate; the consumers of a topic
    report their partition assignments through it. Send it through the JSON handler like everything else."""
    fs = logging.getLogger("faststream")
    fs.handlers[:] = [h for h in fs.handlers if not isinstance(h, logging.StreamHandler)]
    fs.propagate = True
