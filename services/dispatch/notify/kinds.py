"""What the notifier tells, and whom each kind of owner is."""

from __future__ import annotations

from enum import StrEnum


class NotifyKind(StrEnum):
    ASSIGNED = "assigned"  # 新派单 → the unit
    REMINDER = "reminder"  # 催办 → the unit
    NOTICE = "notice"  # 通报 → the unit, the community, the street task force
    SUPERVISION = "supervision"  # 督办 → the above and the district
    HOTLINE_HURRY = "hotline_hurry"  # 12345 催单 → the units holding the open clock
    HOTLINE_SUPPLEMENT = "hotline_supplement"  # 12345 补充诉求 → the same
    VISIT_DUE = "visit_due"  # 回访将到期 → the grid and the community
    VISIT_OVERDUE = "visit_overdue"  # 回访已超时 → the same
    SPOT_CHECK = "spot_check"  # 抽查 drawn → the street task force
    ALERT = "alert"  # an ops alert from Alertmanager → the on-call or the ops group


class OwnerKind(StrEnum):
    UNIT = "unit"  # a responsible unit (its id in the registry of units)
    AREA = "area"  # a grid, community, street or district (its id)
    OPS = "ops"  # an audience of operations alerts: ``oncall``, ``ops-group``
