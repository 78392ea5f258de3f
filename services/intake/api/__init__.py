"""Intake HTTP API, one router per audience, included by ``main`` in this order (the OpenAPI document's order):
grid workers (``grid``), report reads (``reports``), 12345 orders (``hotline.router``), sensor gateways
(``sensors``), admin (``admin``) and the 12345 callback queue (``hotline.callbacks``). Open311 lives in
``services.intake.open311``."""

from __future__ import annotations

from services.intake.api.common import Session

__all__ = ["Session"]
