"""No resident's name or phone number outside the registry: the loop is driven with names and numbers in every
channel's free text (a grid worker's report and visit, a 12345 order with the caller's number, an Open311 request,
a unit's notes, 退单 and 延期 and its decision, the return visit's notes), a unit's progress notes and the notes of
the task force and the grid worker also carry every phrasing of the detector's corpus (tests/unit/pii_corpus.py),
the contact route is read, a malformed message is dead-lettered; then every service log, every message of every
topic of the run (dead letters included: value, key and headers), every row of every table of the three databases
(but the registry's households, the console's accounts and the notification targets' duty phones) and what the
task force and the district are shown are
scanned for an unmasked mobile number, a seeded resident's name or a piece of personal data of the corpus."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.client import ApiFailure
from deploy.field_photo import field_jpeg
from deploy.local.services import SERVICES
from deploy.seed import registry
from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY
from services.intake.hotline import signed_headers
from shared.privacy import PHONE_MASK
from shared.topics import Topics
from tests.e2e.conftest import Running
from tests.harness import KAFKA, PG_PORT, envelopes, read_topic
from tests.unit.pii_corpus import POSITIVES, REGISTRY_NAMES

# A Chinese mobile number: 1[3-9] and nine digits, not inside a longer number, a decimal or an id (R-b135c157375…).
MOBILE = re.compile(r"(?<![0-9A-Za-z.])1[3-9]\d{9}(?![0-9A-Za-z])")
RESIDENTS = {h["id"]: (h["resident_name"], h["phone"]) for h in registry.read()["households"] if h.get("phone")}
NAMES = sorted({name for name, _ in RESIDENTS.values()})
CALLER_PHONE = "13912345678"  # a 12345 caller's own number, in no registry
# The caller's number as an operator may type it in the content, in a shape the detector alone does not take for a
# number (groups of two): only the order's caller_phone tells intake it is one.
CALLER_PHONE_TYPED = "139-12-345-678"
# Every phrasing of the corpus is fed. Those that name only a registry resident, bare (李兰平家…), can be redacted
# only by intake, which knows the household's resident: they go into a grid worker's visit finding, the corpus' names
# replaced by that household's resident. All others go into a unit's progress notes, which dispatch redacts knowing
# no one.
REGISTRY_ONLY = [p for p in POSITIVES if set(p.secrets) <= set(REGISTRY_NAMES)]
FED = [p.text for p in POSITIVES if p not in REGISTRY_ONLY]
assert len(FED) + len(REGISTRY_ONLY) == len(POSITIVES) and len(REGISTRY_ONLY) <= 10
# What of the corpus must be found nowhere: names, and numbers of 7+ digits (e-mail and account ids too).
CORPUS_SECRETS = sorted(
    {
        s
        for p in POSITIVES
        if p not in REGISTRY_ONLY
        for s in p.secrets
        if re.search(r"[\u4e00-\u9fff@]", s) or len(re.findall(r"\d", s)) >= 7 or re.search(r"[A-Za-z_]{5}", s)
    }
    | {CALLER_PHONE_TYPED}
)
# Photo references a client must not be able to store (refused: only keys of uploads granted here are photos).
BAD_PHOTOS = [
    "javascript:alert(1)",
    "刘海燕13800138000.jpg",
    "13800138000.jpg",
    "https://x.example.org/13800138000.jpg",
    "uploads/13800138000",
]
# Tables that hold names or numbers by design: the household registry (names and numbers stored once), console
# sign-ins, and the notification targets (units' and offices' duty phones, the numbers their messages go to; never a
# resident's, masked in every answer). The notifications themselves are scanned: no number is copied into them.
NOT_SCANNED = {"households", "accounts", "notify_targets", "alembic_version"}


@dataclass(frozen=True)
class Finding:
    where: str
    what: str
    context: str


def replace_names(text: str, name: str) -> str:
    for registry_name in REGISTRY_NAMES:
        text = text.replace(registry_name, name)
    return text


def scan(where: str, text: str) -> list[Finding]:
    found = [Finding(where, m.group(), text[max(0, m.start() - 40) : m.end() + 40]) for m in MOBILE.finditer(text)]
    for name in sorted({*NAMES, *CORPUS_SECRETS}):
        at = text.find(name)
        if at >= 0:
            found.append(Finding(where, name, text[max(0, at - 40) : at + len(name) + 40]))
    return found


async def topics_of_the_run(topics: Topics) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if t.startswith(topics.prefix))
    finally:
        await consumer.stop()


async def every_record(topic: str) -> list[Any]:
    """Every record on the topic now, from the beginning of each partition to its end."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            if parts := consumer.assignment():
                ends = await consumer.end_offsets(list(parts))
                if all([await consumer.position(tp) >= ends[tp] for tp in parts]):
                    return records
            assert asyncio.get_running_loop().time() < deadline, f"{topic}: could not read to the end"
    finally:
        await consumer.stop()


