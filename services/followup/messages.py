"""Texts people read (grid workers on a return visit), in one place."""

VISIT_NOT_FOUND = "未找到该回访任务"
VISIT_NOT_PENDING = "该回访已完成，无需重复登记"
NOT_YOUR_GRID = "该回访不在您负责的网格"
TEMP_IMPLAUSIBLE = "室温读数不合理（应在 0–35 °C 之间），请重新测量"
