"""The HTTP server of a service process, and its command line (``python -m services.<name> [serve|migrate]``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from shared import logging as json_logging
from shared import migrate, slow_requests
from shared.settings import ServiceSettings


def server_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # A request head that stalls closes its connection (see shared.slow_requests; the body: BodyDeadline).
        http=slow_requests.guarded_protocol(settings.http_request_timeout_seconds),
        log_config=None,
        access_log=False,
    )


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.Server(server_config(app, settings)).run()


def cli(settings_cls: type[ServiceSettings], migrations_dir: Path, create_app: Callable[..., FastAPI]) -> None:
    """Entry point of ``python -m services.<name>``: ``serve`` (default) or ``migrate``."""
    import sys

    settings = settings_cls()
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        json_logging.configure(settings.service_name, settings.log_level)
        migrate.upgrade(migrations_dir, settings.database_url)
    elif command == "serve":
        serve(create_app(settings), settings)
    else:
        raise SystemExit(f"unknown command {command!r}: use serve or migrate")
