"""The people of the season, each an asyncio task reading its own view of the APIs: units and the street task
force work their assignments (签收, 到场, 进展, 办结; one bounces orders, one asks for extensions), the task force
decides extensions, grid workers settle minor cases and make the return visits (回访).

Delays are simulated time (an arrival a few simulated hours after the sign-in) except the sign-in, which is timed
against the clock the service set: punctual units sign in within the first half of it, late ones after it ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from deploy.simulate.api import Api, Refused
from deploy.simulate.plan import Fates, UnitProfile

ACTIONS = {
    "cold_room": "入户排查，调整平衡阀、清洗滤网",
    "air_lock": "暖气片排气",
    "clogged_filter": "清洗入户滤网",
    "leak": "更换阀门垫片，止漏",
    "burst_pipe": "关阀停水，更换爆裂主管段，恢复供暖",
    "outage": "换热站循环泵抢修完毕，恢复供暖",
    "ice_hazard": "设置警示、清除冰挂、修复漏点",
    "underfloor_imbalance": "调节分水器",
    "fee_dispute": "专班约谈供热企业与居民，核对收费，达成一致",
    "metering_retrofit": "专班组织入户讲解改造方案和费用",
    "subsidy_question": "网格员当面讲解补贴政策，协助申请",
    "other": "已协调处理",
}
LONG_JOBS = {"burst_pipe", "outage", "metering_retrofit", "fee_dispute"}
RETURN_REASONS = ("not_our_equipment", "not_our_area")


@dataclass
class Crew:
    """What the actors share: the API, the fates, the simulated clock, the tallies, and a log line printer."""

    api: Api
    fates: Fates
    minute_s: float  # wall seconds per simulated minute
    log: Callable[[str], None]
    counts: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    poll_s: float = 0.5
    names: dict[str, str] = field(default_factory=dict)

    said: Counter[str] = field(default_factory=Counter)

    def name(self, who: str) -> str:
        return self.names.get(who, who)

    def tell(self, kind: str, line: str, limit: int = 3) -> None:
        """Log the first few events of a kind as they happen; the totals are in the final table."""
        self.said[kind] += 1
        if self.said[kind] <= limit:
            self.log(line + ("（此后同类事件只计数）" if self.said[kind] == limit else ""))

    async def sim_sleep(self, rng: random.Random, low: float, high: float, cap_s: float | None = None) -> None:
        """Sleep a random simulated span (minutes), at most ``cap_s`` wall seconds."""
        wall = rng.uniform(low, high) * self.minute_s
        await asyncio.sleep(max(0.0, min(wall, cap_s) if cap_s is not None else wall))

    async def guarded(self, what: str, step: Awaitable[Any]) -> Any:
        """Run a step; a refusal is tallied (409/404 are the normal races of a busy season), never fatal."""
        try:
            return await step
        except Refused as exc:
            if exc.status in (404, 409):
                self.conflicts[f"{what} {exc.status} {exc.code}"] += 1
            else:
                self.errors.append(f"{what}: {exc}")
            return None


def _case_key(a: dict[str, Any]) -> str:
    loc = a.get("location") or {}
    return f"{loc.get('household_id') or loc.get('building_id')}:{a.get('category')}"


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


_AGAIN: Any = object()  # what a handler returns to have its item handled again at a later poll


async def every_poll(crew: Crew, who: str) -> AsyncGenerator[None, None]:
    """Read the list now and then again every ``poll_s`` (give or take a fifth), for as long as asked."""
    rng = random.Random(who)
    while True:
        yield
        await asyncio.sleep(crew.poll_s * rng.uniform(0.8, 1.2))


async def on_every_change(crew: Crew, who: str) -> AsyncGenerator[None, None]:
    """Read the list when the console's live stream says it changed (and on every reconnection), as the console
    page does: an assignee's list is read when there is something new on it, not twice a second. A stream refused
    is an error of the run, and the list is polled from then on."""
    try:
        async with contextlib.aclosing(crew.api.versions("dispatch", who)) as versions:
            async for _ in versions:
                yield
    except Refused as exc:
        crew.errors.append(f"{who} stream: {exc}")
    async with contextlib.aclosing(every_poll(crew, who)) as polls:
        async for _ in polls:
            yield


async def poll(
    crew: Crew,
    who: str,
    fetch: Callable[[], Awaitable[list[dict[str, Any]]]],
    handle: Callable[[dict[str, Any]], Awaitable[Any]],
    reads: AsyncGenerator[None, None] | None = None,
) -> None:
    """Read a list at each of ``reads`` (by default ``every_poll``), forever; each new item gets its own task. An
    item is handled once unless ``handle`` lets go of it with ``_AGAIN`` (a return visit that found nobody home is
    tried again at a later read)."""
    busy: dict[str, asyncio.Task[Any]] = {}

    async def safely(item: dict[str, Any]) -> Any:
        try:
            return await handle(item)
        except httpx.TransportError as exc:  # the service went away mid-way: take the item up again at a later read
            crew.conflicts[f"{who} {type(exc).__name__}"] += 1
            return _AGAIN
        except Exception as exc:
            crew.errors.append(f"{who} {item.get('id')}: {exc!r}")
            return None

    try:
        async with contextlib.aclosing(reads if reads is not None else every_poll(crew, who)) as each_read:
            async for _ in each_read:
                try:
                    items = await fetch()
                except Refused as exc:
                    crew.errors.append(f"{who} poll: {exc}")
                    items = []
                except Exception as exc:  # a transport hiccup: read again next time
                    crew.conflicts[f"{who} poll {type(exc).__name__}"] += 1
                    items = []
                for item in items:
                    if item["id"] not in busy:
                        busy[item["id"]] = asyncio.create_task(safely(item))
                for k in [k for k, t in busy.items() if t.done() and t.result() is _AGAIN]:
                    del busy[k]
    finally:  # stopped: so is the work in hand
        for t in busy.values():
            t.cancel()
        await asyncio.gather(*busy.values(), return_exceptions=True)


# -- assignees: units, the task force (complex cases), grid workers (minor cases) -----------------------------


async def assignee(crew: Crew, who: str, profile: UnitProfile) -> None:
    async def fetch() -> list[dict[str, Any]]:
        return await crew.api.request("dispatch", "GET", "/v1/assignments", label="assignments", who=who, retries=2)  # type: ignore[no-any-return]

    async def handle(a: dict[str, Any]) -> None:
        await work(crew, who, profile, a)

    await poll(crew, who, fetch, handle, on_every_change(crew, who))


async def work(crew: Crew, who: str, profile: UnitProfile, a: dict[str, Any]) -> None:
    """One assignment from dispatch to 办结 (or 退单). After a refused step the assignment is read again and the
    work goes on from where it stands: a resend after a lost answer or a 5xx must not stall a case."""
    api, aid, key, category = crew.api, a["id"], _case_key(a), a.get("category") or "other"
    rng = crew.fates.rng("assignment", who, key, a["round"])

    async def act(action: str, body: dict[str, Any] | None = None) -> Any:
        return await crew.guarded(
            action,
            api.request(
                "dispatch", "POST", f"/v1/assignments/{aid}/{action}", label=action, who=who, body=body, retries=2
            ),
        )

    async def again() -> dict[str, Any] | None:
        return await crew.guarded(  # type: ignore[no-any-return]
            "assignment",
            api.request("dispatch", "GET", f"/v1/assignments/{aid}", label="assignment", who=who, retries=2),
        )

    for _ in range(8):
        status = a["status"]
        if status == "dispatched":
            length = max(1.0, _seconds(a["sign_in_due"], a["dispatched_at"]))
            left = a["seconds_left"] if a["seconds_left"] is not None else length
            if profile.bounce_share and a["round"] == 1 and rng.random() < profile.bounce_share:
                await asyncio.sleep(max(0.0, left - length + rng.uniform(0.05, 0.3) * length))
                if await act("return", {"reason": rng.choice(RETURN_REASONS), "note": "非本单位设施，请改派"}):
                    crew.counts["returned"] += 1
                    crew.tell("returned", f"  {crew.name(who)} 退单（{a['case_id']}）：非本单位设施，请改派")
                    return
            else:
                frac = rng.uniform(1.1, 1.7) if profile.late else rng.uniform(0.1, 0.5)
                await asyncio.sleep(max(0.0, left - length + frac * length))
                if done := await act("sign-in"):
                    crew.counts["signed_in_late" if frac > 1 else "signed_in"] += 1
                    a = done
                    continue
        elif status == "signed_in":
            await crew.sim_sleep(rng, 20, 150, cap_s=0.8 * max(0.0, a["seconds_left"] or 0.0))
            if done := await act("arrive"):
                a = done
                continue
        elif status == "on_site":
            if profile.extension_share and rng.random() < profile.extension_share:
                await extend(crew, who, a, rng)
            if rng.random() < 0.3:
                await act("progress", {"note": "已到场排查，正在处置"})
            low, high = (240, 720) if category in LONG_JOBS else (60, 360)
            left = ((await again()) or a).get("seconds_left") or 0.0
            await crew.sim_sleep(rng, low, high, cap_s=0.8 * max(0.0, left))
            body = {
                "action_taken": ACTIONS.get(category, ACTIONS["other"]),
                "measured_temp_c": round(rng.uniform(18.5, 21.5), 1),
                "photo_refs": [await crew.api.photo("dispatch", who, label="resolve_photo")],
            }
            if await act("resolve", body):
                crew.counts["resolved"] += 1
                return
        else:
            return  # resolved, returned or withdrawn
        fresh = await again()
        if fresh is None:
            return
        a = fresh | {"category": category, "location": a.get("location")}
        await asyncio.sleep(0.2)


async def extend(crew: Crew, who: str, a: dict[str, Any], rng: random.Random) -> None:
    """延期: ask for the resolve clock doubled, then wait (a while) for the task force's decision."""
    due = datetime.fromisoformat(a["resolve_due"])
    wanted = due + (due - datetime.fromisoformat(a["dispatched_at"]))
    ext = await crew.guarded(
        "extension",
        crew.api.request(
            "dispatch",
            "POST",
            f"/v1/assignments/{a['id']}/extensions",
            label="extension",
            who=who,
            body={"reason": "主管道更换需停水施工，申请延期", "resolve_due": wanted.isoformat()},
        ),
    )
    if ext is None:
        return
    crew.counts["extensions_requested"] += 1
    for _ in range(120):
        await asyncio.sleep(0.5)
        case = await crew.guarded(
            "case", crew.api.request("dispatch", "GET", f"/v1/cases/{a['case_id']}", label="case", who=who, retries=2)
        )
        mine = next((e for e in (case or {}).get("extensions", []) if e["id"] == ext["id"]), None)
        if mine and mine["status"] != "pending":
            return


