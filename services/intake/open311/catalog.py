"""The services Open311 offers (the domain's categories) and the attributes every service definition declares."""

from __future__ import annotations

from typing import Any

from services.intake import texts
from services.intake.open311.wire import Open311Error
from shared.contracts.common import Category

SERVICES: dict[Category, tuple[str, str, str]] = {
    # code → (name, description, keywords)
    Category.COLD_ROOM: ("暖气不热 / 室温不达标", "室内温度低于18 °C，暖气片不热或温吞", "暖气不热,温度低,室温"),
    Category.LEAK: ("跑冒滴漏", "暖气片、阀门、管道漏水或滴水", "漏水,滴水,跑水"),
    Category.BURST_PIPE: ("爆管", "供热管道破裂、喷水（紧急）", "爆管,管道破裂"),
    Category.OUTAGE: ("停暖", "整户、整栋或整片没有暖气", "停暖,没暖气"),
    Category.CLOGGED_FILTER: ("滤网堵塞", "入户过滤器、除污器堵塞", "滤网,堵塞"),
    Category.AIR_LOCK: ("需排气", "暖气片有空气、需要排气", "排气,放气"),
    Category.UNDERFLOOR_IMBALANCE: ("地暖失衡", "地暖各回路冷热不均", "地暖"),
    Category.METERING_RETROFIT: ("分户改造", "供热分户计量改造相关诉求", "分户改造,热计量"),
    Category.FEE_DISPUTE: ("费用纠纷", "供暖费收取、退费争议", "费用,收费,退费"),
    Category.SUBSIDY_QUESTION: ("补贴政策咨询", "供暖补贴、减免政策咨询", "补贴,减免"),
    Category.ICE_HAZARD: ("漏水挂冰", "漏水在墙面、楼道结冰（安全隐患）", "挂冰,结冰"),
    Category.OTHER: ("其他供暖问题", "以上未列出的供暖问题", "其他"),
}
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "household_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "登记簿住户编号，如 H-LK-1-101（与 building_id 二选一，也可放在 address_id）",
        "order": 1,
        "description": "住户编号 (registry household id)",
        "values": [],
    },
    {
        "variable": True,
        "code": "building_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "登记簿楼栋编号，如 B-LK-1（整栋楼的问题）",
        "order": 2,
        "description": "楼栋编号 (registry building id)",
        "values": [],
    },
    {
        "variable": True,
        "code": "measured_temp_c",
        "datatype": "number",
        "required": False,
        "datatype_description": "摄氏度，-10 至 40",
        "order": 3,
        "description": "实测室温 (measured room temperature, °C)",
        "values": [],
    },
]


def service_list() -> list[dict[str, Any]]:
    return [
        {
            "service_code": category.value,
            "service_name": name,
            "description": description,
            "metadata": True,
            "type": "realtime",
            "keywords": keywords,
            "group": "供暖",
        }
        for category, (name, description, keywords) in SERVICES.items()
    ]


def category_of(code: str) -> Category:
    try:
        return Category(code)
    except ValueError as exc:
        raise Open311Error(404, texts.OPEN311_SERVICE_UNKNOWN) from exc
