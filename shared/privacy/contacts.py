"""What is not a digit chain: e-mail addresses, WeChat and QQ ids, mobiles glued to letters, numbers in Chinese
numerals after 电话, and the phone numbers a caller knows are concerned, however they are written."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from shared.privacy.kinds import PiiKind
from shared.privacy.numbers import _PHONE_WORDS, _SEP

_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_ACCOUNT = re.compile(
    r"(?:微信号?|微信账号|weixin|wechat|wx|vx|QQ号?|qq号?|扣扣号?)(?:码)?[ \t:：]*(?:是|为)?[ \t:：]*"
    r"([A-Za-z][A-Za-z0-9_\-]{5,19}|\d{5,12})(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
# A mobile glued to a Latin contact word (tel13800138000, wx13800138000) or to a letter after 电话 (13800138000X).
_GLUED_MOBILE = re.compile(r"(?<!\d)(?:0086|86)?1[3-9]\d{9}(?!\d)")
_CONTACT_PREFIX = re.compile(r"(?:tel|phone|mobile|mob|cell|wx|vx|qq|wechat|weixin)[ \t:：#.]*$", re.IGNORECASE)
_CN_DIGITS = "零〇○一二三四五六七八九幺两"
_CN_NUMBER = re.compile(f"[{_CN_DIGITS}]{{7,}}")
_CN_MOBILE = re.compile(f"(?<![{_CN_DIGITS}])一[三四五六七八九][{_CN_DIGITS}]{{9}}(?![{_CN_DIGITS}])")
# Where a known number can be written: digits joined by up to three separators (138-0013-8000, 138 0013 8000).
_DIGIT_RUN = re.compile(rf"\d(?:{_SEP}{{0,3}}\d)*")
_NOT_DIGIT = re.compile(r"\D")


def _digits_of(number: str) -> str:
    digits = _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", number))
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) > 11 and digits.startswith("0086"):
        digits = digits[4:]
    return digits


def _others(norm: str, numbers: Iterable[str]) -> list[tuple[PiiKind, int, int]]:
    found: list[tuple[PiiKind, int, int]] = []
    found += [(PiiKind.EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(norm)]
    found += [(PiiKind.ACCOUNT, m.start(1), m.end(1)) for m in _ACCOUNT.finditer(norm)]
    for m in _GLUED_MOBILE.finditer(norm):
        before = norm[max(0, m.start() - 12) : m.start()]
        if _CONTACT_PREFIX.search(before) or _PHONE_WORDS.search(before):
            found.append((PiiKind.MOBILE, m.start(), m.end()))
    for m in _CN_NUMBER.finditer(norm):
        if _PHONE_WORDS.search(norm[max(0, m.start() - 12) : m.start()]):
            found.append((PiiKind.PHONE, m.start(), m.end()))
    found += [(PiiKind.MOBILE, m.start(), m.end()) for m in _CN_MOBILE.finditer(norm)]
    found += _known_numbers(norm, numbers)
    return found


def _known_numbers(norm: str, numbers: Iterable[str]) -> list[tuple[PiiKind, int, int]]:
    """A number the service knows (a 12345 caller's, a household's), however it is written: its digits in order
    within a run of digits and separators, with no digit right before or after. Searched in each run's digits,
    not with a pattern made per number: a city's households would each compile one, and the patterns of the whole
    detector would be pushed out of ``re``'s cache and compiled again for every text."""
    wanted = [d for d in dict.fromkeys(_digits_of(n) if n else "" for n in numbers) if len(d) >= 7]
    if not wanted:
        return []
    found: list[tuple[PiiKind, int, int]] = []
    for run in _DIGIT_RUN.finditer(norm):
        at = [run.start() + k for k, c in enumerate(run.group()) if c.isdecimal()]
        digits = "".join(norm[k] for k in at)
        for number in wanted:
            n, i = len(number), digits.find(number)
            while i >= 0:
                # not glued to a digit: the digit before (after) it, if any, is set apart by a separator
                if (i == 0 or at[i] - at[i - 1] > 1) and (i + n == len(at) or at[i + n] - at[i + n - 1] > 1):
                    found.append((PiiKind.PHONE, at[i], at[i + n - 1] + 1))
                    i = digits.find(number, i + n)
                else:
                    i = digits.find(number, i + 1)
    return found
