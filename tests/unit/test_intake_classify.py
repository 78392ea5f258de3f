"""The Chinese free-text classifier on the phrasings residents and 12345 operators actually use."""

from __future__ import annotations

import pytest

from services.intake.domain import classify, temperature_in
from shared.contracts.common import Category

C = Category


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 暖气不热 / 温度低 / 不热
        ("居民反映暖气不热，室温只有15度", C.COLD_ROOM),
        ("家里温度低，老人受不了", C.COLD_ROOM),
        ("暖气片不太热，摸着温吞", C.COLD_ROOM),
        ("屋里太冷了，晚上睡觉要穿棉袄", C.COLD_ROOM),
        ("室温不达标，测了16.5℃", C.COLD_ROOM),
        ("暖气没有去年热", C.COLD_ROOM),
        ("房间一直不暖和", C.COLD_ROOM),
        ("暖气上热下凉", C.COLD_ROOM),
        # 漏水 / 滴水 / 跑水
        ("卫生间暖气片漏水", C.LEAK),
        ("阀门一直在滴水，地上都湿了", C.LEAK),
        ("楼上跑水了，水顺着墙往下流", C.LEAK),
        ("暖气接口处渗水", C.LEAK),
        # 爆管 / 管道破裂
        ("48号楼主管道爆管，楼道里全是水", C.BURST_PIPE),
        ("地下室管道破裂，正在喷水", C.BURST_PIPE),
        ("暖气管子突然爆了", C.BURST_PIPE),
        # 停暖 / 没暖气
        ("整栋楼停暖了", C.OUTAGE),
        ("从昨天开始就没暖气", C.OUTAGE),
        ("小区到现在还没有暖气", C.OUTAGE),
        ("暖气停了一天了也没人管", C.OUTAGE),
        ("我们单元一直不供暖", C.OUTAGE),
        # the rest of the domain's list
        ("入户滤网堵塞，需要清洗", C.CLOGGED_FILTER),
        ("过滤器堵了导致不热", C.CLOGGED_FILTER),
        ("暖气片里有空气，需要排气", C.AIR_LOCK),
        ("暖气一直有哗哗声", C.AIR_LOCK),
        ("地暖一半热一半凉", C.UNDERFLOOR_IMBALANCE),
        ("分户改造什么时候开始，同意率够了吗", C.METERING_RETROFIT),
        ("供暖费收费标准有疑问，要求退费", C.FEE_DISPUTE),
        ("低收入家庭的采暖补贴怎么申请", C.SUBSIDY_QUESTION),
        ("楼道里漏水挂冰，老人容易滑倒", C.ICE_HAZARD),
        ("外墙结冰了，很危险", C.ICE_HAZARD),
        ("咨询一下物业电话", C.OTHER),
    ],
)
def test_realistic_phrasings(text: str, expected: Category) -> None:
    assert classify(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("暖气片已经不漏水了，就是不热", C.COLD_ROOM),
        ("没有漏水，也没有结冰，就是温度低", C.COLD_ROOM),
        ("管道没有破裂，是暖气不热", C.COLD_ROOM),
        ("家里不冷，想问问供暖费怎么交", C.FEE_DISPUTE),
    ],
)
def test_negated_cues_do_not_decide(text: str, expected: Category) -> None:
    assert classify(text) is expected


def test_more_specific_or_more_dangerous_wins() -> None:
    assert classify("漏水以后墙上挂冰") is C.ICE_HAZARD
    assert classify("交了暖气费还是不热") is C.COLD_ROOM
    assert classify("爆管之后全楼停暖") is C.BURST_PIPE


def test_temperatures_quoted_in_text() -> None:
    assert temperature_in("室温只有13度") == 13.0
    assert temperature_in("测了16.5℃") == 16.5
    assert temperature_in("屋里才十四度") == 14.0
    assert temperature_in("家里只有九度") == 9.0
    assert temperature_in("暖气不热") is None
    assert temperature_in("住在3号楼") is None
