"""Residents' contact details masked for those who may know of a resident but not reach them (``李**``,
``138****1234``)."""

from __future__ import annotations

import re
import unicodedata


def mask_phone(phone: str | None) -> str | None:
    """``138****1234``: the first three and last four digits of a number of seven or more; nothing of a shorter
    one. Spaces, dashes and a +86 prefix are dropped first."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """``李**``: the first character, one star for each other one; a one-character name is all stars."""
    if not name or not name.strip():
        return None
    name = name.strip()
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
