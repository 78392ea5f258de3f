"""The annotated types that redact free text as it is validated: ``PublicText`` on event contracts, ``FreeText``
(and its validator ``STORED``) on what a request brings in."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from shared.privacy.detector import redact
from shared.text import clean

PublicText = Annotated[
    str, AfterValidator(redact), Field(description="Redacted free text: no phone numbers, ID numbers or names.")
]
"""Free text of an event contract: redacted whenever a payload is built or read, so no producer can put a phone
number or a caller's name on a topic (names only the registry knows are redacted by intake beforehand)."""


def _stored(text: str) -> str:
    return redact(clean(text))


STORED = AfterValidator(_stored)
"""The validator of ``FreeText``, for an optional field whose limits must be checked first, on the text as sent:
``Annotated[str, Field(max_length=1000), STORED] | None`` (pydantic applies the ``Field`` limits of an optional field
after the validators, to the redacted text)."""

FreeText = Annotated[
    str,
    STORED,
    Field(description="Free text, stored redacted: phone, ID and bank card numbers and people's names are masked."),
]
"""Free text a request brings in (a note, a reason, a description): refused with a 422 naming the field when it holds
a character XML cannot carry (shared.text), and redacted before any service code sees it, so no store keeps what it
should not."""
