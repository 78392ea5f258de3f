"""Pure intake rules: priority of a complaint. No I/O."""

from __future__ import annotations

from shared.contracts.common import Category, Priority

EMERGENCY_CATEGORIES = {Category.BURST_PIPE, Category.ICE_HAZARD}
URGENT_CATEGORIES = {Category.OUTAGE, Category.LEAK}
# Below this a room is not just under standard (18 °C) but a risk, whoever lives there.
DANGEROUSLY_COLD_C = 12.0


def priority_for(category: Category, *, priority_resident: bool, measured_temp_c: float | None) -> Priority:
    if category in EMERGENCY_CATEGORIES:
        return Priority.EMERGENCY
    base = Priority.URGENT if category in URGENT_CATEGORIES else Priority.NORMAL
    if measured_temp_c is not None and measured_temp_c < DANGEROUSLY_COLD_C:
        base = Priority.URGENT if base is Priority.NORMAL else Priority.EMERGENCY
    if priority_resident:  # 独居老人、残疾人、低保户: one step up
        base = Priority.URGENT if base is Priority.NORMAL else Priority.EMERGENCY
    return base


STATUS_NOTES = {
    "accepted": "已受理",
    "dispatched": "已派单",
    "signed_in": "责任单位已签收",
    "resolved": "已处置，待回访",
    "closed": "已办结",
    "reopened": "回访未通过，已发回重办",
}
