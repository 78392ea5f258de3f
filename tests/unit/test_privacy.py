"""Personal data: masking of a resident's contact details, the detector on a corpus of free text as the loop's people
write it (recall and precision printed with ``-s``), text hygiene, and event contracts that cannot carry a phone
number."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.intake.open311 import to_xml
from shared.contracts.common import UnitType
from shared.contracts.dispatch import AssignmentResolved, AssignmentReturned, ExtensionRequested
from shared.privacy import (
    ID_MASK,
    PHONE_MASK,
    FreeText,
    PhotoRef,
    PiiKind,
    contains_pii,
    find_pii,
    id_check_digit,
    luhn_valid,
    mask_name,
    mask_phone,
    redact,
)
from shared.text import FORBIDDEN_CHAR, forbidden_at, xml_safe
from tests.unit.pii_corpus import CARD1, ID1, NEGATIVES, POSITIVES, REGISTRY_NAMES, Positive

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


# -- the detector on the corpus (tests/unit/pii_corpus.py) --------------------------------------------------------


def _missed(p: Positive) -> list[str]:
    out = redact(p.text, names=REGISTRY_NAMES)
    return [s for s in p.secrets if s in out] + [f"lost {k!r}" for k in p.keep if k not in out]


def test_the_corpus_is_large_enough_and_its_numbers_are_valid() -> None:
    assert len(POSITIVES) + len(NEGATIVES) >= 200 and len(POSITIVES) >= 100 and len(NEGATIVES) >= 100
    assert (
        id_check_digit(ID1[:17]) == ID1[17]
        and luhn_valid(CARD1)
        and not luhn_valid(CARD1[:-1] + "0" * (CARD1[-1] != "0"))
    )


def test_every_positive_is_redacted_and_no_negative_is_touched() -> None:
    missed = {p.text: m for p in POSITIVES if (m := _missed(p))}
    touched = {n: redact(n, names=REGISTRY_NAMES) for n in NEGATIVES if redact(n, names=REGISTRY_NAMES) != n}
    found = len(POSITIVES) - len(missed)
    recall = found / len(POSITIVES)
    precision = found / (found + len(touched)) if found + len(touched) else 1.0
    print(
        f"\nPII corpus: {len(POSITIVES)} positives, {len(NEGATIVES)} negatives; "
        f"recall {recall:.3f} ({found}/{len(POSITIVES)}), precision {precision:.3f} "
        f"({len(touched)} negatives altered)"
    )
    assert not missed, "personal data left:\n" + "\n".join(f"{t!r}: {m}" for t, m in missed.items())
    assert not touched, "text altered that holds no personal data:\n" + "\n".join(
        f"{n!r} → {o!r}" for n, o in touched.items()
    )
    assert recall == 1.0 and precision == 1.0


@pytest.mark.parametrize("positive", POSITIVES, ids=lambda p: p.text[:24])
def test_redacting_twice_changes_nothing_and_finds_nothing(positive: Positive) -> None:
    once = redact(positive.text, names=REGISTRY_NAMES)
    assert redact(once, names=REGISTRY_NAMES) == once
    assert not contains_pii(once, names=REGISTRY_NAMES), find_pii(once, names=REGISTRY_NAMES)


def test_redacting_any_text_of_the_corpus_twice_changes_nothing() -> None:
    for text in [p.text for p in POSITIVES] + list(NEGATIVES):
        once = redact(text, names=REGISTRY_NAMES)
        assert redact(once, names=REGISTRY_NAMES) == once, text


def test_a_known_number_is_masked_however_it_is_written() -> None:
    # A 12345 order's caller: the operator may type the number in any shape, or only part of the text holds it.
    for typed in ("回电1380013 8000", "回电138-0013-8000", "回电１３８００１３８０００", "回电138.0013.8000"):
        assert redact(typed, numbers=["+86 138 0013 8000"]) == f"回电{PHONE_MASK}", typed
    assert redact("户号13800138000", numbers=["13800138000"]) == f"户号{PHONE_MASK}"
    assert redact("室温18度", numbers=["13800138000"]) == "室温18度"


def test_what_surrounds_a_number_is_kept_as_typed() -> None:
    # Full-width text around a full-width number keeps its width: only the number is replaced.
    assert redact("业主，手机１３９１２３４５６７８，３号楼") == f"业主，手机{PHONE_MASK}，３号楼"
    matches = find_pii("电话　１３９－８７６５－４３２１。")
    assert [(m.kind, m.text) for m in matches] == [(PiiKind.MOBILE, "１３９－８７６５－４３２１")]


def test_a_check_digit_decides_without_a_word_saying_what_the_number_is() -> None:
    wrong = ID1[:17] + ("0" if ID1[17] != "0" else "1")
    assert ID_MASK in redact(f"编号{ID1}")
    assert redact(f"编号{wrong}") == f"编号{wrong}"
    assert ID_MASK in redact(f"身份证{wrong}")  # mistyped after 身份证: still an ID number


def test_text_hygiene_refuses_what_xml_cannot_carry() -> None:
    class Note(BaseModel):
        note: FreeText

    for bad in ("a\x0bb", "\x00", "\x1f", "\ufffe", "\uffff", "x\ud800y"):
        with pytest.raises(ValidationError) as caught:
            Note(note=bad)
        (error,) = caught.value.errors()
        assert error["type"] == FORBIDDEN_CHAR and error["loc"] == ("note",)
        assert f"U+{ord(bad[min(1, len(bad) - 1)]):04X}" in error["msg"], error["msg"]
    assert Note(note="行一\n行二\t\r 电话13912345678").note == f"行一\n行二\t\r 电话{PHONE_MASK}"
    assert xml_safe("a\x0bb\ufffec\ud800") == "abc" and forbidden_at("ok\n") is None


def test_open311_writes_well_formed_xml_whatever_was_stored() -> None:
    document = to_xml("service_requests", [{"description": "暖气\x0b不热\x00", "service_notice": "已受理\uffff"}])
    (request,) = ElementTree.fromstring(document)
    assert request.findtext("description") == "暖气不热" and request.findtext("service_notice") == "已受理"


def test_a_photo_reference_is_a_link_or_an_id_and_holds_no_personal_data() -> None:
    class Photos(BaseModel):
        photo_refs: list[PhotoRef]

    kept = [
        "photo://demo",
        "photo://sim/A-1/after.jpg",
        "p/1.jpg",
        "P-20261123-01",
        "uploads/0f3a9c7e5b2d4e6f8a1b2c3d4e5f6a7b",
        "https://photos.example.org/x/1.jpg",
    ]
    assert Photos(photo_refs=kept).photo_refs == kept
    for bad in (
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "刘海燕13800138000.jpg",
        "13800138000.jpg",
        "https://x.example.org/13800138000.jpg",
        f"photo://{ID1}",
        "photo://a b",
        "a\x0bb",
        "",
        "x" * 201,
    ):
        with pytest.raises(ValidationError) as caught:
            Photos(photo_refs=["photo://ok", bad])
        (error,) = caught.value.errors()
        assert error["loc"] == ("photo_refs", 1), (bad, error)


# -- known numbers and names: found without a pattern made per caller ------------------------------------------------


def _known_by_pattern(norm: str, number: str) -> list[tuple[int, int]]:
    """What the detector did before: a pattern per number, its digits joined by up to three separators."""
    from shared.privacy.numbers import _SEP

    pattern = f"{_SEP}{{0,3}}".join(number)
    return [(m.start(), m.end()) for m in re.finditer(f"(?<!\\d){pattern}(?!\\d)", norm)]


@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from(["13800138000", "138-0013-8000", "138 0013 8000", "1380013800", "0", "8000", "138"]),
            st.text(alphabet="0123456789 -._/（）·电话家里暖气aX\u200b", max_size=8),
        ),
        max_size=8,
    ),
    number=st.sampled_from(["13800138000", "8000138000", "0013800", "1380013"]),
)
@settings(max_examples=400, deadline=None)
def test_a_known_number_is_found_where_a_pattern_made_for_it_would_find_it(pieces: list[str], number: str) -> None:
    from shared.privacy.contacts import _known_numbers

    norm = "".join(pieces)
    found = [(s, e) for _, s, e in _known_numbers(norm, [number])]
    assert found == _known_by_pattern(norm, number), norm


def test_a_city_of_callers_compiles_no_pattern_per_caller() -> None:
    """Each report names its household's resident and phone: redacting the reports of thousands of households must
    not compile a pattern for each, which would also push the detector's own patterns out of ``re``'s cache (512)
    and compile them again for every report."""
    redact("王女士说家里暖气不热，电话13800138000", names=["王建国"], numbers=["13800138000"])
    re.purge()
    for n in range(600):
        text = f"刘{n}家里暖气不热，联系人李海燕，电话139-{n:04d}-{n * 7 % 10000:04d}"
        redact(text, names=[f"李海{chr(0x4E00 + n)}"], numbers=[f"139{n:04d}{n * 7 % 10000:04d}"])
    compiled = len(re._cache)  # type: ignore[attr-defined]
    assert compiled < 20, f"{compiled} patterns compiled for 600 callers"
    told = redact("电话139-0005-0035，找李海丅", names=["李海丅"], numbers=["13900050035"])
    assert told == "电话[电话已隐去]，找居民"