# -- the street task force decides extensions -----------------------------------------------------------------


async def extension_desk(crew: Crew, who: str) -> None:
    async def fetch() -> list[dict[str, Any]]:
        return await crew.api.request(  # type: ignore[no-any-return]
            "dispatch", "GET", "/v1/extensions", label="extensions", who=who, params={"status": "pending"}, retries=2
        )

    async def handle(ext: dict[str, Any]) -> None:
        case = await crew.guarded(
            "case", crew.api.request("dispatch", "GET", f"/v1/cases/{ext['case_id']}", label="case", who=who, retries=2)
        )
        key = _case_key(case or {}) + f":{(case or {}).get('round')}:{ext['unit_id']}"
        rng = crew.fates.rng("desk", key)
        await crew.sim_sleep(rng, 30, 180)
        approved = crew.fates.approve(key)
        note = "同意延期，请加快施工" if approved else "不同意延期，请按原时限办结"
        if await crew.guarded(
            "decision",
            crew.api.request(
                "dispatch",
                "POST",
                f"/v1/extensions/{ext['id']}/decision",
                label="decision",
                who=who,
                body={"approved": approved, "note": note},
            ),
        ):
            crew.counts["extensions_approved" if approved else "extensions_refused"] += 1
            verdict = "批准" if approved else "驳回"
            unit = crew.name(ext["unit_id"])
            crew.tell(f"extension {verdict}", f"  {crew.name(who)} {verdict} {unit} 的延期申请（{ext['case_id']}）")

    await poll(crew, who, fetch, handle)


