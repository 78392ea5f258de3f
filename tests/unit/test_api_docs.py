"""The committed OpenAPI and AsyncAPI documents are what the code generates: an API or contract change shows
up as a diff in docs/api/ (regenerate with ``python -m deploy.apidocs``)."""

from __future__ import annotations

import json

import pytest

from deploy.apidocs import OUT, generated, render

DOCS = generated()


@pytest.mark.parametrize("name", sorted(DOCS))
def test_committed_document_matches_the_code(name: str) -> None:
    committed = (OUT / name).read_text(encoding="utf-8")
    assert committed == render(DOCS[name]), f"{name} is stale: run python -m deploy.apidocs and commit docs/api/"


def test_asyncapi_names_every_event_and_who_receives_it() -> None:
    doc = json.loads(render(DOCS["asyncapi.json"]))
    assert doc["asyncapi"] == "3.0.0"
    received = {op for op, spec in doc["operations"].items() if spec["action"] == "receive"}
    assert "dispatch_receives_heating_intake_complaints" in received
    assert "followup_receives_heating_dispatch_cases" in received
    assert "dispatch_receives_heating_followup_verdicts" in received
    assert {"ComplaintReported", "CaseAssigned", "CaseResolved", "CaseClosed", "CaseReopened"} <= set(
        doc["components"]["messages"]
    )


def test_openapi_documents_the_loop_endpoints() -> None:
    assert "/v1/grid-reports" in DOCS["intake.openapi.json"]["paths"]
    assert "/v1/assignments/{assignment_id}/sign-in" in DOCS["dispatch.openapi.json"]["paths"]
    assert "/v1/visits/{visit_id}/record" in DOCS["followup.openapi.json"]["paths"]
