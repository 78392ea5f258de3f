"""Texts people read from the notifier's API (Chinese)."""

TARGET_INVALID = "通知渠道配置有误"
TARGET_NOT_FOUND = "未找到该通知对象"
NOTIFICATION_NOT_FOUND = "未找到该通知"
NOTIFICATION_NOT_PARKED = "该通知未被搁置，无需重发"
ALERT_TOKEN_INVALID = "告警推送令牌无效"
