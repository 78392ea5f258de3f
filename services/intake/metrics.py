"""Intake's Prometheus metrics. Labels are bounded sets (channel, category, scope, outcome, state): never ids,
names, phone numbers or text."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REPORTS_RECEIVED = Counter(
    "intake_reports_received_total",
    "Reports accepted (new or grouped) by channel and category",
    ["channel", "category"],
)
REPORTS_GROUPED = Counter(
    "intake_reports_grouped_total", "Reports linked to an open incident instead of opening a case", ["scope"]
)
DUPLICATES = Counter(
    "intake_duplicate_submissions_total", "Resent submissions answered with the report already stored", ["channel"]
)
HOTLINE_REFUSED = Counter(
    "intake_hotline_refused_total", "12345 requests refused before processing, by reason", ["reason"]
)
# Why (hotline.authenticate): a wrong secret and a body altered after signing are both a bad_signature. Created at
# zero, so increase() sees the first refusal of each kind. Over its rate limit: http_rate_limited_total{kind="hotline"}.
HOTLINE_REFUSAL_REASONS = (
    "unknown_integration",
    "missing_signature",
    "stale_timestamp",
    "bad_signature",
    "replayed_request",
)
for _reason in HOTLINE_REFUSAL_REASONS:
    HOTLINE_REFUSED.labels(_reason)
HOTLINE_OPERATIONS = Counter(
    "intake_hotline_operations_total",
    "12345 operations on its orders: withdraw (撤单), supplement, hurry (催单)",
    ["kind"],
)
for _kind in ("withdraw", "supplement", "hurry"):
    HOTLINE_OPERATIONS.labels(_kind)
CALLBACK_QUEUE = Gauge("intake_callbacks_queue", "12345 status callbacks by state", ["state"])
CALLBACK_DELIVERIES = Counter(
    "intake_callback_deliveries_total",
    "12345 callback attempts by outcome (delivered, http_error, timeout, network_error, dead)",
    ["outcome"],
)
CALLBACK_LATENCY = Histogram(
    "intake_callback_delivery_seconds",
    "Time from a case change to its callback being acknowledged by 12345",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
SENSOR_READINGS = Counter("intake_sensor_readings_total", "Sensor readings stored")
SENSOR_ALERTS = Counter("intake_sensor_alerts_total", "Reports raised by the sensor cold-room rule")
VISITS = Counter("intake_household_visits_total", "Household visits logged, by whether a problem was found", ["found"])
