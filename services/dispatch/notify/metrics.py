"""The notifier's metrics. Labels: channel, kind, outcome, state — bounded sets, never a target or a case."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MADE = Counter("dispatch_notifications_made_total", "Notifications owed (a row per target)", ["kind", "channel"])
SENDS = Counter(
    "dispatch_notification_sends_total",
    "Tries to send notifications, by outcome (a digest is one try)",
    ["channel", "outcome"],
)
DELIVERED = Counter("dispatch_notifications_delivered_total", "Notifications delivered", ["channel", "kind"])
PARKED = Counter("dispatch_notifications_parked_total", "Notifications parked after their tries ran out", ["channel"])
DIGESTED = Counter("dispatch_notification_digests_total", "Sends that carried more than one notification", ["channel"])
LATENCY = Histogram(
    "dispatch_notification_latency_seconds",
    "From the event (or a reminder's hour) to the notification's delivery",
    ["channel"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
QUEUE = Gauge("dispatch_notifications_queue", "Notifications not yet delivered, by state", ["state"])
