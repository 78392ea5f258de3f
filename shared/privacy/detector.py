"""The detector and the redaction entry points: ``find_pii`` (every match, in order, not overlapping),
``contains_pii`` and ``redact`` (masks in place of each match, repeated until nothing more is found)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.privacy.contacts import _others
from shared.privacy.kinds import _MASKS, PiiMatch, _normalise
from shared.privacy.names import _names, _names_by_numbers
from shared.privacy.numbers import _numbers


def find_pii(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, in order and not overlapping (the earlier, then the longer, wins),
    with the positions of the text as given. ``names`` and ``numbers``: people and phone numbers the caller knows
    are concerned (a 12345 order's caller), found however they are written."""
    norm, owner = _normalise(text)
    found = _numbers(norm) + _others(norm, numbers)
    spans = [(kind, s, e, _MASKS[kind]) for kind, s, e in found] + _names(norm, names) + _names_by_numbers(norm, found)
    spans.sort(key=lambda span: (span[1], -(span[2] - span[1])))
    out: list[PiiMatch] = []
    taken = 0
    for kind, s, e, replacement in spans:
        if s < taken or e <= s:
            continue
        start, end = owner[s], owner[e - 1] + 1
        out.append(PiiMatch(kind, start, end, text[start:end], replacement))
        taken = e
    return out


def contains_pii(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> bool:
    return bool(find_pii(text, names=names, numbers=numbers))


def redact(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> str:
    """Free text with phone, ID and bank card numbers and people's names replaced by masks: stores, events, logs
    and public feeds carry only this form (a 12345 operator often types the caller's name and number into the
    order's content; a unit writes down whom it called). ``names``: people known to be concerned, e.g. the
    household's resident; ``numbers``: phone numbers known to be concerned. The characters around what is
    replaced are kept as typed. Redacting twice changes nothing: a mask can reveal a name's context (王女士王建国:
    the first mask reads as 居民, before a name), so the text is redacted until nothing more is found."""
    names, numbers = list(names), list(numbers)
    for _ in range(4):
        matches = find_pii(text, names=names, numbers=numbers)
        if not matches:
            return text
        parts: list[str] = []
        at = 0
        for m in matches:
            parts += [text[at : m.start], m.replacement]
            at = m.end
        parts.append(text[at:])
        text = "".join(parts)
    return text
