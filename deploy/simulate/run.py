"""Drive a season against the running services: load the district, tighten the dispatch clocks, let the plan's
arrivals in at compressed time while the actors work, settle, reconcile, read the season report.

Time, honestly: the simulator compresses the calendar on its side only — arrivals, the actors' delays, and the
sensors' timestamps (on a simulated calendar that ends when the run starts, so no reading lies in the future).
The services run on the real clock, and their clocks cannot be compressed from outside; so for the run dispatch
gets a rule version whose clocks are the shipped ones divided by ``clock_speedup`` (``PUT /admin/rules``), which
lets 催办/通报/督办 fire during a run of a minute or two, and the previous rules are put back (as a new version) at
the end, also when the run fails or is interrupted. Every other clock stays real: follow-up's 24 h return-visit
deadline is a setting, not a rule, so no visit goes overdue; reports and cases carry wall-clock times, so the
season report covers the day(s) of the run, not the simulated days; and the weekly spot-check draw needs a
finished ISO week, so the simulator does not draw.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.simulate import actors, district, plan, reconcile
from deploy.simulate.api import Api, Credentials, Refused
from deploy.simulate.config import REPORT_ZONE, RULES_MARK, Options, build_district, build_plan, tight_rules
from deploy.simulate.plan import DAY, Arrival, Plan

# Every fifth 12345 caller calls again (催单) when the order is still open three simulated hours later.
HURRY_EVERY = 5
HURRY_AFTER_MINUTES = 180


@dataclass
class Outcome:
    options: Options
    run_tag: str
    district: district.District
    plan: Plan
    wall_s: float = 0.0
    accepted: dict[str, str] = field(default_factory=dict)  # report id → channel
    refused: Counter[str] = field(default_factory=Counter)
    per_day: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reconciliation: reconcile.Reconciliation | None = None
    season: dict[str, dict[str, Any]] = field(default_factory=dict)
    scorecard: list[dict[str, Any]] = field(default_factory=list)
    crew: actors.Crew | None = None
    rules: tuple[int, int] | None = None  # (tight version, restored version)
    console_url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reconciliation is not None and self.reconciliation.ok


class NotReady(RuntimeError):
    """A service did not answer ``/readyz``: nothing was changed."""


class Season:
    def __init__(self, options: Options, console: Console) -> None:
        self.o = options
        self.console = console
        self.district = build_district(options)
        self.plan = build_plan(self.district, options)
        self.tag = uuid.uuid4().hex[:8]  # keeps order numbers, keys and sensors of two runs apart
        self.creds = Credentials.from_env()
        self.api = Api(
            urls=options.urls,
            tokens=self.district.tokens(self.creds.auth_private_key),
            credentials=self.creds,
            patience=options.patience,
        )
        self.minute_s = options.speed / DAY
        self.out = Outcome(options, self.tag, self.district, self.plan)
        self.crew = actors.Crew(
            self.api, plan.Fates(options.seed), self.minute_s, self.log, poll_s=options.poll, names=self.district.names
        )
        self.out.crew = self.crew
        self.names = self.district.names
        self.district_person = next(p.sub for p in self.district.people if p.role == "district")
        self.sensor_ids = [f"SN-{self.tag}-{i:04d}" for i in range(len(self.plan.sensors))]
        self.progress: Progress | None = None

    def log(self, line: str) -> None:
        (self.progress.console if self.progress else self.console).print(line)

    # -- setup and teardown ------------------------------------------------------------------------------------

    async def check_ready(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            for name, url in self.o.urls.items():
                try:
                    r = await http.get(url + "/readyz")
                except httpx.HTTPError as exc:
                    raise NotReady(f"{name} 未就绪 ({url}): {exc!r} — 先运行 make services / make seed") from exc
                if r.status_code != 200:
                    raise NotReady(f"{name} 未就绪 ({url}): {r.status_code} {r.text[:200]}")
            r = await http.get(self.o.urls["dispatch"] + "/console/")
            self.out.console_url = self.o.urls["dispatch"] + "/console/" if r.status_code == 200 else None

    async def load_registry(self) -> None:
        body = self.district.intake_registry(list(zip(self.sensor_ids, self.plan.sensors, strict=True)))
        await self.api.request("intake", "PUT", "/admin/registry", label="registry", admin=True, body=body, retries=2)
        units = self.district.dispatch_units()
        await self.api.request("dispatch", "PUT", "/admin/units", label="units", admin=True, body=units, retries=2)

    async def tighten_rules(self) -> dict[str, Any]:
        history = await self.api.request("dispatch", "GET", "/admin/rules", label="rules", admin=True, retries=2)
        # A run killed before it could restore left its own version in force: restore the one before it.
        previous = next((h for h in history if not h["document"].get("version_note", "").startswith(RULES_MARK)), None)
        original: dict[str, Any] = (previous or history[0])["document"]
        tight = tight_rules(original, self.o.clock_speedup, self.tag)
        done = await self.put_rules(tight, f"simulator {self.tag}")
        self.out.rules = (done["version"], 0)
        return original

    async def put_rules(self, document: dict[str, Any], note: str) -> dict[str, Any]:
        return await self.api.request(  # type: ignore[no-any-return]
            "dispatch",
            "PUT",
            "/admin/rules",
            label="rules",
            admin=True,
            body=document,
            params={"note": note},
            retries=2,
        )

    async def cold_snap(self, active: bool) -> None:
        body: dict[str, Any] = {"active": active}
        if active:
            body["until"] = (datetime.now(UTC) + timedelta(seconds=DAY * self.minute_s * 1.5)).isoformat()
        await self.crew.guarded(
            "cold_snap",
            self.api.request(
                "dispatch",
                "PUT",
                f"/v1/districts/{self.district.id}/cold-snap",
                label="cold_snap",
                who=self.district_person,
                body=body,
                retries=2,  # a PUT of the flag's state: safe to resend
            ),
        )

    # -- arrivals ------------------------------------------------------------------------------------------------

    def _accept(self, day: int, channel: str, report_ids: list[str]) -> None:
        for rid in report_ids:
            self.out.accepted[rid] = channel
        self.out.per_day[day]["accepted"] += len(report_ids)

    async def deliver(self, a: Arrival) -> None:
        day = int(a.at // DAY)
        self.out.per_day[day][a.channel] += 1
        key = f"sim-{self.tag}-{a.seq}"
        try:
            if a.channel == "visit":
                findings = [
                    {"description": text, **({"category": cat.value} if cat else {})} for cat, text in a.findings
                ]
                body: dict[str, Any] = {
                    "household_id": a.household_id,
                    "measured_temp_c": a.temp_c,
                    "residents_reached": a.residents,
                    "findings": findings,
                    "idempotency_key": key,
                }
                visit = await self.api.log_visit(a.worker, body)
                self._accept(day, "visit_ledger", visit["report_ids"])
            elif a.channel == "grid":
                body = {
                    "household_id": a.household_id,
                    "category": a.category.value if a.category else None,
                    "description": a.text,
                    "measured_temp_c": a.temp_c,
                    "photo_refs": [await self.api.photo("intake", a.worker, label="grid_photo")],
                    "idempotency_key": key,
                }
                report = await self.api.grid_report(a.worker, body)
                self._accept(day, "grid_report", [report["id"]])
            else:
                body = {
                    "order_no": f"SIM-{self.tag}-{a.seq:05d}",
                    "household_id": a.household_id,
                    "category": a.category.value if a.category else None,
                    "content": a.text,
                    "accepted_at": datetime.now(UTC).isoformat(),
                }
                order = await self.api.hotline_order(body)
                self._accept(day, "hotline_12345", [order["report_id"]])
                if a.seq % HURRY_EVERY == 0:
                    await self.hurry_later(day, body["order_no"])
        except (Refused, httpx.HTTPError) as exc:
            self.out.refused[a.channel] += 1
            self.out.per_day[day]["refused"] += 1
            self.crew.errors.append(f"{a.channel} #{a.seq}: {exc}")

    async def hurry_later(self, day: int, order_no: str) -> None:
        """催单: some callers call again when their order is not closed a few hours later. The status is polled
        (a signed GET), and the hurry is idempotent by its operation id, so a resend is safe."""
        await asyncio.sleep(HURRY_AFTER_MINUTES * self.minute_s)
        status = await self.api.hotline_status(order_no)
        if status["status"] in ("closed", "withdrawn"):
            return
        try:
            await self.api.hotline_operation(
                order_no, "hurry", {"operation_id": f"{order_no}-hurry", "content": "居民再次来电：还没修好，请尽快"}
            )
        except Refused as refused:
            if refused.code != "order_closed":  # closed meanwhile: nothing to hurry
                raise
            return
        self.out.per_day[day]["hurried"] += 1

    async def sensor_batch(self, start: float, end: float, origin: datetime) -> None:
        day = int(start // DAY)
        readings = [
            {
                "sensor_id": self.sensor_ids[i],
                "measured_at": (origin + timedelta(minutes=t)).isoformat(),
                "temp_c": temp,
            }
            for i, t, temp in self.plan.readings(start, end)
        ]
        if not readings:
            return
        self.out.per_day[day]["readings"] += len(readings)
        try:
            result = await self.api.sensor_readings(readings)
        except (Refused, httpx.HTTPError) as exc:
            self.out.refused["sensor_batch"] += 1
            self.out.per_day[day]["refused"] += 1
            self.crew.errors.append(f"sensor batch {start:.0f}: {exc}")
            return
        self.out.per_day[day]["alerts"] += len(result["reports"])
        self._accept(day, "sensor", result["reports"])

    async def open_cases(self) -> tuple[int, int]:
        try:
            cases = await self.api.request(
                "dispatch", "GET", "/v1/cases", label="cases", who=self.district_person, params={"limit": 1000}
            )
        except (Refused, httpx.HTTPError):
            return -1, -1
        return len(cases), sum(1 for c in cases if c.get("overdue"))

    async def day_line(self, day: int) -> None:
        c = self.out.per_day[day]
        open_, overdue = await self.open_cases()
        snap = f"（寒潮 ×{self.o.surge:g}）" if day == self.plan.cold_snap_day else ""
        self.log(
            f"第{day + 1}天{snap}：走访 {c['visit']} 户 · 一键上报 {c['grid']} · 12345 工单 {c['hotline']} · "
            f"传感器读数 {c['readings']}（告警 {c['alerts']}）→ 受理 {c['accepted']} 条"
            + (f"，12345 催单 {c['hurried']}" if c["hurried"] else "")
            + (f"，拒收 {c['refused']}" if c["refused"] else "")
            + (f" · 在办案件 {open_}（超时 {overdue}）" if open_ >= 0 else "")
        )

    async def season(self) -> None:
        p = self.plan
        end = p.days * DAY
        origin = datetime.now(UTC) - timedelta(minutes=end)  # the simulated calendar ends now: readings are never ahead
        started = time.monotonic()
        pending = iter(p.arrivals)
        nxt = next(pending, None)
        hour, day = 60.0, 0
        snapped = burst_told = outage_told = False
        tasks: set[asyncio.Task[None]] = set()
        assert self.progress is not None
        bar = self.progress.add_task(f"模拟 {p.days} 天", total=end)

        def spawn(coro: Any) -> None:
            t = asyncio.create_task(coro)
            tasks.add(t)
            t.add_done_callback(tasks.discard)

        while True:
            now = (time.monotonic() - started) / self.minute_s
            if now >= (day + 1) * DAY and day < p.days:
                if day == p.cold_snap_day:
                    spawn(self.cold_snap(False))
                await self.day_line(day)
                day += 1
            if not snapped and now >= p.cold_snap_day * DAY:
                snapped = True
                self.log(f"第{p.cold_snap_day + 1}天 00:00 寒潮来袭：区里宣布寒潮，时限收紧，诉求量激增")
                spawn(self.cold_snap(True))
            if not burst_told and now >= p.burst[0]:
                burst_told = True
                self.log(
                    f"{_when(p.burst[0])} 爆管：{self.names.get(p.burst[1], p.burst[1])}暖气主管爆裂，多户居民陆续反映"
                )
            if not outage_told and now >= p.outage[0]:
                outage_told = True
                self.log(
                    f"{_when(p.outage[0])} 停暖：{self.names.get(p.outage[1], p.outage[1])}故障，所供楼栋居民陆续来电"
                )
            while nxt is not None and nxt.at <= now:
                spawn(self.deliver(nxt))
                nxt = next(pending, None)
            while hour <= min(now, end):
                spawn(self.sensor_batch(hour - 60, hour, origin))
                hour += 60
            self.progress.update(bar, completed=min(now, end))
            if now >= end and nxt is None and hour > end and day >= p.days:
                break
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    async def settle(self) -> None:
        """Wait (at most ``settle`` s) until every accepted report is closed; the actors keep working."""
        assert self.progress is not None
        waiting = set(self.out.accepted)
        bar = self.progress.add_task("办结（收尾）", total=len(waiting))
        deadline = time.monotonic() + self.o.settle
        while waiting and time.monotonic() < deadline:
            ids = sorted(waiting)
            found = await asyncio.gather(
                *(self.api.request("intake", "GET", f"/v1/reports/{r}", label="settle", who="admin") for r in ids),
                return_exceptions=True,
            )
            # Told it is closed (reconciliation then checks the status stayed so).
            waiting -= {r for r, x in zip(ids, found, strict=True) if isinstance(x, dict) and _told_closed(x)}
            self.progress.update(bar, completed=len(self.out.accepted) - len(waiting))
            if waiting:
                await asyncio.sleep(2.0)  # gently: intake also has events to apply
        if waiting:
            self.out.notes.append(f"收尾 {self.o.settle:g}s 后仍有 {len(waiting)} 条诉求在办（计为在办，逐条核对）")

    async def reports(self, first_day: str) -> None:
        for street in self.district.streets:
            try:
                self.out.season[street] = await self.api.request(
                    "followup",
                    "GET",
                    "/v1/reports/season",
                    label="season_report",
                    who=self.district_person,
                    params={"start": first_day, "street_id": street},
                    retries=2,
                )
            except Refused as exc:
                self.out.notes.append(f"季度报告 {street}: {exc}")
        try:
            card = await self.api.request(
                "followup",
                "GET",
                "/v1/scorecards",
                label="scorecard",
                who=self.district_person,
                params={"start": first_day, "group": "unit"},
                retries=2,
            )
            self.out.scorecard = card["lines"]
        except Refused as exc:
            self.out.notes.append(f"考核: {exc}")

    # -- the whole run -------------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        # SIGTERM cancels the run like Ctrl-C: the rules are restored and the cold snap lifted on the way out.
        if (task := asyncio.current_task()) is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        started = time.monotonic()
        first_day = datetime.now(REPORT_ZONE).date().isoformat()
        await self.check_ready()
        await self.load_registry()
        original = await self.tighten_rules()
        crew = [asyncio.create_task(t) for t in self._actors()]
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            ) as progress:
                self.progress = progress
                await self.season()
                await self.settle()
            self.progress = None
        finally:
            for t in crew:
                t.cancel()
            await asyncio.gather(*crew, return_exceptions=True)
            restored = await self.put_rules(original, f"simulator {self.tag}: restored")
            if self.out.rules:
                self.out.rules = (self.out.rules[0], restored["version"])
            await self.cold_snap(False)
        try:
            self.out.reconciliation = await reconcile.fetch(self.api, self.out.accepted, grace=10.0)
            await self.reports(first_day)
        finally:
            await self.api.close()
        self.out.wall_s = time.monotonic() - started
        return self.out

    def _actors(self) -> list[Any]:
        out: list[Any] = []
        for u in self.district.units:
            if u.type in ("street_task_force", "water_company"):
                continue  # the task force acts as its people; no route convenes the water company
            out.append(actors.assignee(self.crew, u.id, self.plan.profiles.get(u.id, plan.UnitProfile())))
        for person in self.district.people:
            if person.role == "task_force":
                out.append(actors.assignee(self.crew, person.sub, plan.UnitProfile()))
                out.append(actors.extension_desk(self.crew, person.sub))
            elif person.role == "grid_worker":
                out.append(actors.assignee(self.crew, person.sub, plan.UnitProfile()))
                out.append(actors.return_visits(self.crew, person.sub))
        return out


def _told_closed(report: dict[str, Any]) -> bool:
    return report["status"] == "closed" or any(e["status"] == "closed" for e in report.get("timeline", []))


def _when(minute: float) -> str:
    day, rest = divmod(int(minute), int(DAY))
    return f"第{day + 1}天 {rest // 60:02d}:{rest % 60:02d}"
