"""Reconciliation: every report a channel accepted (2xx) must be closed, or accounted for as open — its case
exists and is not closed. Anything else is lost: no case, a case nobody can find, a status nobody knows, or a
report never told that its case was closed.

``classify`` is pure; ``fetch`` reads the reports (intake) and their cases (dispatch) as the admin.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deploy.simulate.api import Api, Refused

REPORT_STATUSES = {"accepted", "grouped", "dispatched", "signed_in", "resolved", "closed", "reopened", "escalated"}
OPEN_CASE_STATUSES = {"opened", "assigned", "unrouted", "resolved"}


def classify(report: dict[str, Any] | None, case: dict[str, Any] | None) -> str:
    """``closed``, ``open``, or ``lost:<why>``."""
    if report is None:
        return "lost:report_missing"
    if report.get("status") not in REPORT_STATUSES:
        return "lost:unknown_report_status"
    if not report.get("case_id"):
        return "lost:no_case"
    if case is None:
        return "lost:case_missing"
    status = case.get("status")
    if status == "closed":
        if report["status"] == "closed":
            return "closed"
        told = any(e.get("status") == "closed" for e in report.get("timeline", []))
        # Told it was closed, then a stale status overwrote that (events of two topics applied out of order).
        return "lost:report_status_regressed" if told else "lost:report_not_told_closed"
    if status in OPEN_CASE_STATUSES:
        return "open"
    return "lost:unknown_case_status"


@dataclass
class Reconciliation:
    accepted: int = 0
    outcome: Counter[str] = field(default_factory=Counter)
    by_channel: dict[str, Counter[str]] = field(default_factory=dict)
    lost: list[tuple[str, str]] = field(default_factory=list)  # (report id, why)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def closed(self) -> int:
        return self.outcome["closed"]

    @property
    def open(self) -> int:
        return self.outcome["open"]

    @property
    def lost_count(self) -> int:
        return sum(n for k, n in self.outcome.items() if k.startswith("lost:"))

    @property
    def ok(self) -> bool:
        return self.lost_count == 0 and self.accepted == self.closed + self.open

    def timeline_counts(self) -> Counter[str]:
        """Escalation steps by level, 退单, 延期 decisions and reopened rounds, from the cases' timelines."""
        out: Counter[str] = Counter()
        for case in self.cases.values():
            for e in case.get("timeline", []):
                kind, detail = e["kind"], e.get("detail") or {}
                if kind == "escalated":
                    out[f"escalated:{detail.get('level')}"] += 1
                elif kind == "extension_decided":
                    out["extension_approved" if detail.get("approved") else "extension_refused"] += 1
                elif kind in ("returned", "reopened", "dispatched", "signed_in"):
                    out[kind] += 1
                    if kind == "signed_in" and detail.get("on_time") is False:
                        out["signed_in_late"] += 1
            out[f"case:{case.get('status')}"] += 1
            if case.get("supervised"):
                out["supervised"] += 1
        return out


async def _get(api: Api, service: str, path: str, label: str) -> dict[str, Any] | None:
    try:
        return await api.request(service, "GET", path, label=label, who="admin", retries=3)  # type: ignore[no-any-return]
    except Refused as exc:
        if exc.status == 404:
            return None
        raise


async def fetch(api: Api, accepted: dict[str, str], *, grace: float = 0.0) -> Reconciliation:
    """``accepted``: report id → channel. A report that looks lost is read again after ``grace`` seconds: an
    event still on its way (consumer lag) is not a loss."""
    out = Reconciliation(accepted=len(accepted))
    ids = sorted(accepted)
    await _read(api, out, ids)
    suspects = [rid for rid in ids if classify(out.reports.get(rid), _case_of(out, rid)).startswith("lost:")]
    if suspects and grace > 0:
        await asyncio.sleep(grace)
        await _read(api, out, suspects)
    for rid in ids:
        verdict = classify(out.reports.get(rid), _case_of(out, rid))
        out.outcome[verdict] += 1
        out.by_channel.setdefault(accepted[rid], Counter())[verdict] += 1
        if verdict.startswith("lost:"):
            out.lost.append((rid, verdict))
    return out


def _case_of(out: Reconciliation, rid: str) -> dict[str, Any] | None:
    report = out.reports.get(rid)
    return out.cases.get(report["case_id"]) if report and report.get("case_id") else None


async def _read(api: Api, out: Reconciliation, ids: list[str]) -> None:
    reports = await asyncio.gather(*(_get(api, "intake", f"/v1/reports/{rid}", "reconcile_report") for rid in ids))
    for rid, report in zip(ids, reports, strict=True):
        if report is None:
            out.reports.pop(rid, None)
        else:
            out.reports[rid] = report
    case_ids = sorted({r["case_id"] for rid in ids if (r := out.reports.get(rid)) and r.get("case_id")})
    cases = await asyncio.gather(*(_get(api, "dispatch", f"/v1/cases/{cid}", "reconcile_case") for cid in case_ids))
    for cid, case in zip(case_ids, cases, strict=True):
        if case is not None:
            out.cases[cid] = case
