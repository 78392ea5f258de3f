"""Photo references (``PhotoRef``): an http(s) URL, ``photo://<id>`` or an id; another scheme or personal data is
refused."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from shared.inputs import web_url_refusal
from shared.privacy.detector import find_pii
from shared.text import clean

PHOTO_SCHEME = "photo://"
_PHOTO_ID = re.compile(r"[A-Za-z0-9._/\-]{1,200}")
PHOTO_REF_INVALID = "photo_ref_invalid"


def photo_ref_refusal(value: str) -> str | None:
    """Why ``value`` is not a photo reference, or None when it is: an http(s) URL (shared.inputs.WebUrl's rule),
    ``photo://<id>`` or a bare id of ``A-Z a-z 0-9 . _ / -`` (at most 200), holding no personal data."""
    if value.lower().startswith(("http://", "https://")):
        reason = web_url_refusal(value)
        if reason:
            return reason
    else:
        ident = value[len(PHOTO_SCHEME) :] if value.startswith(PHOTO_SCHEME) else value
        if not _PHOTO_ID.fullmatch(ident):
            return "only https:// and http:// links, photo://<id> and ids of letters, digits, '.', '_', '/' and '-'"
    if find_pii(value):
        return "it holds personal data (a phone, ID or card number, an e-mail address or a name)"
    return None


def _photo_ref(value: str) -> str:
    clean(value)
    reason = photo_ref_refusal(value)
    if reason:
        raise PydanticCustomError(PHOTO_REF_INVALID, "Photo reference refused: {reason}", {"reason": reason})
    return value


PhotoRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="A photo stored elsewhere: an http(s) URL, photo://<id> or an id (A-Z a-z 0-9 . _ / -); never"
        " personal data.",
    ),
    AfterValidator(_photo_ref),
]
"""A reference to a photo stored elsewhere (an object-store key, ``photo://<id>`` or an http(s) URL), never the photo
itself: refused with a 422 naming the field when it has another scheme (``javascript:``), characters an id has not, or
personal data (``刘海燕13800138000.jpg``). Shown to overseers and put on events, so it is checked like a link."""
