"""What the detector finds (``PiiKind``, ``PiiMatch``), the mask each kind is replaced by, and the per-character
NFKC normalisation that maps a match back to the characters as typed."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

PHONE_MASK = "[电话已隐去]"
ID_MASK = "[证件号已隐去]"
CARD_MASK = "[卡号已隐去]"
EMAIL_MASK = "[邮箱已隐去]"
ACCOUNT_MASK = "[账号已隐去]"
NAME_MASK = "[姓名已隐去]"
RESIDENT = "居民"


class PiiKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    PHONE = "phone"  # a number of 7+ digits after 电话/手机/…, of no recognisable shape
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    NAME = "name"
    EMAIL = "email"
    ACCOUNT = "account"  # a WeChat or QQ id after 微信 / QQ


_MASKS = {
    PiiKind.MOBILE: PHONE_MASK,
    PiiKind.LANDLINE: PHONE_MASK,
    PiiKind.PHONE: PHONE_MASK,
    PiiKind.ID_CARD: ID_MASK,
    PiiKind.BANK_CARD: CARD_MASK,
    PiiKind.EMAIL: EMAIL_MASK,
    PiiKind.ACCOUNT: ACCOUNT_MASK,
}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data in a text: ``text[start:end]`` of the text as given (not normalised)."""

    kind: PiiKind
    start: int
    end: int
    text: str
    replacement: str


# -- normalisation --------------------------------------------------------------------------------------------


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC per character, and for each character of the result the index of the character it came from."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text, list(range(len(text)))
    parts: list[str] = []
    owner: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch) if ord(ch) >= 0x80 else ch
        parts.append(n)
        owner.extend([i] * len(n))
    return "".join(parts), owner
