"""Operations through Prometheus, proven live: a real Prometheus (Debian's package) scrapes the three services
as processes every second, with the alert rules of deploy/prometheus/rules, while traffic goes through the loop.

The scenario drives every alert's firing condition on purpose and records what Prometheus answered at that
moment; the dashboards' queries are evaluated afterwards, with all services still up:

- the loop: a cold room closed at the first return visit; another still cold, reopened and closed in a second
  round; a 退单; a 延期 approved;
- tiny clocks for air locks (PUT /admin/rules): the case climbs 催办 → 通报 → 督办 within seconds, stays open
  past supervision (AssignmentOverduePastSupervision), then is signed in and resolved late (SlaBreachRateHigh);
- dispatch's inbox locked while a complaint and 150 malformed messages arrive: the lag grows
  (ConsumerLagGrowing); once released the malformed ones are dead-lettered (DeadLettersArrived);
- an outbox row two minutes old that the relay cannot claim (OutboxOldestUnsent), and one it cannot publish
  (OutboxRelayFailing);
- follow-up's spot-check table renamed away for a moment: its gauges job fails step after step
  (BackgroundJobFailing);
- followup stopped at the end (ServiceDown).
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.client import HeatingClient
from deploy.local.prometheus import PrometheusServer, config_for, ensure_installed, write_config
from deploy.local.services import RECEIVER, REPO, SERVICES, ServiceSet
from deploy.seed import registry
from services.dispatch.notify.settings import DEV_ALERT_TOKEN
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    PG_PORT,
    RUN_ID,
    check_stack,
    drop_database,
    free_ports,
    fresh_database,
    new_prefix,
    run_db,
)
from tests.observability import AlertRule, PanelQuery, alert_rules, panel_queries

# Per partition of the complaints topic, and more than ConsumerLagGrowing's threshold of 100: only the consumer
# holding the blocked complaint stalls (each of a service's consumers owns some partitions), so every partition gets
# enough junk for that consumer's share alone to cross the threshold.
JUNK_PER_PARTITION = 120
TINY_CLOCKS = {"sign_in": 0.05, "on_site": 0.1, "resolve": 0.15}  # minutes: 3 s, 6 s, 9 s (x priority factors)


@dataclass
class Observed:
    prometheus: PrometheusServer
    firing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # alert → its expression's answer
    states: dict[str, str] = field(default_factory=dict)  # alert → pending / firing in /api/v1/alerts
    panels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # query id → its answer
    errors: dict[str, str] = field(default_factory=dict)  # query or rule → the error Prometheus gave
    rules_loaded: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)  # alert → seconds into the scenario; total


class Scenario:
    def __init__(self, services: ServiceSet, client: HeatingClient, prometheus: PrometheusServer, topics: Topics):
        self.services = services
        self.client = client
        self.prom = prometheus
        self.topics = topics
        self.observed = Observed(prometheus)
        self.rules = {r.name: r for r in alert_rules()}
        self.started = time.monotonic()

    # -- Prometheus ------------------------------------------------------------------------------------------

    def wait_query(
        self, what: str, expr: str, timeout: float = 45, where: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Poll an instant query until it answers (with a series carrying the labels ``where``, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.prom.query(expr)
            if any(where is None or where.items() <= s["metric"].items() for s in result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}: {expr}")
            time.sleep(0.5)

    def panel(self, expr: str, patience: float = 25) -> list[dict[str, Any]]:
        """A panel's query; an answer with no number to show is asked again until ``patience`` runs out (and then
        returned)."""
        deadline = time.monotonic() + patience
        while not finite(result := self.prom.query(expr)) and time.monotonic() < deadline:
            time.sleep(1.0)
        return result

    def fires(self, alert: str, where: dict[str, str] | None = None, timeout: float = 45) -> None:
        """The alert's own expression answers (for the series ``where``), and Prometheus's rule evaluation has
        picked it up."""
        rule = self.rules[alert]
        self.observed.firing[alert] = self.wait_query(f"{alert} to fire", rule.expr, timeout, where)
        self.observed.states[alert] = self.client.wait_for(
            f"{alert} pending or firing in /api/v1/alerts",
            lambda: next((a["state"] for a in self.prom.alerts() if matches(a["labels"], alert, where)), None),
            timeout=15,
            every=0.25,
        )
        self.observed.timings[alert] = round(time.monotonic() - self.started, 1)

    # -- the loop --------------------------------------------------------------------------------------------

    def report(self, worker: str, household: str, category: str, temp: float = 15.5) -> tuple[str, str]:
        r = self.client.grid_report(
            worker, household_id=household, category=category, description="居民反映暖气不热", measured_temp_c=temp
        )
        return r["id"], self.client.wait_case_of(worker, r["id"])

    def fix(self, unit: str, case_id: str, round_: int, temp: float) -> dict[str, Any]:
        c = self.client
        a = c.wait_assignment(unit, case_id, round_)
        c.act(unit, a["id"], "sign-in")
        c.act(unit, a["id"], "arrive")
        c.act(unit, a["id"], "resolve", action_taken="排气、清洗滤网", measured_temp_c=temp)
        return a

    def visit(self, worker: str, case_id: str, round_: int, temps: list[float], satisfaction: str) -> str:
        v = self.client.wait_visit(worker, case_id, round_)
        status: str = self.client.record_visit(worker, v["id"], room_temps_c=temps, satisfaction=satisfaction)["status"]
        return status

    def set_tiny_clocks(self, category: str) -> None:
        url, headers = self.services.url("dispatch"), {"X-Admin-Token": DEV_ADMIN_TOKEN}
        current = httpx.get(f"{url}/admin/rules", headers=headers, timeout=10).json()[0]["document"]
        current["sla"][category] = TINY_CLOCKS
        r = httpx.put(f"{url}/admin/rules", json=current, params={"note": "observability test"}, headers=headers)
        r.raise_for_status()

    def run(self) -> Observed:
        c = self.client
        self.observed.rules_loaded = {
            r["name"] for g in self.prom.api("rules")["groups"] for r in g["rules"] if r["type"] == "alerting"
        }

        # Air locks get clocks of seconds: this case climbs the whole escalation chain while the loop runs.
        self.set_tiny_clocks("air_lock")
        _, late_case = self.report("GW-01", "H-LK-2-201", "air_lock")

        _, closed_case = self.report("GW-01", "H-LK-1-101", "cold_room")
        self.fix("U-HEAT-1", closed_case, 1, 20.5)
        assert self.visit("GW-01", closed_case, 1, [20.5, 19.0], "satisfied") == "closed"

        _, redo_case = self.report("GW-03", "H-CH-45-101", "cold_room")
        self.fix("U-HEAT-2", redo_case, 1, 17.0)
        assert self.visit("GW-03", redo_case, 1, [16.0, 17.5], "dissatisfied") == "reopened"
        self.fix("U-HEAT-2", redo_case, 2, 20.0)
        assert self.visit("GW-03", redo_case, 2, [20.0, 19.5], "mostly") == "closed"

        _, returned_case = self.report("GW-02", "H-DF-3-301", "cold_room")
        a = c.wait_assignment("U-HEAT-2", returned_case)
        c.act("U-HEAT-2", a["id"], "return", reason="not_our_equipment", note="户内阀门问题，属物业")

        _, extended_case = self.report("GW-03", "H-CH-48-201", "cold_room")
        a = c.wait_assignment("U-HEAT-2", extended_case)
        c.act("U-HEAT-2", a["id"], "sign-in")
        due = (datetime.now(UTC) + timedelta(days=4)).isoformat()
        ext = c.act("U-HEAT-2", a["id"], "extensions", reason="需更换入户主管", resolve_due=due)
        c.call("dispatch", "POST", f"/v1/extensions/{ext['id']}/decision", who="TF-JYG", json={"approved": True})

        # The air lock is past 督办 by now and still not signed in.
        self.fires("AssignmentOverduePastSupervision", {"unit_id": "U-HEAT-1"})
        self.fix("U-HEAT-1", late_case, 1, 19.0)  # late on every clock; its return visit stays pending
        self.fires("SlaBreachRateHigh", {"unit_type": "heating_company"})

        asyncio.run(self.lag_and_dead_letters())
        asyncio.run(self.stuck_outbox())
        asyncio.run(self.failing_relay())
        asyncio.run(self.failing_job())
        self.parked_notification()

        # The timer-lateness panel is a rate over 5 min: the air lock's chain may be older than that by now, so
        # another air lock climbs its tiny clocks just before the panels are read.
        self.report("GW-01", "H-LK-1-102", "air_lock")
        self.wait_query(
            "dispatch's timers to fire again", 'sum(increase(timers_fired_total{service="dispatch"}[1m])) > 0', 60
        )

        # Every dashboard query, with all three services up. Some gauges are refreshed from the database every
        # 10 s (follow-up's pending visits): a query is asked again for a while before its emptiness counts.
        for q in panel_queries():
            try:
                self.observed.panels[q.id] = self.panel(q.promql)
            except RuntimeError as exc:
                self.observed.errors[q.id] = str(exc)
        for rule in self.rules.values():  # every rule expression is valid in the current state too
            try:
                self.prom.query(rule.expr)
            except RuntimeError as exc:
                self.observed.errors[rule.name] = str(exc)

        self.services.stop("followup")
        self.fires("ServiceDown", {"job": "followup"})
        return self.observed

    # -- failure conditions, driven on purpose ---------------------------------------------------------------

    async def lag_and_dead_letters(self) -> None:
        """dispatch's consumer blocks on a locked inbox while messages pile up behind it."""
        conn = await connect(self.services.databases["dispatch"])
        lock = conn.transaction()
        await lock.start()
        try:
            await conn.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
            await asyncio.to_thread(
                self.client.grid_report,
                "GW-02",
                household_id="H-DF-3-302",
                category="cold_room",
                description="暖气不热",
                measured_temp_c=16.0,
            )
            await asyncio.to_thread(
                self.wait_query,
                "dispatch to hold the complaint",
                'sum(faststream_received_messages_in_process{app_name="dispatch"}) > 0',
            )
            producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
            await producer.start()
            try:
                for partition in sorted(await producer.partitions_for(self.topics.complaints)):
                    for i in range(JUNK_PER_PARTITION):
                        await producer.send(
                            self.topics.complaints, value=b"not json", key=f"junk-{i}".encode(), partition=partition
                        )
                await producer.flush()
            finally:
                await producer.stop()
            await asyncio.to_thread(self.fires, "ConsumerLagGrowing", {"service": "dispatch"})
        finally:
            await lock.rollback()
            await conn.close()
        # followup reads the complaints too, and dead-letters the junk at once; dispatch only after the lock
        await asyncio.to_thread(self.fires, "DeadLettersArrived", {"service": "dispatch", "reason": "malformed"})

    async def stuck_outbox(self) -> None:
        """A committed outbox row two minutes old, locked so that intake's relay skips it (SKIP LOCKED)."""
        conn = await connect(self.services.databases["intake"])
        try:
            template = await conn.fetchval("SELECT value FROM outbox ORDER BY id LIMIT 1")
            for _ in range(5):
                row_id = await insert_outbox_row(conn, self.topics, template, age=timedelta(minutes=2))
                hold = conn.transaction()
                await hold.start()
                try:
                    locked = await conn.fetchval(
                        "SELECT id FROM outbox WHERE id = $1 AND sent_at IS NULL FOR UPDATE NOWAIT", row_id
                    )
                except asyncpg.LockNotAvailableError:
                    locked = None
                if locked is None:  # the relay claimed it first (it polls every 0.5 s): try again
                    await hold.rollback()
                    continue
                try:
                    await asyncio.to_thread(self.fires, "OutboxOldestUnsent", {"service": "intake"})
                finally:
                    await conn.execute("DELETE FROM outbox WHERE id = $1", row_id)
                    await hold.commit()
                return
            raise AssertionError("the relay claimed every probe row before it could be locked")
        finally:
            await conn.close()

    async def failing_relay(self) -> None:
        """A row that is not an event: followup's relay fails on it every second until it is removed."""
        conn = await connect(self.services.databases["followup"])
        try:
            row_id = await insert_outbox_row(conn, self.topics, "{}", age=timedelta(0))
            try:
                await asyncio.to_thread(self.fires, "OutboxRelayFailing", {"service": "followup"})
            finally:
                await conn.execute("DELETE FROM outbox WHERE id = $1", row_id)
        finally:
            await conn.close()

    async def failing_job(self) -> None:
        """Follow-up's gauges job reads the spot-check table every 10 s and, once it fails, again every second: with
        the table renamed away it fails step after step until the name is back."""
        conn = await connect(self.services.databases["followup"])
        try:
            await conn.execute("ALTER TABLE spot_checks RENAME TO spot_checks_away")
            try:
                await asyncio.to_thread(self.fires, "BackgroundJobFailing", {"service": "followup", "loop": "gauges"})
            finally:
                await conn.execute("ALTER TABLE spot_checks_away RENAME TO spot_checks")
        finally:
            await conn.close()

    def parked_notification(self) -> None:
        """An ops group whose 钉钉 robot was set up with the wrong secret: the receiver refuses the alert posted to
        it (310000) and the notification is parked at once."""
        receiver, dispatch = self.services.url(RECEIVER), self.services.url("dispatch")
        target = {"owner_kind": "ops", "owner_id": "obs-group", "channel": "dingtalk", "name": "错误的密钥"}
        target["config"] = {"url": f"{receiver}/dingtalk/robot/send?access_token=obs", "secret": "SECwrong"}
        admin = {"X-Admin-Token": DEV_ADMIN_TOKEN}
        httpx.put(f"{dispatch}/admin/notify/targets", json=target, headers=admin, timeout=10).raise_for_status()
        alert = {"status": "firing", "labels": {"alertname": "Probe", "severity": "ticket"}, "annotations": {}}
        body = {"version": "4", "status": "firing", "alerts": [{**alert, "startsAt": datetime.now(UTC).isoformat()}]}
        token = {"Authorization": f"Bearer {DEV_ALERT_TOKEN}"}
        url = f"{dispatch}/notify/v1/alertmanager?audience=obs-group"
        httpx.post(url, json=body, headers=token, timeout=10).raise_for_status()
        self.fires("DeliveriesParked", {"service": "dispatch"})


