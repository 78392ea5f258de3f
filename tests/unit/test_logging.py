"""Service logs are one JSON object per line, faststream's included (its own logger writes coloured text)."""

from __future__ import annotations

import io
import json
import logging

import faststream  # noqa: F401  (creates its module logger with its own handler, as in a service)
import pytest

from shared import logging as service_logging

pytestmark = pytest.mark.unit


def test_faststream_lines_come_out_as_json_and_supervisor_chatter_is_dropped() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        service_logging.configure("dispatch")
        ours = next(h for h in root.handlers if isinstance(h.formatter, service_logging.JsonFormatter))
        assert isinstance(ours, logging.StreamHandler)
        ours.setStream(out := io.StringIO())
        fs = logging.getLogger("faststream")
        fs.info("Consumer m-1 assigned to partitions: (heating.dispatch.cases-0)")
        fs.info("callback for Task-62 is being executed...")
        logging.getLogger("faststream.dispatch").info("callback for Task-63 is being executed...")  # the broker's
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(d["logger"], d["service"], d["msg"]) for d in lines] == [
            ("faststream", "dispatch", "Consumer m-1 assigned to partitions: (heating.dispatch.cases-0)")
        ]
        assert not [h for h in fs.handlers if isinstance(h, logging.StreamHandler)]
    finally:
        root.handlers[:], root.level = saved
