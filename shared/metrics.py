"""Prometheus metrics of the shared plumbing. Labels are bounded: service, topic, reason — never ids or text."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

LOOP_FAILURES = Counter(
    "background_loop_failures_total", "Steps of a background job that failed and were retried", ["service", "loop"]
)
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
# Durable timers (shared.timers).
TIMERS_FIRED = Counter("timers_fired_total", "Durable timers fired", ["service", "kind"])
TIMER_FAILURES = Counter("timer_failures_total", "Timer handlers that failed and were postponed", ["service", "kind"])
TIMER_LATENESS = Histogram(
    "timer_lateness_seconds",
    "How late a timer fired after its due time",
    ["service", "kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
TIMERS_PENDING = Gauge("timers_pending", "Timers scheduled and not yet fired", ["service", "kind"])
TIMERS_OVERDUE = Gauge("timers_overdue", "Timers past due and not yet fired", ["service"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events taken from Kafka by outcome (processed, duplicate, ignored, dead_lettered)",
    ["service", "topic", "event_type", "outcome"],
)
EVENT_HANDLER_RETRIES = Counter(
    "event_handler_retries_total", "Handler attempts that failed and were retried", ["service", "topic", "kind"]
)
CONSUMER_BATCH_SIZE = Histogram(
    "consumer_batch_events",
    "Events applied in one consumer transaction (a poll's records of one partition)",
    ["service", "topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
CONSUMER_BATCH_FALLBACKS = Counter(
    "consumer_batch_fallbacks_total",
    "Consumer batches rolled back and applied one event at a time (an event failed, raced or was not yet due)",
    ["service", "topic"],
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
    "HTTP request latency by route template (an event stream: until it opens)",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_BODY_TOO_LARGE = Counter(
    "http_body_too_large_total", "Requests refused with 413: a body above the route's limit", ["service"]
)
HTTP_RATE_LIMITED = Counter(
    "http_rate_limited_total",
    "Requests refused with 429 by a per-caller rate limit, by kind of caller (never the caller's id)",
    ["service", "kind"],
)

# Why a message is dead-lettered by the shared consumer (``BadEvent`` reasons and ``handler_error``). Handlers
# may add their own reasons (``PermanentError``); those series appear with their first dead letter.
DEAD_LETTER_REASONS = (
    "malformed",
    "oversized",
    "invalid_envelope",
    "unknown_event_type",
    "unsupported_schema_version",
    "invalid_payload",
    "handler_error",
)
HANDLER_RETRY_KINDS = ("transient", "error")


def prime(service: str, topics: Iterable[str]) -> None:
    """Create at zero the series of counters that stay at zero while all is well.

    A labelled counter is exported only once it has a child. Without this, the first dead letter or relay
    error would create its series at 1, ``increase()`` and ``rate()`` would see no change, the alerts built on
    them would miss it, and the dashboards would show "no data" where the truth is "none".
    """
    OUTBOX_PUBLISHED.labels(service)
    OUTBOX_ERRORS.labels(service)
    OUTBOX_PUBLISH_DELAY.labels(service)
    HTTP_BODY_TOO_LARGE.labels(service)
    for topic in topics:
        for reason in DEAD_LETTER_REASONS:
            DEAD_LETTERS.labels(service, topic, reason)
        for kind in HANDLER_RETRY_KINDS:
            EVENT_HANDLER_RETRIES.labels(service, topic, kind)