def matches(labels: dict[str, str], alert: str, where: dict[str, str] | None) -> bool:
    return labels["alertname"] == alert and (where or {}).items() <= labels.items()


async def connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database=database)


async def insert_outbox_row(conn: asyncpg.Connection, topics: Topics, value: str, *, age: timedelta) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO outbox (event_id, event_type, topic, key, value, created_at) "
        "VALUES ($1, 'ObservabilityProbe', $2, 'observability-probe', $3::jsonb, now() - $4::interval) RETURNING id",
        uuid.uuid4(),
        topics.prefix + "observability.probe",
        value,
        age,
    )
    return row_id


@pytest.fixture(scope="module")
def observed() -> Iterator[Observed]:
    started = time.monotonic()
    asyncio.run(check_stack())
    ensure_installed()
    databases = {name: run_db(f"{name}_obs") for name in SERVICES}
    for db in databases.values():
        asyncio.run(fresh_database(db))
    *service_ports, prom_port = free_ports(len(SERVICES) + 1)
    services = ServiceSet(
        state_dir=REPO / ".local" / "e2e-services" / f"{RUN_ID}-obs",
        ports=dict(zip(SERVICES, service_ports, strict=True)),
        databases=databases,
        topic_prefix=new_prefix("obs"),
    )
    state = REPO / ".local" / "e2e-prometheus" / RUN_ID
    config = config_for({n: f"127.0.0.1:{services.ports[n]}" for n in SERVICES}, scrape_interval="1s")
    prometheus = PrometheusServer(write_config(state / "prometheus.yml", config), prom_port, state)
    services.down()
    try:
        services.up()
        prometheus.start()
        prometheus.wait_ready()
        doc = registry.read()
        registry.load(
            doc,
            intake_url=services.url("intake"),
            dispatch_url=services.url("dispatch"),
            admin_token=DEV_ADMIN_TOKEN,
            receiver=services.url(RECEIVER),  # the units hear of their orders: the notification panels have data
        )
        client = HeatingClient(
            intake=services.url("intake"),
            dispatch=services.url("dispatch"),
            followup=services.url("followup"),
            tokens=registry.tokens(doc, DEV_AUTH_PRIVATE_KEY),
        )
        scenario = Scenario(services, client, prometheus, Topics(services.topic_prefix))
        scenario.wait_query("all three services scraped", 'count(up{job=~"intake|dispatch|followup"} == 1) == 3')
        result = scenario.run()
        result.timings["total"] = round(time.monotonic() - started, 1)
        client.close()
        yield result
    finally:
        prometheus.stop()
        services.down()
        for db in databases.values():
            asyncio.run(drop_database(db))
        shutil.rmtree(state, ignore_errors=True)


