"""Texts people read (grid workers, residents, the hotline, Open311 clients), in one place."""

from services.intake.states import ReportStatus, TimelineEntry
from shared.contracts.common import UnitType

HOUSEHOLD_UNKNOWN = "登记簿中没有该住户"
BUILDING_UNKNOWN = "登记簿中没有该楼栋"
HOUSEHOLD_NOT_IN_BUILDING = "该住户不属于所填楼栋"
NEED_PLACE = "请填写住户或楼栋"
REPORT_NOT_FOUND = "未找到该诉求"
NOT_YOUR_GRID = "该住户不在您负责的网格"
GRID_NOT_FOUND = "未找到该网格，或该网格不在您的辖区"
REGISTRY_INCOMPLETE = "楼栋 {id} 的上级区域不完整"
BUILDING_AREA_UNKNOWN = "楼栋 {id} 的网格或换热站不在登记簿中"
HOUSEHOLD_BUILDING_UNKNOWN = "住户 {id} 所属楼栋不在登记簿中"
SENSOR_HOUSEHOLD_UNKNOWN = "采集器 {id} 所属住户不在登记簿中"

# 12345
HOTLINE_UNKNOWN_INTEGRATION = "未登记的12345接入方"
HOTLINE_MISSING_SIGNATURE = "缺少签名或时间戳"
HOTLINE_STALE = "时间戳超出允许偏差（5分钟），请重新签名后发送"
HOTLINE_BAD_SIGNATURE = "签名校验失败"
HOTLINE_REPLAYED = "该签名已使用过（疑似重放），请用新的时间戳重新签名"
ORDER_NOT_FOUND = "未找到该工单"
ORDER_CLOSED = "该工单已办结，不能再撤单、补充或催单；新的诉求请另派新工单"
ORDER_WITHDRAWN = "该工单已撤单"
OPERATION_CONFLICT = "该操作编号已用于另一项操作或另一张工单"
CALLBACK_NOT_FOUND = "未找到该回调记录"
CALLBACK_NOT_DEAD = "只有已停止重试的回调可以重新投递"
# What 12345 is told of a status or timeline entry (states.Told); ``str`` keys, so a stored status looks it up.
HOTLINE_STATUS_TEXT: dict[str, str] = {
    ReportStatus.DISPATCHED: "已派单",
    ReportStatus.SIGNED_IN: "已签收",
    ReportStatus.RESOLVED: "已办理，待回访",
    ReportStatus.CLOSED: "已办结",
    ReportStatus.REOPENED: "发回重办",
    TimelineEntry.ESCALATED: "已督办",
    ReportStatus.WITHDRAWN: "已撤单",
}
# An escalation's callback says its step: a 催办 to the unit is not yet a 督办.
HOTLINE_ESCALATION_TEXT: dict[str, str] = {"reminder": "已催办", "notice": "已通报", "supervision": "已督办"}

# Sensors and the visit ledger
SENSOR_BATCH_TOO_LARGE = "单次最多上传 {max} 条读数"
SENSOR_UNKNOWN = "未登记的采集器: {ids}"
SENSOR_UNAUTHORIZED = "采集网关密钥无效"
SENSOR_ALERT_DESCRIPTION = "室温采集器 {sensor} 连续 {minutes} 分钟低于 {threshold} °C（最近一次 {temp} °C），自动上报"
VISIT_FINDING_DEFAULT = "入户走访发现问题"

# Open311 (error descriptions are read by app developers and, through their apps, by residents)
OPEN311_BAD_API_KEY = "api_key 无效 (invalid api_key)"
OPEN311_SERVICE_CODE_MISSING = "缺少 service_code (service_code not provided)"
OPEN311_SERVICE_UNKNOWN = "未知的 service_code (unknown service_code)"
OPEN311_LOCATION_MISSING = (
    "请用 address_id 或 attribute[household_id] / attribute[building_id] 给出登记簿中的住户或楼栋编号；"
    "本系统不按坐标或地址文字猜测位置 (a registry household or building id is required)"
)
OPEN311_LOCATION_UNKNOWN = "登记簿中没有该住户或楼栋 (unknown address_id)"
OPEN311_BAD_DATE = (
    "{name} 须为 2000 至 2100 年间的 W3C 时间，如 2026-11-20T08:00:00+08:00 "
    "({name} must be a W3C date-time in 2000–2100)"
)
OPEN311_BAD_STATUS = "status 只能是 open 或 closed (status must be open or closed)"
OPEN311_RANGE_TOO_LONG = "查询时间跨度不能超过 90 天 (the date range may not span more than 90 days)"
OPEN311_NOT_FOUND = "未找到该诉求 (service request not found)"
OPEN311_BAD_FORMAT = "只支持 json 或 xml (format must be json or xml)"
OPEN311_BAD_BODY = "请求体须为 application/x-www-form-urlencoded (form-encoded body expected)"
OPEN311_BAD_ATTRIBUTE = "attribute[{code}] 取值无效 (invalid attribute value)"
OPEN311_BAD_CHAR = (
    "参数 {name} 含有不允许的控制字符 {char}（XML 1.0 不允许的字符）"
    "(parameter {name} holds {char}, a character XML 1.0 forbids)"
)
OPEN311_PARAM_TOO_LONG = "参数 {name} 超过 {limit} 字 (parameter {name} longer than {limit} characters)"
OPEN311_BAD_ENCODING = "请求体须为 UTF-8 编码的表单 (the form must be UTF-8)"
OPEN311_BAD_VALUE = "参数含有无法保存的字符（如空字符）(a parameter holds a character that cannot be stored)"
OPEN311_RATE_LIMITED = "请求过于频繁，请 {seconds} 秒后再试 (rate limit exceeded, retry after {seconds} s)"
OPEN311_AGENCY = "城关区供热诉求办理"

# Who is handling a case, as the public status view names it: the kind of unit, never which one or who.
UNIT_TYPES = {
    UnitType.HEATING_COMPANY: "供热企业",
    UnitType.PROPERTY_MANAGER: "物业",
    UnitType.HOUSING_BUREAU: "住建部门",
    UnitType.WATER_COMPANY: "供水企业",
    UnitType.STREET_TASK_FORCE: "街道工作专班",
    UnitType.GRID: "网格员",
}
OPEN311_BAD_MEDIA_URL = "media_url 须为 https:// 或 http:// 开头的网址 (media_url must be an https:// or http:// URL)"
OPEN311_SERVER_ERROR = "服务器内部错误，请稍后再试 (internal error, try again later)"
OPEN311_NO_SUCH_CALL = "没有这个接口 (no such Open311 call)"
OPEN311_METHOD_NOT_ALLOWED = "该接口不支持此请求方法 (method not allowed)"

# Times a caller observed
IN_FUTURE = "时间晚于当前时间（允许误差 {seconds} 秒），请检查设备时钟 (time in the future)"
