"""Vocabulary used by several contracts: categories, priorities, channels, unit types, the location of a case."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """What went wrong (docs/domain.md, Categories, priorities, tiers, unit types)."""

    COLD_ROOM = "cold_room"  # 暖气不热 / 室温不达标
    LEAK = "leak"  # 跑冒滴漏
    BURST_PIPE = "burst_pipe"  # 爆管
    OUTAGE = "outage"  # 停暖
    CLOGGED_FILTER = "clogged_filter"  # 滤网堵塞
    AIR_LOCK = "air_lock"  # 需排气
    UNDERFLOOR_IMBALANCE = "underfloor_imbalance"  # 地暖失衡
    METERING_RETROFIT = "metering_retrofit"  # 分户改造
    FEE_DISPUTE = "fee_dispute"  # 费用纠纷
    SUBSIDY_QUESTION = "subsidy_question"  # 补贴政策咨询
    ICE_HAZARD = "ice_hazard"  # 漏水挂冰
    OTHER = "other"


class Priority(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"


class Channel(StrEnum):
    GRID_REPORT = "grid_report"  # 网格员一键上报
    HOTLINE_12345 = "hotline_12345"
    OPEN311 = "open311"
    SENSOR = "sensor"  # 室温采集器
    VISIT_LEDGER = "visit_ledger"  # 入户走访


class UnitType(StrEnum):
    HEATING_COMPANY = "heating_company"  # 供热企业
    PROPERTY_MANAGER = "property_manager"  # 物业
    HOUSING_BUREAU = "housing_bureau"  # 住建
    WATER_COMPANY = "water_company"
    STREET_TASK_FORCE = "street_task_force"  # 街道工作专班
    GRID = "grid"  # 网格员: a minor case settled on site by the grid


class Tier(StrEnum):
    MINOR = "minor"  # 网格员现场化解
    TECHNICAL = "technical"  # 网格吹哨、部门报到
    COMPLEX = "complex"  # 街道专班牵头


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    MOSTLY = "mostly"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class Location(BaseModel):
    """Where the problem is, in both trees: geography and heat network. Ids only, never personal data."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    district_id: str
    street_id: str
    community_id: str
    grid_id: str
    compound_id: str
    building_id: str
    household_id: str | None = Field(default=None, description="None for a building-wide problem.")
    substation_id: str | None = Field(default=None, description="换热站 feeding the building.")
    place_name: str | None = Field(
        default=None,
        max_length=300,
        description="The place as people name it (小区 · 楼栋 · 单元 · 室), for staff screens; no personal data. "
        "Absent in events written before it existed.",
    )


def place_label(compound: str, building: str, unit_no: str | None = None, room: str | None = None) -> str:
    """小区 · 楼栋 · 单元 · 室: "粮库家属院 · 1号楼 · 1单元 · 101室". A building named after its compound
    ("粮库家属院1号楼") is shortened to what follows the compound's name."""
    short = building[len(compound) :].strip(" ·-") if compound and building.startswith(compound) else building
    parts = [compound, short or building]
    if unit_no:
        parts.append(unit_no if unit_no.endswith("单元") else f"{unit_no}单元")
    if room:
        parts.append(room if room.endswith("室") else f"{room}室")
    return " · ".join(p for p in parts if p)
