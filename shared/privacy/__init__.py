"""Personal data in one place: free text redacted before it is stored, or reaches an event, a log or a public view
(phone numbers, ID and bank card numbers, people's names), and residents' contact details masked for those who may
know of a resident but not reach them (``李**``, ``138****1234``).

Names and phone numbers are stored once, in intake's household registry; everything else carries ids.

One detector (``find_pii``) reads Chinese free text as people type it:

* **NFKC first.** Chinese input methods type full-width digits and separators (``１３９－８７６５``); each character
  is normalised on its own so that a match found in the normalised text maps back to the characters typed, and the
  text around it is returned as it was.
* **Numbers are read as chains** of digit groups joined by short runs of separators (spaces, dashes, dots, commas,
  slashes, brackets), and a chain is cut into whole groups: ``13912345678 13812345678`` is two numbers,
  ``1101 0519 9003 0712 3X`` one. A group is never split, and a chain glued to a Latin letter (``GD20261204000123``,
  the project's ids ``C-3f2a…``) is an id, not a number.
* **Each kind has its own evidence.** A mobile is 11 digits ``1[3-9]…`` (after an optional 86/0086) in groups of
  three or more digits, so ``16.5、17.0、18.5、19`` is not one; a landline has a real area code; an ID number has a
  province, a birth date and (without 身份证 nearby) the GB 11643 check digit; a bank card passes Luhn and either
  starts like a card and is grouped like one or follows 卡号/银行卡. After 电话/手机/… any chain of 7 or more digits
  is a number.
* **Names** come after an introducer (我是, 居民, 业主, 联系人, …) as a surname and one or two characters followed by
  something that ends a name (a verb such as 反映, 电话, punctuation, the end); ``姓名：`` takes any two to four
  characters; a surname with an honorific (王女士, 李大爷, 刘海燕女士) is a name; so is a name after a contact verb
  (已电话联系…, 回访…, 给…打电话, 与…沟通), or standing alone next to a phone number (王建国 13800004567).
  A clause opening with a surname's character is a name only before what a person does (表示, 反映, 家 but not 家园)
  and never when it is a common word (周一, 孙子, 付款, 高温: ``_NOT_NAMES``) or a place: precision first, for the
  data migrations apply this to every stored row. ``names`` adds the people a service knows of, ``numbers`` the
  phone numbers (a 12345 caller's), however they are written.
* **Also**: e-mail addresses; WeChat and QQ ids after 微信 / QQ; mobiles glued to tel/wx or to a letter after 电话;
  numbers in Chinese numerals after 电话 (一三八…). ``redact`` repeats until nothing more is found (idempotent).
* **Photo references** (``PhotoRef``): an http(s) URL, ``photo://<id>`` or an id; another scheme or personal data
  is refused.

The parts: ``kinds`` (what is found and its mask), ``numbers`` (digit chains), ``names``, ``contacts`` (e-mail, WeChat
and QQ ids, numbers not in digit chains), ``detector`` (``find_pii``, ``redact``), ``fields`` (``PublicText``,
``FreeText``, ``STORED``), ``masking`` (``mask_phone``, ``mask_name``) and ``photo_refs`` (``PhotoRef``).
"""

from __future__ import annotations

from shared.privacy.detector import contains_pii, find_pii, redact
from shared.privacy.fields import STORED, FreeText, PublicText
from shared.privacy.kinds import (
    ACCOUNT_MASK,
    CARD_MASK,
    EMAIL_MASK,
    ID_MASK,
    NAME_MASK,
    PHONE_MASK,
    RESIDENT,
    PiiKind,
    PiiMatch,
)
from shared.privacy.masking import mask_name, mask_phone
from shared.privacy.numbers import id_check_digit, luhn_valid
from shared.privacy.photo_refs import PHOTO_REF_INVALID, PHOTO_SCHEME, PhotoRef, photo_ref_refusal

__all__ = [
    "ACCOUNT_MASK",
    "CARD_MASK",
    "EMAIL_MASK",
    "ID_MASK",
    "NAME_MASK",
    "PHONE_MASK",
    "PHOTO_REF_INVALID",
    "PHOTO_SCHEME",
    "RESIDENT",
    "STORED",
    "FreeText",
    "PhotoRef",
    "PiiKind",
    "PiiMatch",
    "PublicText",
    "contains_pii",
    "find_pii",
    "id_check_digit",
    "luhn_valid",
    "mask_name",
    "mask_phone",
    "photo_ref_refusal",
    "redact",
]
