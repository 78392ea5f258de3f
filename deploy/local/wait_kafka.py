#!/usr/bin/env python3
"""Wait until the local Kafka broker serves clients (used by deploy/local/stack).

Ready means a real client round trip, not an open port:
  1. AIOKafkaAdminClient bootstraps and list_topics() returns (Metadata), and
  2. the group coordinator answers for a probe group (OffsetFetch). The first
     such call makes the broker create __consumer_offsets; doing it here keeps
     the services' first consumer from logging GroupCoordinatorNotAvailable.

With --roundtrip it also creates a scratch topic, produces one message with an
idempotent acks=all producer and reads it back with a consumer group and a
manual commit (a smoke test; not used by `stack up`).

Usage: wait_kafka.py [--bootstrap 127.0.0.1:19092] [--timeout 90] [--roundtrip] [--quiet]
Exit codes: 0 ready, 1 timed out / failed, 2 aiokafka not importable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid

try:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    print(
        f"wait_kafka: cannot import aiokafka with {sys.executable} ({exc}).\n"
        "  Point PYTHON at an interpreter that has it, e.g. PYTHON=.venv/bin/python,\n"
        "  or install it: pip install aiokafka",
        file=sys.stderr,
    )
    sys.exit(2)

PROBE_GROUP = "__local_stack_probe"


def _short(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc) or name
    return text if text.startswith(name) else f"{name}: {text}"


async def _probe_once(bootstrap: str, attempt_timeout: float) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(attempt_timeout * 1000),
        client_id="local-stack-wait",
    )
    try:
        await asyncio.wait_for(admin.start(), attempt_timeout)
        topics = await asyncio.wait_for(admin.list_topics(), attempt_timeout)
        # Group coordinator (creates __consumer_offsets on first use).
        await asyncio.wait_for(admin.list_consumer_group_offsets(PROBE_GROUP), attempt_timeout)
        return list(topics)
    finally:
        try:
            await asyncio.wait_for(admin.close(), attempt_timeout)
        except Exception:
            pass


async def wait_ready(bootstrap: str, timeout: float, quiet: bool) -> bool:
    start = time.monotonic()
    last_error = "no attempt made"
    attempts = 0
    while True:
        attempts += 1
        remaining = timeout - (time.monotonic() - start)
        if remaining <= 0:
            break
        try:
            topics = await _probe_once(bootstrap, min(10.0, max(1.0, remaining)))
        except Exception as exc:
            last_error = _short(exc)
        else:
            if not quiet:
                print(
                    f"kafka ready at {bootstrap} after {time.monotonic() - start:.1f}s "
                    f"({attempts} attempt(s), {len(topics)} topic(s))"
                )
            return True
        await asyncio.sleep(min(0.5, max(0.0, timeout - (time.monotonic() - start))))
    print(
        f"wait_kafka: broker at {bootstrap} not ready after {time.monotonic() - start:.1f}s "
        f"({attempts} attempt(s)); last error: {last_error}",
        file=sys.stderr,
    )
    return False


async def roundtrip(bootstrap: str, timeout: float) -> None:
    start = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    topic = f"__local_stack_selftest_{tag}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resp = await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        errors = [e for e in resp.topic_errors if e[1] != 0]
        if errors:
            raise RuntimeError(f"create_topics failed: {errors}")
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            md = await producer.send_and_wait(topic, b"ping-" + tag.encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"__local_stack_selftest_{tag}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), timeout)
            await consumer.commit()
            tp = TopicPartition(topic, msg.partition)
            end = (await consumer.end_offsets([tp]))[tp]
            committed = await consumer.committed(tp)
        finally:
            await consumer.stop()
        if msg.value != b"ping-" + tag.encode() or committed != end:
            raise RuntimeError(f"unexpected round trip: value={msg.value!r} committed={committed} end={end}")
        print(
            f"kafka round trip ok: produced offset {md.offset}, consumed and committed "
            f"(lag {end - committed}) in {time.monotonic() - start:.1f}s"
        )
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


def main() -> int:
    default_bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=default_bootstrap)
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("KAFKA_WAIT_TIMEOUT", "90")))
    parser.add_argument("--roundtrip", action="store_true", help="also produce and consume one message")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args()

    # aiokafka logs every refused connection at ERROR while the broker starts.
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def run() -> int:
        if not await wait_ready(args.bootstrap, args.timeout, args.quiet):
            return 1
        if args.roundtrip:
            try:
                await roundtrip(args.bootstrap, args.timeout)
            except Exception as exc:
                print(f"wait_kafka: round trip failed: {_short(exc)}", file=sys.stderr)
                return 1
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