def record_text(record: Any) -> str:
    parts = [(record.key or b"").decode("utf-8", "replace"), (record.value or b"").decode("utf-8", "replace")]
    parts += [f"{k}={(v or b'').decode('utf-8', 'replace')}" for k, v in record.headers or ()]
    # Events are JSON with ensure_ascii: read them as the text they carry, escapes and all.
    try:
        parts.append(json.dumps(json.loads(record.value), ensure_ascii=False))
    except (TypeError, ValueError):
        pass
    return "\n".join(parts)


async def every_row(database: str) -> dict[str, str]:
    """Every table of ``database`` (but ``NOT_SCANNED``) as text, one JSON line a row."""
    conn = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database=database)
    try:
        tables = [
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {
            table: "\n".join(
                json.dumps(dict(row), default=str, ensure_ascii=False)
                for row in await conn.fetch(f'SELECT * FROM "{table}"')
            )
            for table in tables
            if table not in NOT_SCANNED
        }
    finally:
        await conn.close()


async def dead_letter(topics: Topics) -> None:
    """A malformed message: the consumers dead-letter it, so the .dlq topic has a record whose headers are read."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(topics.complaints, b"{not json", key=b"pii-scan")
    finally:
        await producer.stop()
    await read_topic(Topics.dlq(topics.complaints), until=lambda rs: any(r.key == b"pii-scan" for r in rs), timeout=60)


def test_no_phone_number_or_name_in_any_log_or_message(running: Running) -> None:
    c, s = running.client, running.services
    h1, h2, h3, h4 = "H-LK-1-101", "H-LK-1-102", "H-CH-45-101", "H-LK-2-201"
    (name1, phone1), (name2, phone2), (name3, phone3), (name4, phone4) = (RESIDENTS[h] for h in (h1, h2, h3, h4))

    # 一键上报 and 入户走访 by the grid worker, naming the resident and the number.
    grid = c.grid_report(
        "GW-01", household_id=h2, category="air_lock", description=f"{name2}家暖气片需排气，电话{phone2}，我叫王军"
    )
    visit = c.call(
        "intake",
        "POST",
        "/v1/visits",
        who="GW-01",
        json={
            "household_id": h1,
            "residents_reached": 1,
            "measured_temp_c": 16.5,
            "findings": [{"description": f"{name1}反映卧室暖气不热，联系电话{phone1}"}]
            + [{"description": replace_names(p.text, name1)} for p in REGISTRY_ONLY],
        },
    )
    # A 12345 order: the caller's name and numbers typed into the content and given apart.
    order = {
        "order_no": f"GD{uuid.uuid4().hex[:12].upper()}",
        "household_id": h4,
        "category": "leak",
        "content": (
            f"来电人{name4}，电话{phone4}，另一联系电话{CALLER_PHONE}，反映家中阀门漏水，回拨{CALLER_PHONE_TYPED}"
        ),
        "caller_name": name4,
        "caller_phone": CALLER_PHONE,
    }
    raw = json.dumps(order, ensure_ascii=False).encode()
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, raw) | {"Content-Type": "application/json"}
    hotline = httpx.post(s.url("intake") + "/hotline/v1/orders", content=raw, headers=headers, timeout=10)
    assert hotline.status_code == 201, hotline.text
    # Open311 with the submitter's name and phone.
    form = {
        "api_key": DEV_OPEN311_KEY,
        "service_code": "underfloor_imbalance",
        "attribute[household_id]": h3,
        "description": f"{name3}家地暖不热，联系电话{phone3}",
        "first_name": name3[1:],
        "last_name": name3[0],
        "phone": phone3,
    }
    open311 = httpx.post(s.url("intake") + "/open311/v2/requests.json", data=form, timeout=10)
    assert open311.status_code == 201, open311.text
    open311_id = open311.json()[0]["service_request_id"]

    # The units write notes naming whom they called, and read the resident's contact (whole: it is theirs).
    air_case = c.wait_case_of("GW-01", grid["id"])
    air = c.wait_assignment("U-HEAT-1", air_case)
    contact = c.call("intake", "GET", f"/v1/reports/{grid['id']}/contact", who="U-HEAT-1")
    assert (contact["resident_name"], contact["phone"], contact["masked"]) == (name2, phone2, False)
    c.act("U-HEAT-1", air["id"], "sign-in")
    c.act("U-HEAT-1", air["id"], "progress", note=f"已电话联系{name2[0]}先生{phone2}，约好下午上门")
    for note in FED:
        c.act("U-HEAT-1", air["id"], "progress", note=note)
    c.act("U-HEAT-1", air["id"], "arrive")
    photos = [c.upload_photo("dispatch", "U-HEAT-1", field_jpeg(datetime.now(UTC))) for _ in range(2)]
    for bad in BAD_PHOTOS:
        try:
            c.act("U-HEAT-1", air["id"], "resolve", action_taken="排气", measured_temp_c=20.5, photo_refs=[bad])
        except ApiFailure as refused:
            assert refused.response.status_code == 422 and "photo_refs" in refused.response.text, refused.response.text
        else:
            raise AssertionError(f"photo reference {bad!r} was stored")
    c.act(
        "U-HEAT-1",
        air["id"],
        "resolve",
        action_taken=f"电话{phone2}联系{name2[0]}先生后上门排气",
        measured_temp_c=20.5,
        photo_refs=photos,
    )
    leak_case = c.wait_for("the 12345 order's case", lambda: c.report("TF-JYG", hotline.json()["report_id"])["case_id"])
    leak = c.wait_assignment("U-PM-1", leak_case)
    c.act("U-PM-1", leak["id"], "sign-in")
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ext = c.act("U-PM-1", leak["id"], "extensions", reason=f"{name4[0]}女士（{phone4}）不在家，需延期", resolve_due=due)
    decision = {"approved": False, "note": f"{FED[0]}；{FED[-1]}"}
    c.call("dispatch", "POST", f"/v1/extensions/{ext['id']}/decision", who="TF-JYG", json=decision)
    c.act("U-PM-1", leak["id"], "return", reason="not_our_equipment", note=f"经{name4[0]}女士{phone4}确认为自装管道")
    # The return visit, with the resident's name and number in the worker's notes.
    rv = c.wait_visit("GW-01", air_case)
    c.record_visit(
        "GW-01",
        rv["id"],
        room_temps_c=[20.5],
        satisfaction="satisfied",
        notes=f"{name2}表示满意，电话{phone2}；{FED[1]}；{FED[-2]}",
    )
    asyncio.run(dead_letter(running.topics))

    # Wait for the facts of all of it to be on the topics, then read every topic of the run to its end.
    def has(topic: str, event_type: str, case_id: str) -> bool:
        return any(e.event_type == event_type and e.correlation_id == case_id for e in envelopes(records[topic]))

    records: dict[str, list[Any]] = {}

    async def read_all() -> list[str]:
        names = await topics_of_the_run(running.topics)
        for topic in names:
            records[topic] = await every_record(topic)
        return names

    t = running.topics
    for _ in range(60):
        names = asyncio.run(read_all())
        if (
            all(topic in records for topic in (t.complaints, t.cases, t.followup, Topics.dlq(t.complaints)))
            and has(t.cases, "AssignmentReturned", leak_case)
            and has(t.followup, "CaseClosed", air_case)
        ):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the loop's facts did not all reach the topics")
    assert Topics.dlq(running.topics.complaints) in names

    findings: list[Finding] = []
    for topic, recs in records.items():
        for r in recs:
            findings += scan(f"topic {topic} {r.partition}/{r.offset}", record_text(r))
    for service in SERVICES:
        log = s.log_file(service).read_text(encoding="utf-8", errors="replace")
        assert log, f"{service} wrote no log"
        findings += scan(f"log {s.log_file(service)}", log)
    # Every store of the three services, and what an overseer is shown.
    stores = {
        f"{service}.{table}": dump
        for service in SERVICES
        for table, dump in asyncio.run(every_row(s.databases[service])).items()
    }
    for store, dump in stores.items():
        findings += scan(f"table {store}", dump)
    shown = {}
    for who in ("TF-JYG", "DIST-CG"):
        for case_id in (air_case, leak_case):
            shown[f"GET /v1/cases/{case_id} as {who}"] = c.case(who, case_id)
            shown[f"GET /v1/visits?case_id={case_id} as {who}"] = c.call(
                "followup", "GET", "/v1/visits", who=who, params={"case_id": case_id, "status": "all"}
            )
        for report_id in (grid["id"], hotline.json()["report_id"], open311_id):
            shown[f"GET /v1/reports/{report_id} as {who}"] = c.report(who, report_id)
    shown["GET /v1/extensions as TF-JYG"] = c.call("dispatch", "GET", "/v1/extensions", who="TF-JYG")
    for where, body in shown.items():
        findings += scan(where, json.dumps(body, ensure_ascii=False))
    assert not findings, "personal data found:\n" + "\n".join(f"{f.where}: {f.what} in …{f.context}…" for f in findings)
    assert all(photo in stores["dispatch.assignments"] for photo in photos), "the photo references were not kept"
    for store in ("dispatch.case_events", "dispatch.assignments", "dispatch.extensions", "followup.visits"):
        assert PHONE_MASK in stores[store], f"{store}: the scan did not see the redacted notes"
    air_seen = shown[f"GET /v1/cases/{air_case} as TF-JYG"]
    assert sum(e["kind"] == "progress" for e in air_seen["timeline"]) == len(FED) + 1, "the corpus was not all fed"

    # The scan saw what it should have: the reports' events carry the redacted text.
    told = [
        e.payload["description"]
        for e in envelopes(records[running.topics.complaints])
        if e.event_type in ("ComplaintReported", "ComplaintGrouped")
        and e.payload["report_id"] in {grid["id"], hotline.json()["report_id"], open311_id, *visit["report_ids"]}
    ]
    assert len(told) == 4 + len(REGISTRY_ONLY) and sum(PHONE_MASK in d for d in told) >= 4, told
    units = {
        e.event_type: e.payload
        for e in envelopes(records[running.topics.cases])
        if e.correlation_id in (air_case, leak_case) and e.payload.get("unit_id") in ("U-HEAT-1", "U-PM-1")
    }
    for event_type, text in (
        ("AssignmentResolved", "action_taken"),
        ("ExtensionRequested", "reason"),
        ("AssignmentReturned", "note"),
    ):
        assert PHONE_MASK in units[event_type][text], units[event_type]
    assert len(scan("self-check", f"电话{phone2}，{name2}")) == 2
    assert not scan("self-check", f"电话{PHONE_MASK}，R-b135c15737594608，0.13877776666")
