"""The anonymous views' masking of a household's door (services.intake.public_text): what a resident writes about
where they live is masked, the building and what is not a door survive."""

from __future__ import annotations

import pytest

from services.intake.public_text import ROOM_MASK, mask_rooms

DOORS = [
    ("3单元501室暖气不热", "3单元501室"),
    ("家住3号楼3单元501室，暖气片冰凉", "3单元501室"),
    ("3-2-501家里只有14度", "3-2-501"),
    ("３－２－５０１室暖气不热", "３－２－５０１室"),
    ("3－2－501 暖气不热", "3－2－501"),
    ("报修地址 2-501，阀门漏水", "2-501"),
    ("501室卧室不热", "501室"),
    ("1202房间的暖气片漏水", "1202房间"),
    ("302户家里没暖气", "302户"),
    ("2单元楼道暖气管漏水", "2单元"),
    ("三单元五层东户没有暖气", "三单元五层东户"),
    ("二单元502号暖气不热", "二单元502号"),
    ("5楼501不热，老人在家", "5楼501"),
    ("五楼东户一直不热", "五楼东户"),
    ("6层602室暖气片不热", "6层602室"),
    ("1单元5层502室，室温只有12度", "1单元5层502室"),
    ("门牌号：3-2-501，暖气不热", "门牌号：3-2-501"),
    ("3栋2单元-1号滴水", "2单元-1号"),
    ("住在4单元301，家里冷", "4单元301"),
]

KEPT = [
    "室温只有15.5度，暖气片温吞",
    "测得室温13.8℃，低于18度",
    "2026-12-04 08:30 报修，至今未处理",
    "12月4日晚上8点开始不热",
    "12345工单号GD20261204000123，请尽快处理",
    "订单号12345-0001 已回访",
    "案件 C-3f2a9b 已派单",
    "温度在16-18度之间波动",
    "3号楼整栋不热",
    "5栋楼道漏水结冰",
    "供水压力0.35MPa",
    "室内外温差20度",
    "已等待3天，打了2次电话",
    "2026/12/04 回访满意",
    "换热站1号机组检修",
]


@pytest.mark.parametrize(("text", "door"), DOORS)
def test_a_door_is_masked_and_the_rest_kept(text: str, door: str) -> None:
    masked = mask_rooms(text)
    assert door not in masked and ROOM_MASK in masked, masked
    assert masked.replace(ROOM_MASK, door, 1) == text, masked


@pytest.mark.parametrize("text", KEPT)
def test_what_is_not_a_door_survives(text: str) -> None:
    assert mask_rooms(text) == text


def test_the_building_stays_and_masking_twice_changes_nothing() -> None:
    once = mask_rooms("3号楼2单元501室和3号楼2单元502室都不热")
    assert once == f"3号楼{ROOM_MASK}和3号楼{ROOM_MASK}都不热"
    assert mask_rooms(once) == once
    assert mask_rooms("2单元 501室") == ROOM_MASK
