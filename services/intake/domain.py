"""Pure intake rules, no I/O: classification of Chinese free text, priority, personal-data redaction, grouping
keys, the sensor cold-room rule, request signatures and callback back-off."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.intake.states import ReportStatus, TimelineEntry
from shared import privacy
from shared.contracts.common import Category, Priority

# -- priority ----------------------------------------------------------------------------------------

EMERGENCY_CATEGORIES = {Category.BURST_PIPE, Category.ICE_HAZARD}
URGENT_CATEGORIES = {Category.OUTAGE, Category.LEAK}
# Below this a room is not just under standard (18 °C) but a risk, whoever lives there.
DANGEROUSLY_COLD_C = 12.0
STANDARD_ROOM_C = 18.0


def priority_for(category: Category, *, priority_resident: bool, measured_temp_c: float | None) -> Priority:
    if category in EMERGENCY_CATEGORIES:
        return Priority.EMERGENCY
    base = Priority.URGENT if category in URGENT_CATEGORIES else Priority.NORMAL
    if measured_temp_c is not None and measured_temp_c < DANGEROUSLY_COLD_C:
        base = Priority.URGENT if base is Priority.NORMAL else Priority.EMERGENCY
    if priority_resident:  # 独居老人、残疾人、低保户: one step up
        base = Priority.URGENT if base is Priority.NORMAL else Priority.EMERGENCY
    return base


# -- classification of free text ------------------------------------------------------------------------

# Most specific and most dangerous first: the first category with an affirmed cue wins, so "漏水挂冰" is an
# ice hazard, "滤网堵塞导致不热" a clogged filter, and "交了暖气费还是不热" a cold room rather than a fee question.
_CUES: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.ICE_HAZARD, (r"挂冰", r"结冰", r"冰溜子?", r"冰柱", r"冰凌", r"结了冰", r"冻成冰")),
    (
        Category.BURST_PIPE,
        (
            r"爆管",
            r"(管道|管子|水管|暖气管|主管|立管|管线|暖气片|散热器)(突然)?(破裂|爆裂|爆开|爆了|裂开|裂了|崩了|炸了)",
            r"管道破",
            r"爆裂",
            r"喷水",
            r"水柱",
        ),
    ),
    (
        Category.OUTAGE,
        (
            r"停暖",
            r"断暖",
            r"没有?暖气",
            r"无暖气",
            r"暖气(停了|断了|没了|没来|还没来|一直没来|停止)",
            r"(不|没有?|未|停止|中断)供暖",
            r"供暖(中断|停了|停止)",
            r"还没来暖",
            r"没来暖",
        ),
    ),
    (
        Category.LEAK,
        (
            r"漏水",
            r"滴水",
            r"跑水",
            r"渗水",
            r"冒水",
            r"跑冒滴漏",
            r"(阀门|接口|接头|暖气片|管子|管道|水管)(在)?(漏|滴|渗)",
            r"漏了",
            r"往下滴",
            r"水(漫|淹)",
        ),
    ),
    (Category.CLOGGED_FILTER, (r"滤网", r"过滤器", r"除污器", r"堵塞", r"堵了", r"(管道|管子)堵")),
    (Category.AIR_LOCK, (r"排气", r"放气", r"放风", r"气堵", r"气塞", r"有空气", r"(咕噜|哗哗|呼噜)(声|响)")),
    (Category.UNDERFLOOR_IMBALANCE, (r"地暖", r"地热", r"分水器", r"地面不热")),
    (Category.METERING_RETROFIT, (r"分户改造", r"分户计量", r"热计量", r"计量表", r"热表", r"入户改造", r"改造")),
    (
        Category.COLD_ROOM,
        (
            r"(暖气|暖器|气片|暖气片|散热器|房子|屋子?|家里|室内|房间)?不(太|怎么|够|是很)?(热|暖和)",
            r"没有?(以前|往年|去年|之前)?(热|暖和)",
            r"温度(太|偏|很|特别)?低",
            r"温度(不够|不达标|上不去|上不来)",
            r"室温(低|不达标|不够|偏低|只有)",
            r"(太|很|特别|非常|好|挺)(冷|凉)",
            r"冰凉",
            r"冻(得|死|手|脚)",
            r"温吞",
            r"半温",
            r"上热下凉",
            r"(不|没)达标",
            r"冷",
        ),
    ),
    (
        Category.FEE_DISPUTE,
        (r"费用", r"收费", r"缴费", r"交费", r"暖气费", r"供暖费", r"取暖费", r"退费", r"多收", r"乱收", r"催缴"),
    ),
    (Category.SUBSIDY_QUESTION, (r"补贴", r"补助", r"减免", r"救助")),
)
_COMPILED = tuple((cat, tuple(re.compile(p) for p in pats)) for cat, pats in _CUES)
_NEGATORS = ("不", "没", "未", "无", "别", "非")
_CLAUSE_BREAK = re.compile(r"[，,。.；;！!？?、\s]")


def _negated(text: str, start: int, cue: str) -> bool:
    """A cue such as 漏水 is negated by 不/没/未/无 within the three characters before it in the same clause
    (没有漏水, 已经不漏了, 并未结冰). Cues that carry their own negation (不热, 没暖气) are never negated again."""
    if cue[:1] in _NEGATORS:
        return False
    window = text[max(0, start - 3) : start]
    parts = _CLAUSE_BREAK.split(window)
    return any(n in parts[-1] for n in _NEGATORS)


def classify(text: str) -> Category:
    """The category a resident's or operator's wording points to; ``other`` when nothing does."""
    for category, patterns in _COMPILED:
        for pattern in patterns:
            for match in pattern.finditer(text):
                if not _negated(text, match.start(), match.group(0)):
                    return category
    return Category.OTHER


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_TEMP_ARABIC = re.compile(r"(?<![\d.])(-?\d{1,2}(?:\.\d)?)\s*(?:度|℃|°C|°)")
_TEMP_CHINESE = re.compile(r"([零一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])度")


def _cn_number(word: str) -> int:
    if "十" not in word:
        return _CN_DIGITS[word]
    tens, _, ones = word.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def temperature_in(text: str) -> float | None:
    """An indoor temperature quoted in the text (室温只有13度, 十四度), if one is plausible."""
    for match in _TEMP_ARABIC.finditer(text):
        value = float(match.group(1))
        if -10 <= value <= 35:
            return value
    for match in _TEMP_CHINESE.finditer(text):
        value = float(_cn_number(match.group(1)))
        if value <= 35:
            return value
    return None


# -- personal data ------------------------------------------------------------------------------------

# Redaction and masking live in shared.privacy (event contracts apply it too); intake redacts with the names the
# registry knows before anything leaves it.
redact = privacy.redact


# -- grouping ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupKey:
    """Where reports meet: one household and category, or a building / substation incident."""

    key: str
    scope: str  # household, building, substation
    scope_id: str
    windowed: bool  # building and substation incidents take new reports only within the window


def group_keys(
    category: Category, *, household_id: str | None, building_id: str, substation_id: str | None
) -> tuple[list[GroupKey], GroupKey]:
    """(groups a new report may join, in order of preference; the group it opens when it joins none).

    - the same household and category attach to the open case;
    - a burst pipe is the building's incident; an outage is the substation's (the building's without one);
    - an open substation outage absorbs the cold-room reports of every building it feeds.
    """
    if category is Category.BURST_PIPE:
        own = GroupKey(f"building:{building_id}:{category.value}", "building", building_id, True)
        return [own], own
    if category is Category.OUTAGE:
        own = _outage_key(building_id, substation_id)
        return [own], own
    if household_id:
        own = GroupKey(f"household:{household_id}:{category.value}", "household", household_id, False)
    else:
        own = GroupKey(f"building:{building_id}:{category.value}", "building", building_id, False)
    if category is Category.COLD_ROOM:
        return [_outage_key(building_id, substation_id), own], own
    return [own], own


def _outage_key(building_id: str, substation_id: str | None) -> GroupKey:
    if substation_id:
        return GroupKey(f"substation:{substation_id}:outage", "substation", substation_id, True)
    return GroupKey(f"building:{building_id}:outage", "building", building_id, True)


def joinable(key: GroupKey, *, last_report_at: datetime, now: datetime, window: timedelta) -> bool:
    return not key.windowed or now - last_report_at <= window


# -- sensors ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColdRun:
    """A sensor's state: since when it has read below the threshold without a break, and its latest reading."""

    cold_since: datetime | None
    last_at: datetime | None
    last_temp_c: float | None


def advance(
    run: ColdRun, readings: Sequence[tuple[datetime, float]], *, threshold_c: float, duration: timedelta
) -> tuple[ColdRun, datetime | None]:
    """Feed readings (sorted by time) to a sensor's run. Returns the new run and the first reading of this batch at
    which the run had lasted ``duration``, if any (whether a report follows is the caller's call: one per open
    case). Readings older than the latest one seen are stored but do not move the run."""
    cold_since, last_at, last_temp = run.cold_since, run.last_at, run.last_temp_c
    reached: datetime | None = None
    for at, temp in readings:
        if last_at is not None and at <= last_at:
            continue
        last_at, last_temp = at, temp
        if temp < threshold_c:
            cold_since = cold_since or at
            if reached is None and at - cold_since >= duration:
                reached = at
        else:
            cold_since = None
    return ColdRun(cold_since, last_at, last_temp), reached


# -- 12345 signatures and callbacks -------------------------------------------------------------------------


# -- what people are told -------------------------------------------------------------------------------

# By status or timeline entry (states.Told); a ``str`` key so a status read from the database looks its note up.
STATUS_NOTES: dict[str, str] = {
    ReportStatus.ACCEPTED: "已受理",
    TimelineEntry.GROUPED: "已并入同一事件，与相关诉求一并处置",
    ReportStatus.DISPATCHED: "已派单",
    ReportStatus.SIGNED_IN: "责任单位已签收",
    ReportStatus.RESOLVED: "已处置，待回访",
    ReportStatus.CLOSED: "已办结",
    ReportStatus.REOPENED: "回访未通过，已发回重办",
    TimelineEntry.ESCALATED: "已催办",
    ReportStatus.WITHDRAWN: "已撤单",
    TimelineEntry.SUPPLEMENTED: "补充诉求",
    TimelineEntry.HURRIED: "催单（重复诉求），已转责任单位",
}
ESCALATION_NOTES = {
    "reminder": "已向责任单位催办",
    "notice": "已通报社区和街道工作专班",
    "supervision": "已提级督办",
}