def finite(result: list[dict[str, Any]]) -> bool:
    """At least one sample is a number a panel can show (NaN and ±Inf are not)."""
    values = [float(s["value"][1]) for s in result]
    return any(v == v and abs(v) != float("inf") for v in values)


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: q.id)
def test_dashboard_query_returns_data(observed: Observed, query: PanelQuery) -> None:
    assert query.id not in observed.errors, observed.errors.get(query.id)
    result = observed.panels[query.id]
    assert result, f"no data for {query.promql}"
    assert finite(result), f"only NaN/Inf for {query.promql}: {result}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r.name)
def test_alert_rule_fires_when_its_condition_is_driven(observed: Observed, rule: AlertRule) -> None:
    assert rule.name in observed.rules_loaded, "Prometheus loaded the rule from deploy/prometheus/rules"
    assert rule.name not in observed.errors, observed.errors.get(rule.name)
    assert observed.firing.get(rule.name), f"{rule.name} was never driven to fire"
    assert observed.states[rule.name] in ("pending", "firing")


def test_alerts_name_what_was_broken(observed: Observed) -> None:
    def series(alert: str) -> list[dict[str, str]]:
        return [s["metric"] for s in observed.firing[alert]]

    assert {"unit_id": "U-HEAT-1", "unit_type": "heating_company"} in series("AssignmentOverduePastSupervision")
    assert {"unit_type": "heating_company"} in series("SlaBreachRateHigh")
    assert {"service": "intake"} in series("OutboxOldestUnsent")
    assert {"service": "followup"} in series("OutboxRelayFailing")
    assert {"service": "followup", "loop": "gauges"} in series("BackgroundJobFailing")
    assert any(m["job"] == "followup" for m in series("ServiceDown"))
    assert any(m["service"] == "dispatch" and m["reason"] == "malformed" for m in series("DeadLettersArrived"))
    lag = {s["metric"]["service"]: float(s["value"][1]) for s in observed.firing["ConsumerLagGrowing"]}
    assert lag["dispatch"] > 100
