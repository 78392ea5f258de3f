"""Text hygiene at the edge: characters XML 1.0 cannot carry are refused where free text enters a service, and
dropped where a document is written (Open311's XML).

XML 1.0 (§2.2 Char) allows ``\\t \\n \\r``, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. Everything else
— the other C0 controls (a vertical tab pasted from a word processor, a NUL), U+FFFE, U+FFFF and lone surrogates,
which JSON's ``\\ud800`` escape can produce — cannot be written into an XML document, and most of it means nothing
in a note a person wrote. PostgreSQL refuses only NUL (shared.errors.refused_value); refusing the whole class at the
field gives the caller a 422 naming the field instead of a value stored that one channel cannot show.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

FORBIDDEN_CHAR = "text_forbidden_char"


def forbidden_at(text: str) -> int | None:
    """The index of the first character XML 1.0 cannot carry, or None."""
    m = _FORBIDDEN.search(text)
    return m.start() if m else None


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (for writers: stored text from before the refusal, or
    from a channel that does not refuse)."""
    return _FORBIDDEN.sub("", text)


def _clean(text: str) -> str:
    at = forbidden_at(text)
    if at is not None:
        raise PydanticCustomError(
            FORBIDDEN_CHAR,
            "Text must not contain control characters other than tab, line feed and carriage return, U+FFFE, U+FFFF"
            " or lone surrogates ({char} at position {position})",
            {"char": f"U+{ord(text[at]):04X}", "position": at},
        )
    return text


def clean(text: str) -> str:
    """``text`` itself, or a PydanticCustomError (a 422 naming the field) if it holds a character XML 1.0 forbids."""
    return _clean(text)


CLEAN = AfterValidator(_clean)
"""The validator of ``CleanText``, for an optional field whose limits must be checked first, on the text as sent:
``Annotated[str, Field(max_length=100), CLEAN] | None`` (pydantic applies the ``Field`` limits of an optional field
after the validators)."""

CleanText = Annotated[str, CLEAN]
"""Text a person typed (a name, a note, a description): refused with a 422 naming the field when it holds a character
XML 1.0 forbids."""
