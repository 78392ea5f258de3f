"""Text shown to anyone (Open311's anonymous list and single request, the public status view) without the door of a
household: ``3单元501室``, ``3-2-501``, ``501室``, ``2单元``, ``5楼东户`` become ``[门牌已隐去]``.

Stored text keeps room numbers on purpose — the crew that goes there needs them, and the redactor
(``shared.privacy``) takes out only names and numbers that reach a person. An anonymous reader, though, learns from
a room number together with the building (which the public views show) which household complained. The building
itself stays (``3号楼``, ``5栋``): that is what the public views publish anyway. Temperatures (15.5度), dates
(2026-12-04), times (08:30) and order or case numbers (GD20261204000123, 12345-0001) are left alone.
"""

from __future__ import annotations

import re

ROOM_MASK = "[门牌已隐去]"

_D = "[0-9０-９]"
_CN = "[一二三四五六七八九十两]"
_NUM = f"(?:{_D}{{1,2}}|{_CN}{{1,3}})"
_ROOM = f"{_D}{{3,4}}"
_DASH = "[-－‐‑–—]"
_GAP = rf"(?:\s|{_DASH}){{0,2}}"
_SIDE = "[东西南北中]"
# Not glued to a letter, digit or dash on either side: an order number or a date is not a door.
_BEFORE = r"(?<![0-9０-９A-Za-z\-－])"
_AFTER = rf"(?![0-9０-９A-Za-z]|{_DASH}[0-9０-９])"
_ROOM_WORD = "(?:室(?![温内外])|号房|房间|房|户|号)"

_DOOR = re.compile(
    "|".join(
        (
            # 3单元501室, 三单元5层501, 2单元-1号, 2单元东户, 2单元
            rf"{_NUM}\s*单元(?:{_GAP}{_NUM}\s*[层楼])?(?:{_GAP}(?:{_ROOM}|{_D}{{1,2}}|{_SIDE})\s*{_ROOM_WORD}?"
            rf"|{_GAP}{_ROOM}{_AFTER})?",
            # 3-2-501, 3－2－501室 (building-entrance-room), 2-501 (entrance-room)
            rf"{_BEFORE}{_D}{{1,3}}{_DASH}{_D}{{1,2}}{_DASH}{_ROOM}{_AFTER}(?:\s*{_ROOM_WORD})?",
            rf"{_BEFORE}{_D}{{1,2}}{_DASH}{_ROOM}{_AFTER}(?:\s*{_ROOM_WORD})?",
            # 5楼501, 五层东户, 5楼502室 (not 3号楼: the building)
            rf"(?<![号0-9０-９]){_NUM}\s*[层楼]{_GAP}(?:{_ROOM}|{_SIDE}\s*(?:户|边|侧|屋))(?:\s*{_ROOM_WORD})?",
            # 501室, 1202房间, 302户
            rf"{_BEFORE}{_ROOM}\s*(?:室(?![温内外])|号房|房间|房|户)",
            # 门牌号：3-2-501
            r"门牌(?:号)?[:：]?\s*[0-9０-９A-Za-z\-－]+",
        )
    )
)
_REPEATED = re.compile(rf"(?:{re.escape(ROOM_MASK)}\s*)+{re.escape(ROOM_MASK)}")


def mask_rooms(text: str) -> str:
    """``text`` with every unit, floor-and-room and room number replaced by ``[门牌已隐去]`` (adjacent ones by one);
    masking twice changes nothing."""
    masked = _DOOR.sub(ROOM_MASK, text)
    return _REPEATED.sub(ROOM_MASK, masked) if masked != text else text
