"""Texts people read (grid workers on a return visit, the street task force, report readers), in one place."""

from __future__ import annotations

from shared.contracts import names

# -- errors ---------------------------------------------------------------------------------------------------
VISIT_NOT_FOUND = "未找到该回访任务"
VISIT_NOT_PENDING = "该回访已完成或已取消，无需重复登记"
TEMP_IMPLAUSIBLE = "室温读数不合理（应在 0–35 °C 之间），请重新测量"
TEMPS_REQUIRED = "见到居民时请至少录入一个房间的实测室温"
SATISFACTION_REQUIRED = "见到居民时请登记居民满意度（满意/基本满意/不满意）"
NO_SATISFACTION_WHEN_UNREACHED = "未联系上居民时不能登记满意度"
READING_REQUIRED_UNREACHED = "再次未联系上居民：本次须录入实测室温（室温采集器或邻户协助测量），按温度判定"
PHOTO_REF_INVALID = "照片引用不能为空，且不超过 300 个字符"
SPOT_CHECK_NOT_FOUND = "未找到该抽核任务"
SPOT_CHECK_NOT_PENDING = "该抽核已登记结果"
SPOT_CHECK_CASE_NOT_CLOSED = "该案件已不处于办结状态，无需抽核"
# Refusals of moves that are only ever asked about (states: ``allows``), never answered to a caller: a round whose
# verdict is in, an assignment copy a late or repeated event of dispatch would move backwards.
ROUND_DECIDED = "该轮次已有回访结论"
CASE_WITHDRAWN = "该案件已撤单，不再办理"
ASSIGNMENT_MOVED_ON = "该派单已进入后续环节，此事件不改变其状态"
WEEK_INVALID = "周次格式应为 2026-W47"
WEEK_NOT_OVER = "只能抽取已结束的周次"
AREA_NOT_FOUND = "未找到该区域的数据"
ONE_AREA = "请指定一个社区（community_id）或一个街道（street_id）"
DATE_IN_FUTURE = "日期不能晚于今天"
RANGE_INVALID = "起始日期不能晚于结束日期"
RANGE_TOO_LONG = "时间范围过长（最多 400 天）"

# -- words ------------------------------------------------------------------------------------------------------
# The contract's words in Chinese, one definition shared with dispatch's notifications.
CATEGORY_ZH, UNIT_TYPE_ZH = names.CATEGORY_ZH, names.UNIT_TYPE_ZH
NOTABLE_ZH = {
    "supervision": "提级督办",
    "notice": "通报",
    "reminder": "催办",
    "reopened": "回访未通过、发回重办",
    "spot_check_failed": "抽核未通过、重新办理",
    "visit_overdue": "回访超时",
    "closed_unreached": "两次未联系上居民、按实测温度办结",
    "priority_resident_open": "重点人群诉求在办",
}

# -- reports ------------------------------------------------------------------------------------------------------
DAILY_TITLE = "{area}{day}日报告"
DAILY_TEXT = (
    "{day}，{area}走访{households}户{residents}名居民，排查问题{found}条，已解决{solved}条"
    "（其中现场化解{settled}条），在办{open}条，超时未办{overdue}件，催办督办{escalated}件；"
    "完成回访{return_visits}户，回访超时{visits_overdue}户。"
)
SEASON_TEXT = (
    "{first}至{last}，{area}累计走访辖区{households}户{residents}名居民，排查问题{found}条，"
    "已解决{solved}条，在办{open}条；完成回访{return_visits}户，回访满意率{satisfaction}，平均实测室温{mean_temp}。"
)
SEASON_TREND_HEAD = "逐日走势："
SEASON_TREND_LINE = "{day}  走访{households}户  排查{found}条  解决{solved}条  在办{open}条  超时{overdue}件"
NOTABLE_HEAD = "重点关注："
NOTABLE_LINE = "{n}. {case_id}（{category}，{place}）：{what}"
NONE_NOTABLE = "今日无需重点关注的案件。"
NOT_AVAILABLE = "—"

