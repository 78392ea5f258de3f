"""Personal data: masking of a resident's contact details, redaction of free text, and event contracts that
cannot carry a phone number."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shared.contracts.common import UnitType
from shared.contracts.dispatch import AssignmentResolved, AssignmentReturned, ExtensionRequested
from shared.privacy import mask_name, mask_phone, redact

MOBILE = re.compile(r"1[3-9]\d{9}")
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800001234", "138****1234"),
        ("138 0000 1234", "138****1234"),
        ("+86 138-0000-1234", "138****1234"),
        ("0931-8123456", "093****3456"),
        ("8123456", "8123456"),
        ("12345", "*****"),
        ("", None),
        (None, None),
    ],
)
def test_a_phone_keeps_its_first_three_and_last_four_digits(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked
    if masked:
        assert not MOBILE.search(masked)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李兰平", "李**"),
        ("周明", "周*"),
        ("欧阳春华", "欧***"),
        ("李", "*"),
        (" 孙丽 ", "孙*"),
        ("", None),
        (None, None),
    ],
)
def test_a_name_keeps_its_first_character(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


def test_redaction_removes_numbers_and_names_and_keeps_the_problem() -> None:
    text = "来电人王女士（电话138 0000 1234，座机0931-8123456，身份证62010219800101123X）反映暖气不热，我叫李兰平"
    out = redact(text, names=["李兰平"])
    for secret in ("138 0000 1234", "0931-8123456", "62010219800101123X", "王女士", "李兰平"):
        assert secret not in out, out
    assert "暖气不热" in out
    assert redact(out, names=["李兰平"]) == out  # redacting twice changes nothing


def test_event_contracts_redact_their_free_text() -> None:
    typed = "已电话联系李女士13800001234，更换阀门"
    resolved = AssignmentResolved(
        case_id="C", assignment_id="A", unit_id="U", resolved_at=NOW, on_time=True, action_taken=typed
    )
    returned = AssignmentReturned(
        case_id="C",
        assignment_id="A",
        unit_id="U",
        unit_type=UnitType.HEATING_COMPANY,
        reason_code="other",
        note=typed,
        bounce_count=1,
        returned_at=NOW,
    )
    extension = ExtensionRequested(
        case_id="C",
        assignment_id="A",
        unit_id="U",
        extension_id="E",
        reason=typed,
        requested_resolve_due=NOW,
        requested_at=NOW,
    )
    for text in (resolved.action_taken, returned.note, extension.reason):
        assert text is not None and "13800001234" not in text and "李女士" not in text and "更换阀门" in text
