"""Numbers in free text, read as chains of digit groups cut into whole groups: mobiles, landlines, citizen ID
numbers (province, birth date, GB 11643 check digit) and bank cards (Luhn, prefix, grouping), with the words before
a number that say what it is (电话, 身份证, 卡号)."""

from __future__ import annotations

import re
from datetime import date

from shared.privacy.kinds import PiiKind

# Between the groups of one number: spaces, dashes, dots, underscores, slashes, commas, brackets, middle dots and
# zero-width characters, at most three in a row (``010 - 6512 3456``). NFKC has already made full-width ones ASCII.
_SEP = r"[ \t\-\u2010-\u2015\u2212_./\\,()~\u00b7\u2022\u30fb\u200b-\u200f\u2060-\u2064\u00ad\u180e\ufeff]"
_CHAIN = re.compile(rf"(?<![A-Za-z0-9])(?<![A-Za-z][\-_])\d+(?:{_SEP}{{1,3}}\d+)*[Xx]?(?![A-Za-z0-9])")
_GROUP = re.compile(r"\d+[Xx]?")

_PHONE_WORDS = re.compile(
    r"(?:电话|手机|座机|固话|联系方式|(?<![单案编订卡证件])号码|号是|tel|phone|mobile|致电|拨打|微信)[^\d\[\]]{0,4}$",
    re.IGNORECASE,
)
_ID_WORDS = re.compile(r"(?:身份证|证件|身份号|公民身份)[^\d\[\]]{0,6}$")
_CARD_WORDS = re.compile(r"(?:卡号|银行卡|储蓄卡|信用卡|工资卡|借记卡|账号|帐号|账户|帐户)[^\d\[\]]{0,6}$")
_EXTENSION = re.compile(r"(?:\s*(?:转|分机|ext\.?|x|#)\s*\d{1,5}|-\d{1,5})(?![\d])", re.IGNORECASE)

# The first two digits of a citizen ID number: a province (GB/T 2260), Taiwan, Hong Kong, Macao, abroad.
_PROVINCE_CODES = "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65"
_PROVINCES = frozenset(f"{_PROVINCE_CODES} 71 81 82 83 91".split())
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CARD_PREFIX = re.compile(r"(?:62|60|4|5[1-5]|3[457]|9[45]|2[2-7])")
_MOBILE = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_AREA = re.compile(r"0(?:10|2\d|[3-9]\d\d)")


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character of an 18-digit citizen ID number, from its first 17 digits."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _born(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def _id_number(digits: str, *, context: bool) -> bool:
    if digits[:2] not in _PROVINCES:
        return False
    if len(digits) == 18 and digits[:17].isdigit():
        if not _born(digits[6:14]):
            return False
        return context or id_check_digit(digits[:17]) == digits[17].upper()
    if len(digits) == 15 and digits.isdigit():  # before 1999: yymmdd, no check digit
        return _born("19" + digits[6:12])
    return False


def _bank_card(digits: str, groups: list[str], seps: list[str], *, context: bool) -> bool:
    if not (16 <= len(digits) <= 19 and digits.isdigit()):
        return False
    if context:
        return True  # after 卡号 / 银行卡: a card number even when mistyped
    if not luhn_valid(digits):
        return False
    if not _CARD_PREFIX.match(digits):
        return False
    # Written as a card is: in one piece, or in fours (the last group shorter) with spaces or dashes.
    return len(groups) == 1 or (all(len(g) == 4 for g in groups[:-1]) and all(set(s) <= {" ", "-"} for s in seps))


def _mobile(digits: str, groups: list[str], *, context: bool) -> bool:
    if not _MOBILE.fullmatch(digits):
        return False
    if context or len(groups) == 1:
        return True
    if len(groups) == 11:
        return True  # typed digit by digit: 1 3 9 1 2 3 4 5 6 7 8
    # Groups of at least three digits (a leading 86 or 0086 aside): 139 8765 4321, 139.8765.4321.
    body = groups[1:] if groups[0] in ("86", "0086") else groups
    return all(len(g) >= 3 for g in body)


def _landline(digits: str, groups: list[str], *, context: bool) -> bool:
    area = _AREA.match(digits)
    if not area:
        return False
    local = len(digits) - area.end()
    if not (local == 8 or (local == 7 and area.end() == 4)):
        return False
    if len(groups) == 1 or context:
        return True
    # The area code a group of its own, the rest in groups of three or more: 0931-8123456, 010 6512 3456.
    return groups[0] == digits[: area.end()] and all(len(g) >= 3 for g in groups[1:])


def _numbers(norm: str) -> list[tuple[PiiKind, int, int]]:
    found: list[tuple[PiiKind, int, int]] = []
    for chain in _CHAIN.finditer(norm):
        groups = [
            (m.group(), chain.start() + m.start(), chain.start() + m.end()) for m in _GROUP.finditer(chain.group())
        ]
        i = 0
        while i < len(groups):
            if i and norm[groups[i - 1][2] : groups[i][1]] == ".":
                i += 1  # the decimals of a number (36.0611) do not start one
                continue
            before = norm[max(0, groups[i][1] - 12) : groups[i][1]]
            phone_ctx = bool(_PHONE_WORDS.search(before))
            id_ctx = bool(_ID_WORDS.search(before))
            card_ctx = bool(_CARD_WORDS.search(before))
            hit: tuple[PiiKind, int] | None = None
            for j in range(min(len(groups), i + 11) - 1, i - 1, -1):
                part = [g[0] for g in groups[i : j + 1]]
                digits = "".join(part)
                if "X" in digits.upper()[:-1]:
                    continue
                seps = [norm[groups[k][2] : groups[k + 1][1]] for k in range(i, j)]
                if _id_number(digits, context=id_ctx):
                    hit = (PiiKind.ID_CARD, j)
                elif not digits.isdigit():
                    continue
                elif _bank_card(digits, part, seps, context=card_ctx):
                    hit = (PiiKind.BANK_CARD, j)
                elif _mobile(digits, part, context=phone_ctx):
                    hit = (PiiKind.MOBILE, j)
                elif _landline(digits, part, context=phone_ctx):
                    hit = (PiiKind.LANDLINE, j)
                if hit:
                    break
            if hit is None and phone_ctx and i == 0:
                # The whole chain after 电话/手机, of no shape above: 8123456, 13 912 345 678 (not a list: 1,2,3).
                digits = "".join(g[0] for g in groups)
                joints = "".join(norm[groups[k][2] : groups[k + 1][1]] for k in range(len(groups) - 1))
                date = len(digits) == 8 and _born(digits)  # 电话回访 20261204: a day, not a number
                if 7 <= len(digits) <= 12 and digits.isdigit() and not date and not set(joints) & set(",/\\"):
                    hit = (PiiKind.PHONE, len(groups) - 1)
            if hit is None:
                i += 1
                continue
            kind, j = hit
            start, end = groups[i][1], groups[j][2]
            if kind in (PiiKind.LANDLINE, PiiKind.PHONE) and (ext := _EXTENSION.match(norm, end)):
                end = ext.end()  # 0931-8123456 转 801
            if start >= 1 and norm[start - 1] == "+" and kind is PiiKind.MOBILE:
                start -= 1
            found.append((kind, start, end))
            while j + 1 < len(groups) and groups[j + 1][1] < end:
                j += 1
            i = j + 1
    return found
