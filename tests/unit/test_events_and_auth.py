import json
from datetime import UTC, datetime

import pytest

from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed
from shared.events import MAX_EVENT_BYTES, BadEvent, Envelope, EventPayload, decode
from shared.settings import ServiceSettings
from tests.keys import REAL_PHOTOS

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def closed() -> Envelope:
    return Envelope.wrap(
        CaseClosed(case_id="C-1", round=1, min_temp_c=19.0, satisfaction=Satisfaction.SATISFIED, closed_at=AT),
        correlation_id="C-1",
        producer="followup",
        occurred_at=AT,
    )


def test_envelope_round_trip() -> None:
    env = closed()
    again = decode(env.encode())
    assert again == env
    assert again.open() == CaseClosed(
        case_id="C-1", round=1, min_temp_c=19.0, satisfaction=Satisfaction.SATISFIED, closed_at=AT
    )


def test_unknown_fields_are_ignored() -> None:
    doc = closed().to_json()
    doc["payload"]["new_field"] = 1
    doc["extra_envelope_field"] = "x"
    assert isinstance(decode(json.dumps(doc).encode()).open(), CaseClosed)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed"),
        (b"[1,2]", "malformed"),
        (None, "malformed"),
        (b'{"event_type": "CaseClosed"}', "invalid_envelope"),
        (b"x" * (MAX_EVENT_BYTES + 1), "oversized"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(BadEvent) as err:
        decode(raw)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_type": "NoSuchEvent"}, "unknown_event_type"),
        ({"schema_version": 9}, "unsupported_schema_version"),
        ({"payload": {"case_id": "C-1"}}, "invalid_payload"),
    ],
)
def test_untrustworthy_payloads_are_refused(change: dict[str, object], reason: str) -> None:
    doc = closed().to_json() | change
    with pytest.raises(BadEvent) as err:
        decode(json.dumps(doc).encode()).open()
    assert err.value.reason == reason


def test_every_event_type_is_registered_once() -> None:
    import shared.contracts  # noqa: F401

    names = set(EventPayload.registry)
    assert {
        "ComplaintReported",
        "CaseOpened",
        "CaseAssigned",
        "AssignmentSignedIn",
        "CaseResolved",
        "VisitRecorded",
        "CaseClosed",
        "CaseReopened",
        "CaseRoundStarted",
    } <= names


def test_placeholder_secrets_are_refused_in_production() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        ServiceSettings(environment="production")
    with pytest.raises(ValueError, match="auth_jwks"):  # a verifier must be told the issuer's keys
        ServiceSettings(environment="production", photos=REAL_PHOTOS, admin_token="another-real-admin-token")
    ServiceSettings(
        environment="production",
        photos=REAL_PHOTOS,
        auth_jwks_url="https://dispatch.example/.well-known/jwks.json",
        admin_token="another-real-admin-token",
    )