DAILY_LABELS = {
    "date": "日期",
    "area_id": "区域",
    "ledger_visits": "走访人次",
    "households_visited": "走访户数",
    "residents_reached": "走访居民数",
    "problems_found": "排查问题",
    "found_on_visits": "走访发现问题",
    "settled_on_site": "现场化解",
    "solved": "已解决",
    "reopened": "重新办理",
    "withdrawn": "撤单",
    "open": "在办",
    "overdue": "超时未办",
    "escalated": "催办督办",
    "cases_closed": "办结案件",
    "return_visits": "完成回访",
    "visits_overdue": "回访超时",
}

SCORE_LABELS = {
    "rank": "排名",
    "key": "单位/类别/区",
    "unit_type": "单位类型",
    "assignments": "派单数",
    "returns": "退单数",
    "escalations": "升级次数",
    "sign_in_counted": "应签收",
    "signed_in_on_time": "按时签收",
    "on_time_sign_in_rate": "按时签收率",
    "resolve_counted": "应办结",
    "resolved_on_time": "按时办结",
    "on_time_resolve_rate": "按时办结率",
    "rounds": "已判定轮次",
    "rounds_reopened": "返工轮次",
    "redo_rate": "返工率",
    "spot_checks": "抽核数",
    "spot_check_failures": "抽核未通过",
    "visits_answered": "回访答复数",
    "visits_satisfied": "满意及基本满意",
    "satisfaction_rate": "满意率",
    "visits_measured": "回访测温数",
    "visits_compliant": "室温达标数",
    "temperature_compliance": "室温达标率",
    "mean_temp_c": "平均实测室温",
    "photos": "办结照片数",
    "photos_flagged": "照片时间存疑",
    "score": "综合得分",
}

# 12345 热线考核 (assessment): the columns of its CSV and the console, and its formulas in the answer
ASSESSMENT_LABELS = {
    "rank": "排名",
    "key": "单位/类别",
    "unit_type": "单位类型",
    "assignments": "派单数",
    "cases": "案件数",
    "sign_in_due": "应签收",
    "signed_in": "已签收",
    "response_rate": "响应率",
    "signed_in_on_time": "按时签收",
    "on_time_sign_in_rate": "按时签收率",
    "cases_decided": "已有回访结论案件",
    "cases_closed": "办结案件",
    "resolution_rate": "解决率",
    "visits_answered": "回访答复数",
    "visits_satisfied": "满意及基本满意",
    "satisfaction_rate": "满意率",
    "resolve_due": "应办结",
    "resolved_on_time": "按时办结",
    "on_time_resolve_rate": "按时办结率",
    "cases_hurried": "被催单案件",
    "repeat_complaint_rate": "重复诉求率",
    "composite": "综合得分",
}

ASSESSMENT_FORMULAS = {
    "cohort": "考核期内派给该单位的派单（按派单时间计入），已撤单案件不计入任何单位",
    "response_rate": "已签收派单数 ÷ 应签收派单数（已签收 + 超过签收时限仍未签收；时限前退单或撤回的不计）",
    "on_time_sign_in_rate": "按时签收派单数 ÷ 应签收派单数",
    "resolution_rate": "办结案件数 ÷ 已有回访结论的案件数（以该单位参与处置的最后一轮为准：回访通过且未被抽核推翻为"
    "办结，发回重办为未解决；仍待回访的不计）",
    "satisfaction_rate": "（满意 + 基本满意）÷ 有满意度答复的回访数（该单位参与处置的轮次）",
    "on_time_resolve_rate": "按时办结派单数 ÷ 应办结派单数（已办结 + 超过办结时限仍未办结；延期批准后以新时限为准）",
    "repeat_complaint_rate": "被催单案件数 ÷ 案件数（催单时该单位持有未结束的派单才计入该单位）",
    "composite": "100 × Σ 权重×指标 ÷ Σ 权重，指标为响应率、解决率、满意率（默认权重 30/35/35；无数据的指标不计）",
}
