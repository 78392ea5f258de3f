"""Waiting for a local process to answer: the one polling loop behind ``ServiceSet.wait_ready``
(``deploy/local/services.py``) and ``DaemonProcess.wait_ready`` (``deploy/local/daemon.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_answer(
    name: str, url: str, timeout: float, *, running: Callable[[], bool], tail: Callable[[], str], interval: float
) -> None:
    """Until ``url`` answers 200, asking every ``interval`` seconds. A process that exits meanwhile, or one that has
    not answered within ``timeout`` seconds, is a RuntimeError carrying the last lines of its log (``tail``): what a
    failed start needs to be understood without opening the log file."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not running():
            raise RuntimeError(f"{name} exited; log:\n{tail()}")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(interval)
    raise RuntimeError(f"{name} not ready after {timeout}s ({last}); log:\n{tail()}")
