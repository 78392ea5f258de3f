"""After the storm, straight from the three databases: nothing doubled, nothing skipped, nothing left unsaid.

Duplicates — one submission, two reports; a report in two cases; two live assignments of one unit in one round of
a case; an escalation step recorded twice for the same clock and deadline; two return-visit tasks for the same
case, round and household; a 12345 callback numbered twice, or the same fact told twice in a row; a fact applied
twice to a report's timeline.

Lost or skipped — an accepted report without a case; a case of dispatch's nobody in intake knows; an open clock
whose deadline passed without the escalation steps it was owed, or that runs with no live timer; a resolved round
with no return-visit task; a verdict follow-up reached that dispatch never applied; an escalation follow-up never
heard of; a closed 12345 order whose platform was never told; a callback never delivered; a timer overdue and not
fired; a case open with nothing that will move it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from deploy.chaos.receiver import Receiver
from services.dispatch.domain import later
from services.dispatch.workdays import WorkCalendar, WorkingHours, amended_year

GRACE = timedelta(seconds=10)  # a timer fires within a poll (0.5 s) of its due time; this is generous
# Channels whose submissions are resent with the same key until answered, and the simulator's name for them.
KEYED = {"grid_report": "grid", "hotline_12345": "hotline", "visit_ledger": "visit"}
OPEN_ASSIGNMENT = ("dispatched", "signed_in", "on_site")
CLOCKS = {"sign_in": ("dispatched",), "on_site": ("dispatched", "signed_in"), "resolve": OPEN_ASSIGNMENT}
DUE = {"sign_in": "sign_in_due", "on_site": "on_site_due", "resolve": "resolve_due"}


@dataclass
class Audit:
    duplicates: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def dup(self, kind: str, items: list[Any]) -> None:
        self._add(self.duplicates, kind, items)

    def loss(self, kind: str, items: list[Any]) -> None:
        self._add(self.lost, kind, items)

    def _add(self, into: Counter[str], kind: str, items: list[Any]) -> None:
        into[kind] += len(items)
        if items:
            self.examples.setdefault(kind, []).extend(str(i) for i in items[:5])

    @property
    def duplicates_found(self) -> int:
        return sum(self.duplicates.values())

    @property
    def lost_found(self) -> int:
        return sum(self.lost.values())


async def _connect(port: int, database: str) -> Any:
    return await asyncpg.connect(
        host="127.0.0.1", port=port, user="heat", password="heat", database=database, timeout=10
    )


async def run(
    *, pg_port: int, accepted: dict[str, str], refused: Counter[str], receiver: Receiver, dead_letters: int
) -> Audit:
    """``accepted``: report id → channel of every report the simulator got a 2xx for; ``refused``: per channel, the
    submissions it gave up on (their reports may exist without the simulator knowing)."""
    out = Audit()
    intake = await _connect(pg_port, "intake")
    dispatch = await _connect(pg_port, "dispatch")
    followup = await _connect(pg_port, "followup")
    try:
        await _intake(out, intake, accepted, refused)
        await _dispatch(out, dispatch, intake)
        await _followup(out, dispatch, followup)
        await _hotline(out, intake, receiver)
        await _timers(out, dispatch, followup)
    finally:
        for conn in (intake, dispatch, followup):
            await conn.close()
    out.loss("dead_letters", ["dead letter"] * dead_letters)
    return out


async def settled(
    read: Callable[[], Awaitable[Audit]], *, looks: int, pause_s: float, say: Callable[[str], object]
) -> Audit:
    """The audit read again, up to ``looks`` times, while something is missing: a loss is what is still missing on
    the last look. Duplicates never heal, so an audit that found one is the answer at once."""
    for look in range(1, looks + 1):
        found = await read()
        found.figures["audit_looks"] = look
        if found.lost_found == 0 or found.duplicates_found or look == looks:
            return found
        say(f"核对第 {look} 次：{found.lost_found} 项尚未到位 {dict(found.lost)}，{pause_s:g}s 后再核对")
        await asyncio.sleep(pause_s)
    raise ValueError("looks must be at least 1")


async def _intake(out: Audit, intake: Any, accepted: dict[str, str], refused: Counter[str]) -> None:
    rows = await intake.fetch("SELECT id, channel, external_id, case_id FROM reports")
    out.figures["reports_in_intake"] = len(rows)
    out.dup(
        "reports_same_external_id",
        [
            r["external_id"]
            for r in await intake.fetch(
                "SELECT external_id FROM reports WHERE external_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
            )
        ],
    )
    out.dup(
        "visits_same_idempotency_key",
        [
            r["k"]
            for r in await intake.fetch(
                "SELECT grid_worker_id || ':' || idempotency_key AS k FROM household_visits"
                " WHERE idempotency_key IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
            )
        ],
    )
    known = {r["id"] for r in rows}
    out.loss("accepted_report_missing", [rid for rid in accepted if rid not in known])
    out.loss("report_without_case", [r["id"] for r in rows if not r["case_id"]])
    # A keyed submission is resent with its key until answered: a report of a keyed channel nobody got a 2xx for
    # is a doubled submission, unless the simulator gave up on that many submissions of the channel.
    unknown: Counter[str] = Counter(r["channel"] for r in rows if r["id"] not in accepted)
    out.figures["reports_unknown_to_client"] = dict(unknown)
    for channel, arrival in KEYED.items():
        extra = unknown[channel] - refused.get(arrival, 0)
        extra_ids = [r["id"] for r in rows if r["channel"] == channel and r["id"] not in accepted]
        out.dup(f"unacknowledged_{channel}_reports", extra_ids[: max(0, extra)])
    # A report that joined an incident late hears the incident's earlier facts at the time it joined (two rounds'
    # "resolved" then look alike): only entries at their own time tell a fact applied twice.
    out.dup(
        "report_fact_applied_twice",
        [
            f"{r['report_id']} {r['status']} {r['at']}"
            for r in await intake.fetch(
                "SELECT e.report_id, e.status, e.at FROM report_events e JOIN reports r ON r.id = e.report_id"
                " WHERE e.status <> 'escalated' AND e.at > r.reported_at"
                " GROUP BY e.report_id, e.status, e.note, e.at HAVING count(*) > 1"
            )
        ],
    )


async def _dispatch(out: Audit, dispatch: Any, intake: Any) -> None:
    cases = await dispatch.fetch("SELECT id, status, round FROM cases")
    out.figures["cases"] = len(cases)
    out.figures["cases_by_status"] = dict(Counter(c["status"] for c in cases))
    links = await dispatch.fetch("SELECT case_id, report_id FROM case_reports")
    out.dup(
        "report_in_two_cases",
        [
            r["report_id"]
            for r in await dispatch.fetch(
                "SELECT report_id FROM case_reports GROUP BY 1 HAVING count(DISTINCT case_id) > 1"
            )
        ],
    )
    intake_case = {r["id"]: r["case_id"] for r in await intake.fetch("SELECT id, case_id FROM reports")}
    out.dup(
        "report_case_differs_between_intake_and_dispatch",
        [r["report_id"] for r in links if intake_case.get(r["report_id"]) not in (None, r["case_id"])],
    )
    out.loss("case_of_an_unknown_report", [r["case_id"] for r in links if r["report_id"] not in intake_case])
    out.loss(
        "report_case_unknown_to_dispatch",
        sorted({c for c in intake_case.values() if c} - {c["id"] for c in cases}),
    )
    out.dup(
        "assignment_twice",
        [
            f"{r['case_id']} {r['unit_id']} round {r['round']}"
            for r in await dispatch.fetch(
                "SELECT case_id, unit_id, round FROM assignments GROUP BY 1, 2, 3"
                " HAVING count(*) FILTER (WHERE status NOT IN ('returned', 'withdrawn')) > 1"
                " OR count(*) > count(DISTINCT dispatched_at)"
            )
        ],
    )
    out.dup(
        "escalation_step_twice",
        [
            f"{r['case_id']} {r['a']} {r['clock']} {r['level']}"
            for r in await dispatch.fetch(
                "SELECT case_id, detail->>'assignment_id' AS a, detail->>'clock' AS clock, detail->>'level' AS level"
                # A 催单's 催办 is one per hurry, not per deadline: two hurries of one order are two reminders.
                " FROM case_events WHERE kind = 'escalated' AND detail->>'clock' <> 'hurry'"
                " GROUP BY 1, 2, 3, 4, detail->>'due_at' HAVING count(*) > 1"
            )
        ],
    )
    await _deadlines(out, dispatch)


async def _deadlines(out: Audit, dispatch: Any) -> None:
    """Every running clock of every open assignment: the steps its deadline owed so far are recorded, and a step
    still to come has its timer."""
    now: datetime = await dispatch.fetchval("SELECT now()")
    doc = await dispatch.fetchval("SELECT document FROM rule_sets ORDER BY version DESC LIMIT 1")
    esc = _json(doc)["escalation"]
    # A working-day clock's steps count working time on the calendar dispatch computes them on (its amendments and
    # the rules' office hours); a payload without ``working`` was armed around the clock.
    calendar = WorkCalendar(
        [
            amended_year(
                r["year"],
                holidays=map(date.fromisoformat, _json(r["holidays"])),
                make_up_workdays=map(date.fromisoformat, _json(r["make_up_workdays"])),
            )
            for r in await dispatch.fetch("SELECT year, holidays, make_up_workdays FROM calendar_years")
        ],
        WorkingHours.model_validate(_json(doc).get("working_hours", {})),
    )
    after = {"reminder": 0.0, "notice": float(esc["notice_after"]), "supervision": float(esc["supervision_after"])}
    open_ = await dispatch.fetch(
        "SELECT a.id, a.case_id, a.status, a.sign_in_due, a.on_site_due, a.resolve_due FROM assignments a"
        " JOIN cases c ON c.id = a.case_id AND c.round = a.round"
        " WHERE a.status = ANY($1::text[]) AND c.status <> 'closed'",
        list(OPEN_ASSIGNMENT),
    )
    live: set[tuple[str, str]] = set()
    length: dict[tuple[str, str], float] = {}
    working: set[tuple[str, str]] = set()
    for t in await dispatch.fetch("SELECT ref, kind, fired_at, payload FROM timers"):
        clock = t["kind"].split(":")[0]
        length[(t["ref"], clock)] = float(_json(t["payload"]).get("length_s", 0))
        if _json(t["payload"]).get("working"):
            working.add((t["ref"], clock))
        if t["fired_at"] is None:
            live.add((t["ref"], clock))
    recorded: set[tuple[str, str, str, datetime]] = set()
    for e in await dispatch.fetch("SELECT detail FROM case_events WHERE kind = 'escalated'"):
        d = _json(e["detail"])
        if d.get("assignment_id") and d.get("due_at"):
            recorded.add((d["assignment_id"], d["clock"], d["level"], datetime.fromisoformat(d["due_at"])))
    skipped, unwatched = [], []
    for a in open_:
        for clock, statuses in CLOCKS.items():
            if a["status"] not in statuses:
                continue
            deadline: datetime = a[DUE[clock]]
            if deadline > now:
                if (a["id"], clock) not in live:
                    unwatched.append(f"{a['case_id']} {a['id']} {clock}")
                continue
            span = timedelta(seconds=length.get((a["id"], clock), 0.0))
            for level, frac in after.items():
                due = later(deadline, span * frac, working=(a["id"], clock) in working, calendar=calendar)
                if due <= now - GRACE and (a["id"], clock, level, deadline) not in recorded:
                    skipped.append(f"{a['case_id']} {a['id']} {clock} {level}")
    out.loss("escalation_step_skipped", skipped)
    out.loss("open_clock_without_timer", unwatched)
    out.figures["escalation_steps"] = len(recorded)
    out.figures["open_assignments_checked"] = len(open_)


async def _followup(out: Audit, dispatch: Any, followup: Any) -> None:
    cases = {r["id"]: r for r in await dispatch.fetch("SELECT id, status, round FROM cases")}
    visits = await followup.fetch("SELECT case_id, round, target, status FROM visits")
    out.dup(
        "visit_task_twice",
        [
            f"{r['case_id']} round {r['round']} {r['target']}"
            for r in await followup.fetch(
                "SELECT case_id, round, target FROM visits GROUP BY 1, 2, 3 HAVING count(*) > 1"
            )
        ],
    )
    tasks = {(v["case_id"], v["round"]) for v in visits}
    pending = {(v["case_id"], v["round"]) for v in visits if v["status"] == "pending"}
    resolved = [c for c in cases.values() if c["status"] == "resolved"]
    out.loss("resolved_round_without_visit_task", [c["id"] for c in resolved if (c["id"], c["round"]) not in tasks])
    rounds = await followup.fetch("SELECT case_id, round, outcome FROM rounds")
    unapplied = []
    for r in rounds:
        case = cases.get(r["case_id"])
        if case is None:
            unapplied.append(f"{r['case_id']} (unknown to dispatch)")
        elif r["outcome"] == "closed" and case["round"] == r["round"] and case["status"] != "closed":
            unapplied.append(f"{r['case_id']} round {r['round']} closed, dispatch {case['status']}")
        elif r["outcome"] == "reopened" and case["round"] <= r["round"]:
            unapplied.append(f"{r['case_id']} round {r['round']} reopened, dispatch round {case['round']}")
    out.loss("verdict_not_applied", unapplied)
    verdicts = {(r["case_id"], r["round"]): r["outcome"] for r in rounds}
    out.loss(
        "case_closed_without_verdict",
        [
            c["id"]
            for c in cases.values()
            if c["status"] == "closed" and verdicts.get((c["id"], c["round"])) != "closed"
        ],
    )
    heard = {
        (r["case_id"], r["assignment_id"], r["level"], r["clock"])
        for r in await followup.fetch("SELECT case_id, assignment_id, level, clock FROM escalations")
    }
    told = [
        (r["case_id"], r["a"], r["level"], r["clock"])
        for r in await dispatch.fetch(
            "SELECT case_id, detail->>'assignment_id' AS a, detail->>'level' AS level, detail->>'clock' AS clock"
            " FROM case_events WHERE kind = 'escalated'"
        )
    ]
    out.loss("escalation_unknown_to_followup", [" ".join(map(str, t)) for t in told if t not in heard])
    # Every case that is not closed has something that will move it: an assignee at work, or a return visit owed.
    working = {
        r["case_id"]
        for r in await dispatch.fetch(
            "SELECT DISTINCT a.case_id FROM assignments a JOIN cases c ON c.id = a.case_id AND c.round = a.round"
            " WHERE a.status = ANY($1::text[])",
            list(OPEN_ASSIGNMENT),
        )
    }
    stalled = [
        f"{c['id']} {c['status']}"
        for c in cases.values()
        if c["status"] != "closed"
        and not (c["status"] == "resolved" and (c["id"], c["round"]) in pending)
        and not (c["status"] == "assigned" and c["id"] in working)
    ]
    out.loss("open_case_with_nothing_to_move_it", stalled)
    out.figures["cases_closed"] = sum(1 for c in cases.values() if c["status"] == "closed")
    out.figures["cases_open"] = len(cases) - out.figures["cases_closed"]
    out.figures["return_visits"] = len(visits)


async def _hotline(out: Audit, intake: Any, receiver: Receiver) -> None:
    callbacks = await intake.fetch(
        "SELECT order_no, seq, status, state, payload->>'occurred_at' AS at, payload->>'note' AS note"
        " FROM hotline_callbacks ORDER BY order_no, seq"
    )
    out.figures["callbacks"] = len(callbacks)
    out.figures["callbacks_heard"] = len(receiver.heard)
    out.figures["callbacks_redelivered"] = sum(n - 1 for n in receiver.heard.values())
    out.dup(
        "callback_numbered_twice",
        [
            f"{r['order_no']}#{r['seq']}"
            for r in await intake.fetch(
                "SELECT order_no, seq FROM hotline_callbacks GROUP BY integration_id, order_no, seq HAVING count(*) > 1"
            )
        ],
    )
    twice = []
    for prev, cur in itertools.pairwise(callbacks):
        same = (prev["status"], prev["at"], prev["note"]) == (cur["status"], cur["at"], cur["note"])
        if prev["order_no"] == cur["order_no"] and same and cur["status"] != "escalated":
            twice.append(f"{cur['order_no']}#{cur['seq']} {cur['status']}")
    out.dup("callback_same_fact_twice_in_a_row", twice)
    out.loss("callback_given_up", [f"{r['order_no']}#{r['seq']}" for r in callbacks if r["state"] == "dead"])
    out.loss(
        "callback_never_heard",
        [f"{r['order_no']}#{r['seq']}" for r in callbacks if (r["order_no"], r["seq"]) not in receiver.heard],
    )
    out.loss("callbacks_heard_out_of_order", ["order"] * receiver.out_of_order())
    told_closed = {r["order_no"] for r in callbacks if r["status"] == "closed"}
    out.loss(
        "closed_order_never_told_12345",
        [
            r["order_no"]
            for r in await intake.fetch("SELECT order_no FROM reports WHERE order_no IS NOT NULL AND status = 'closed'")
            if r["order_no"] not in told_closed
        ],
    )


async def _timers(out: Audit, dispatch: Any, followup: Any) -> None:
    for name, conn in (("dispatch", dispatch), ("followup", followup)):
        overdue = await conn.fetch(
            "SELECT kind, ref FROM timers WHERE fired_at IS NULL AND due_at < now() - $1::interval", GRACE
        )
        out.loss(f"{name}_timer_overdue", [f"{r['kind']} {r['ref']}" for r in overdue])


def _json(value: Any) -> dict[str, Any]:
    """A JSONB value as asyncpg hands it over (text, unless a codec was set)."""
    loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return loaded
