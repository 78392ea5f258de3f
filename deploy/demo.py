"""What the README's run command shows: the scripted scenario (one cold room closed, one reopened and closed; a 12345
order hurried, supplemented and closed, another withdrawn, with every callback the simulated 12345 platform heard),
then a short simulated season through the simulator.

Drives the running services through their public APIs only and prints each step in Chinese.
``python -m deploy.demo [-- SIMULATOR OPTIONS]`` (the services must be up and seeded); ``make demo`` runs it as it is,
and the e2e test runs it with a shorter season, so the front door is the tested one.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from deploy import notify_local, platform12345
from deploy.client import HeatingClient
from deploy.field_photo import field_jpeg
from deploy.seed import registry
from shared.settings import DEV_AUTH_PRIVATE_KEY


def step(text: str) -> None:
    print(f"  → {text}", flush=True)


def fix(c: HeatingClient, unit: str, case_id: str, round_: int, temp: float) -> None:
    a = c.wait_assignment(unit, case_id, round_)
    step(f"{unit} 收到派单 {a['id']}（第{round_}轮，签收时限 {a['sign_in_due'][11:19]} UTC）")
    c.act(unit, a["id"], "sign-in")
    step(f"{unit} 签收")
    c.act(unit, a["id"], "arrive")
    step(f"{unit} 到场")
    photo = c.upload_photo("dispatch", unit, field_jpeg(datetime.now(UTC)))
    done = c.act(unit, a["id"], "resolve", action_taken="排气、清洗滤网", measured_temp_c=temp, photo_refs=[photo])
    flagged = sum(p["outside_window"] for p in done["photos"])
    step(f"{unit} 办结，处置后室温 {temp} °C，现场照片 {len(done['photos'])} 张（时间存疑 {flagged} 张）")


def run_loop(
    c: HeatingClient, *, worker: str, household: str, unit: str, visits: list[list[float]], satisfaction: list[str]
) -> dict[str, Any]:
    report = c.grid_report(
        worker,
        household_id=household,
        category="cold_room",
        description="居民反映暖气不热，室温偏低",
        measured_temp_c=15.5,
    )
    step(f"{worker} 一键上报 {household}：暖气不热 15.5 °C → 诉求 {report['id']}（优先级 {report['priority']}）")
    case_id = c.wait_case_of(worker, report["id"])
    step(f"调度受理，案件 {case_id}")
    for round_, (temps, verdict) in enumerate(zip(visits, satisfaction, strict=True), start=1):
        fix(c, unit, case_id, round_, temps[0])
        v = c.wait_visit(worker, case_id, round_)
        step(f"回访任务 {v['id']}，时限 {v['due_at'][:16]}")
        done = c.record_visit(worker, v["id"], room_temps_c=temps, satisfaction=verdict)  # with a thermometer photo
        outcome = "办结" if done["status"] == "closed" else f"发回重办（{done['reopen_reason']}）"
        step(
            f"{worker} 回访（{v.get('place_name') or v['household_id']}）：室温 {temps}，{verdict}，测温照片 "
            f"{len(done['photos'])} 张 → {outcome}"
        )
    final = c.wait_for("the case to close", lambda: (r := c.report(worker, report["id"]))["status"] == "closed" and r)
    return {"report": final, "case": c.case("TF-JYG", case_id)}


def hotline(c: HeatingClient, platform: platform12345.Platform, platform_url: str) -> bool:
    """场景三、四: 12345's orders and operations, and the callbacks its platform heard, in order."""
    print("场景三：12345 来电，居民催单、补充诉求，修复后回访办结")
    order = platform.order(household_id="H-DF-3-301", content="居民来电：家里暖气不热，室温只有16度")
    first = order["order_no"]
    step(f"12345 派单 {first} → 诉求 {order['report_id']}")
    case_id = c.wait_case_of("GW-02", order["report_id"])
    step(f"调度受理，案件 {case_id}")
    c.wait_assignment("U-HEAT-2", case_id)
    platform.operate(first, "hurry", content="居民再次来电：还是不热")
    step("12345 催单（重复诉求）→ 即时向承办单位催办")
    platform.operate(first, "supplement", content="补充：家中有卧床老人", priority_resident=True)
    step("12345 补充诉求：家中有卧床老人 → 案件标记重点人群")
    fix(c, "U-HEAT-2", case_id, 1, 20.0)
    v = c.wait_visit("GW-02", case_id)
    c.record_visit("GW-02", v["id"], room_temps_c=[20.2, 19.6], satisfaction="satisfied")
    step("GW-02 回访：室温 [20.2, 19.6]，满意 → 办结")
    c.wait_for("the order to close", lambda: platform.status(first)["status"] == "closed", timeout=90)

    print("场景四：12345 撤单：居民来电说已恢复供暖，派单撤回、时限停止")
    order = platform.order(household_id="H-CH-48-201", content="暖气不热，请尽快处理")
    second = order["order_no"]
    case_2 = c.wait_case_of("GW-03", order["report_id"])
    c.wait_assignment("U-HEAT-2", case_2)
    step(f"12345 派单 {second} → 案件 {case_2}，已派 U-HEAT-2")
    platform.operate(second, "withdraw", reason="居民来电称已恢复供暖，申请撤单")
    c.wait_for("the case to be withdrawn", lambda: c.case("TF-JYG", case_2)["status"] == "withdrawn")
    step("12345 撤单 → 案件撤销，U-HEAT-2 的派单撤回")

    def heard_last(no: str, last: str) -> dict[str, Any] | None:
        h = platform12345.heard(platform_url, no)
        callbacks = h["orders"][no]
        return h if callbacks and callbacks[-1]["status"] == last else None

    told: dict[str, dict[str, Any]] = {}
    for no, last in ((first, "closed"), (second, "withdrawn")):
        told[no] = c.wait_for(f"the platform to hear {no} {last}", functools.partial(heard_last, no, last), timeout=60)
    print("\n12345 平台收到的回调（签名已核验，按顺序）")
    ok = True
    for no, h in told.items():
        callbacks = h["orders"][no]
        print(f"  工单 {no}: " + " → ".join(f"#{cb['seq']} {cb['status_text']}" for cb in callbacks))
        in_order = [cb["seq"] for cb in callbacks] == list(range(1, len(callbacks) + 1))
        ok = ok and in_order and not h["bad_signatures"] and not h["out_of_order"]
    print("  回调完整有序" if ok else "  回调缺失或乱序")
    return ok


