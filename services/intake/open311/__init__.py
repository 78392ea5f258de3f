"""Open311 GeoReport v2 under ``/open311/v2/``, in JSON and XML (the format is the path's suffix).

Calls: ``services.{fmt}``, ``services/{service_code}.{fmt}``, ``POST requests.{fmt}`` (form-encoded, with
``api_key``), ``GET requests.{fmt}`` (service_request_id, service_code, start_date, end_date, status) and
``requests/{service_request_id}.{fmt}``. Every service is ``realtime``: POST answers with the
service_request_id at once, so there are no tokens.

Readings of the spec: the registry places a request, never coordinates or an address text, so the location is a
registry id — ``attribute[household_id]`` or ``attribute[building_id]`` (declared in every service definition), or
``address_id`` holding a household or building id; ``lat``/``long``/``address_string`` alone are refused with 400.
``service_code`` is a category of the domain (cold_room, leak, …). The list and the single request are anonymous,
so they publish only what was meant for the public: requests submitted through Open311 itself (not 12345 orders,
grid reports, visits or sensor alerts, whose callers never chose to publish), placed at their building — the
address is the building's name and ``address_id`` the building id, never a household — with descriptions stripped of
phone numbers and names, and descriptions and status notes of the household's door (3单元501室 → [门牌已隐去]);
the submitter's name, phone and e-mail are accepted and never stored. Every parameter, form or query, is checked once
before any is read (``check_params``): a character XML 1.0 forbids or a value over its length is a 400 naming it.
``media_url`` is an absolute https:// or http:// link. Errors, whatever the status (400, 403, 404, 405, 408, 413,
429, 500), are the spec's array of ``{code, description}`` with the HTTP status as code, in JSON or XML as the suffix
says; descriptions are Chinese with the English gist. The 413 of the body limit and the 408 of a body that stalls
come in that format too (``shared.limits.speak_refusals``).
"""

from __future__ import annotations

from services.intake.open311.catalog import ATTRIBUTES, SERVICES, service_list
from services.intake.open311.routes import router
from services.intake.open311.service_requests import create_request, get_request, list_requests, request_view
from services.intake.open311.wire import Open311Error, plumbing_refusal, speak_framework_refusals, to_xml

__all__ = [
    "ATTRIBUTES",
    "SERVICES",
    "Open311Error",
    "create_request",
    "get_request",
    "list_requests",
    "plumbing_refusal",
    "request_view",
    "router",
    "service_list",
    "speak_framework_refusals",
    "to_xml",
]
