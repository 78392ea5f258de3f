"""Personal data in one place: free text redacted before it reaches an event, a log or a public view (phone
numbers, ID numbers, people's names), and residents' contact details masked for those who may know of a
resident but not reach them (``李**``, ``138****1234``).

Names and phone numbers are stored once, in intake's household registry; everything else carries ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, Field

PHONE_MASK = "[电话已隐去]"
ID_MASK = "[证件号已隐去]"
NAME_MASK = "[姓名已隐去]"
RESIDENT = "居民"

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    "汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔"
    "伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙"
    "鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
)
_HONORIFIC = re.compile(f"[{_SURNAMES}](?:女士|先生|阿姨|大爷|大妈|奶奶|爷爷|大姐|大哥)")
_SELF_NAME = re.compile(r"(?<!\[)(我叫|姓名[:：]?|联系人[:：]?)\s*[\u4e00-\u9fa5]{2,4}")  # not our own mask


def redact(text: str, *, names: Iterable[str] = ()) -> str:
    """Free text with phone numbers, ID numbers and people's names removed: events, logs and public feeds carry
    only this form (a 12345 operator often types the caller's name and number into the order's content; a unit
    writes down whom it called). ``names``: people known to be concerned, e.g. the household's resident."""
    out = _ID_CARD.sub(ID_MASK, text)
    out = _PHONE.sub(PHONE_MASK, out)
    out = _LANDLINE.sub(PHONE_MASK, out)
    for name in names:
        if name and len(name) >= 2:
            out = out.replace(name, RESIDENT)
    out = _SELF_NAME.sub(lambda m: m.group(1) + NAME_MASK, out)
    return _HONORIFIC.sub(RESIDENT, out)


PublicText = Annotated[
    str, AfterValidator(redact), Field(description="Redacted free text: no phone numbers, ID numbers or names.")
]
"""Free text of an event contract: redacted whenever a payload is built or read, so no producer can put a phone
number or a caller's name on a topic (names only the registry knows are redacted by intake beforehand)."""


def mask_phone(phone: str | None) -> str | None:
    """``138****1234``: the first three and last four digits of a number of seven or more; nothing of a shorter
    one. Spaces, dashes and a +86 prefix are dropped first."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
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
