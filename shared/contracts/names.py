"""The contract's enums in the words people read (Chinese): reports, consoles, notifications."""

from __future__ import annotations

CATEGORY_ZH: dict[str, str] = {
    "cold_room": "暖气不热",
    "leak": "跑冒滴漏",
    "burst_pipe": "爆管",
    "outage": "停暖",
    "clogged_filter": "滤网堵塞",
    "air_lock": "需排气",
    "underfloor_imbalance": "地暖失衡",
    "metering_retrofit": "分户改造",
    "fee_dispute": "费用纠纷",
    "subsidy_question": "补贴政策咨询",
    "ice_hazard": "漏水挂冰",
    "other": "其他",
}
UNIT_TYPE_ZH: dict[str, str] = {
    "heating_company": "供热企业",
    "property_manager": "物业",
    "housing_bureau": "住建部门",
    "water_company": "供水企业",
    "street_task_force": "街道工作专班",
    "grid": "网格",
}
