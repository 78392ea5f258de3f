"""Prometheus metrics of the shared plumbing. Labels are bounded: service, topic, reason — never ids or text."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["service"])
OUTBOX_ERRORS = Counter("outbox_relay_errors_total", "Outbox relay iterations that failed", ["service"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_unsent_seconds", "Age of the oldest unpublished outbox row", ["service"])
OUTBOX_PUBLISH_DELAY = Histogram(
    "outbox_publish_delay_seconds",
    "Time from commit of an event to its acknowledgement by Kafka",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events taken from Kafka by outcome (processed, duplicate, ignored, dead_lettered)",
    ["service", "topic", "event_type", "outcome"],
)
EVENT_HANDLER_RETRIES = Counter(
    "event_handler_retries_total", "Handler attempts that failed and were retried", ["service", "topic", "kind"]
)
DEAD_LETTERS = Counter("dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic", "reason"])
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag", "Messages behind the end of the partition", ["service", "topic", "partition"]
)
HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route template and status class", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