# -- grid workers: the return visit ----------------------------------------------------------------------------


async def return_visits(crew: Crew, who: str) -> None:
    async def fetch() -> list[dict[str, Any]]:
        return await crew.api.request("followup", "GET", "/v1/visits", label="visits", who=who, retries=2)  # type: ignore[no-any-return]

    async def handle(v: dict[str, Any]) -> Any:
        key = f"{v['household_id'] or v['building_id']}:{v['category']}"
        reached, temps, satisfaction = crew.fates.return_visit(key, v["round"], v["attempts"])
        rng = crew.fates.rng("visit-delay", key, v["round"], v["attempts"])
        await crew.sim_sleep(rng, 60, 480)
        body: dict[str, Any] = {"reached": reached}
        if reached:
            body |= {
                "room_temps_c": temps,
                "satisfaction": satisfaction,
                "photo_refs": [await crew.api.photo("followup", who, label="visit_photo")],  # 测温拍照
            }
        done = await crew.guarded(
            "record_visit",
            crew.api.request(
                "followup", "POST", f"/v1/visits/{v['id']}/record", label="record_visit", who=who, body=body, retries=2
            ),
        )
        if done is None:
            return None
        if not reached:
            crew.counts["visits_unreached"] += 1
            return _AGAIN
        crew.counts["visits_recorded"] += 1
        if done.get("reopen_reason"):
            crew.counts["visits_failed"] += 1
        return None

    await poll(crew, who, fetch, handle)