def main() -> int:
    doc = registry.read()
    tokens = registry.tokens(doc, os.environ.get("AUTH_PRIVATE_KEY", DEV_AUTH_PRIVATE_KEY))
    c = HeatingClient(
        intake=os.environ.get("INTAKE_URL", "http://127.0.0.1:8001"),
        dispatch=os.environ.get("DISPATCH_URL", "http://127.0.0.1:8002"),
        followup=os.environ.get("FOLLOWUP_URL", "http://127.0.0.1:8003"),
        tokens=tokens,
    )
    print("场景一：独居老人家中暖气不热，修复后回访达标，办结")
    first = run_loop(
        c, worker="GW-01", household="H-LK-1-101", unit="U-HEAT-1", visits=[[20.5, 19.8]], satisfaction=["satisfied"]
    )
    print("场景二：修复后回访仍不达标，发回重办，第二轮达标办结")
    second = run_loop(
        c,
        worker="GW-03",
        household="H-CH-45-101",
        unit="U-HEAT-2",
        visits=[[16.0, 17.2], [19.5, 20.1]],
        satisfaction=["dissatisfied", "satisfied"],
    )
    print("\n最终状态")
    for result in (first, second):
        case, report = result["case"], result["report"]
        print(f"  案件 {case['id']}: 状态 {case['status']}，轮次 {case['round']}，重办 {case['redo_count']} 次")
        for e in case["timeline"]:
            print(f"    {e['at'][:19]}  {e['kind']:<14} {e['actor']}")
        print(f"  诉求 {report['id']} 居民收到的回音: " + " → ".join(e["note"] for e in report["timeline"]))
    ok = all(r["case"]["status"] == "closed" for r in (first, second))
    print("\n闭环完成" if ok else "\n闭环未完成")
    platform_url = os.environ.get("PLATFORM12345_URL", "http://127.0.0.1:8005")
    platform = platform12345.Platform.from_env(c.urls["intake"])
    print()
    ok = hotline(c, platform, platform_url) and ok
    receiver = os.environ.get("NOTIFY_RECEIVER_URL", "http://127.0.0.1:8006")
    ok = notifications(receiver) and ok
    field_app(c.urls["dispatch"], doc)
    return 0 if ok else 1


def notifications(receiver: str) -> bool:
    """What the units' duty groups and phones, the offices' groups and the heating company's own system heard of
    the scenes above (the local receiver plays 企业微信, 钉钉, the SMS provider and the company's system)."""
    print("\n通知：以上场景送达了谁（本地接收端模拟企业微信、钉钉、短信和供热公司自有系统）")
    lines = notify_local.lines(receiver, settle=True)
    for line in lines:
        print(f"  {line}")
    ok = all(any(line.startswith(f"[{label}]") for line in lines) for label in ("企业微信", "短信", "单位系统"))
    print("  派单、催办已送达责任单位" if ok else "  通知未送达")
    return ok


def field_app(dispatch_url: str, doc: dict[str, Any]) -> None:
    """Where the phones' app is and whom to sign in as (the seed's demo accounts)."""
    print(f"\n现场端（手机浏览器打开）：{dispatch_url}/field/    调度台：{dispatch_url}/console/")
    people = {p["sub"]: p["name"] for p in doc.get("people", [])}
    units = {u["id"]: u["name"] for u in doc["units"]}
    for a in doc.get("accounts", []):
        if a["username"].startswith("gw") or a["username"].endswith("-crew"):
            who = people.get(a.get("person", "")) or f"{units.get(a.get('unit', ''), '')} 现场人员"
            print(f"  {a['username']:<12} 密码 {a['password']:<22} {who}")


# The season ``make demo`` shows after the scripted pass: seven simulated days of eight wall seconds each.
SEASON = ("--days", "7", "--speed", "8", "--settle", "45")


def season(options: list[str]) -> int:
    """The simulator as its own process (its exit status is the reconciliation's verdict)."""
    print("\n场景五：模拟一个采暖季（压缩时间）", flush=True)
    return subprocess.run([sys.executable, "-m", "deploy.simulate", *options], check=False).returncode


def run(argv: list[str]) -> int:
    """The scripted pass, then the season; ``argv`` after ``--`` replaces the season's simulator options."""
    options = argv[argv.index("--") + 1 :] if "--" in argv else list(SEASON)
    status = main()
    return status or season(options)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
