"""What the simulator prints (rich tables, in Chinese where people read it) and writes (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from deploy.simulate.run import Outcome

CHANNELS = {
    "visit_ledger": "入户走访发现",
    "grid_report": "网格员一键上报",
    "hotline_12345": "12345 工单",
    "sensor": "室温采集器告警",
}
VERDICTS = {
    "closed": "已办结",
    "open": "在办（案件存在且未办结）",
    "lost:report_missing": "丢失：诉求查无",
    "lost:unknown_report_status": "丢失：诉求状态未知",
    "lost:no_case": "丢失：没有案件",
    "lost:case_missing": "丢失：案件查无",
    "lost:report_not_told_closed": "丢失：案件已办结而诉求未获告知",
    "lost:report_status_regressed": "丢失：诉求已告知办结，后被旧状态覆盖",
    "lost:unknown_case_status": "丢失：案件状态未知",
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.0f}%"


def figures(outcome: Outcome) -> Table:
    p, crew, rec = outcome.plan.counts(), outcome.crew, outcome.reconciliation
    assert crew is not None and rec is not None
    t = rec.timeline_counts()
    tally = crew.api.tally
    ok = sum(n for (_, s), n in tally.answers.items() if s < 400)
    table = Table(
        title=f"模拟供暖季 · {outcome.options.days} 天 · 种子 {outcome.options.seed} · 运行 {outcome.run_tag}"
    )
    table.add_column("环节")
    table.add_column("指标")
    table.add_column("数值", justify="right")
    rows: list[tuple[str, str, Any]] = [
        (
            "登记",
            "楼栋 / 住户 / 重点人群",
            f"{len(outcome.district.buildings)} / {len(outcome.district.households)} / "
            f"{sum(1 for h in outcome.district.households if h.priority_group)}",
        ),
        (
            "登记",
            "责任单位 / 网格员 / 室温采集器",
            f"{len(outcome.district.units)} / {len(outcome.district.worker_of_grid)} / {p['sensors']}",
        ),
        ("计划", "入户走访 / 其中发现问题", f"{p['visit']} / {p['findings']}"),
        ("计划", "一键上报 / 12345 工单", f"{p['grid']} / {p['hotline']}"),
        ("计划", "传感器读数 / 低温时段", f"{p['readings']} / {p['cold_spells']}"),
    ]
    by_channel: Counter[str] = Counter(outcome.accepted.values())
    for channel, name in CHANNELS.items():
        rows.append(("受理", name, by_channel[channel]))
    rows.append(("受理", "受理诉求合计（2xx）", rec.accepted))
    rows.append(("受理", "拒收（4xx/5xx，未受理）", sum(outcome.refused.values())))
    rows.append(("调度", "案件 / 派单", f"{len(rec.cases)} / {t['dispatched']}"))
    rows.append(("调度", "签收 / 其中超时", f"{t['signed_in']} / {t['signed_in_late']}"))
    rows.append(
        (
            "调度",
            "催办 / 通报 / 督办",
            f"{t['escalated:reminder']} / {t['escalated:notice']} / {t['escalated:supervision']}",
        )
    )
    rows.append(
        (
            "调度",
            "退单 / 延期批准 / 延期驳回",
            f"{t['returned']} / {t['extension_approved']} / {t['extension_refused']}",
        )
    )
    rows.append(
        (
            "回访",
            "回访完成 / 未见到居民 / 未通过",
            f"{crew.counts['visits_recorded']} / {crew.counts['visits_unreached']} / {crew.counts['visits_failed']}",
        )
    )
    rows.append(("回访", "发回重办（新一轮）", t["reopened"]))
    rows.append(("核对", "已办结", rec.closed))
    rows.append(("核对", "在办", rec.open))
    rows.append(("核对", "丢失", rec.lost_count))
    rows.append(("接口", "调用 / 成功 / 传输错误", f"{tally.calls} / {ok} / {sum(tally.transport_errors.values())}"))
    rows.append(("接口", "并发冲突（404/409，正常竞态）", sum(crew.conflicts.values())))
    rows.append(("运行", "墙钟秒数", f"{outcome.wall_s:.1f}"))
    for section, name, value in rows:
        table.add_row(section, name, str(value))
    return table


def reconciliation(outcome: Outcome) -> Table:
    rec = outcome.reconciliation
    assert rec is not None
    table = Table(title="核对：每条受理的诉求都有着落")
    table.add_column("渠道")
    for verdict in ("closed", "open", "lost"):
        table.add_column(VERDICTS.get(verdict, "丢失"), justify="right")
    for channel, counts in sorted(rec.by_channel.items()):
        lost = sum(n for k, n in counts.items() if k.startswith("lost:"))
        table.add_row(CHANNELS.get(channel, channel), str(counts["closed"]), str(counts["open"]), str(lost))
    table.add_row("合计", str(rec.closed), str(rec.open), str(rec.lost_count), style="bold")
    return table


def scorecard(outcome: Outcome) -> Table:
    table = Table(title="责任单位考核（本次运行期间）")
    for col in ("名次", "单位", "派单", "退单", "催办督办", "按时签收", "按时办结", "重办率", "满意率", "得分"):
        table.add_column(col, justify="right" if col not in ("单位",) else "left")
    names = outcome.district.names
    for line in outcome.scorecard:
        table.add_row(
            str(line.get("rank") or "—"),
            names.get(line["key"], line["key"]),
            str(line["assignments"]),
            str(line["returns"]),
            str(line["escalations"]),
            _pct(line["on_time_sign_in_rate"]),
            _pct(line["on_time_resolve_rate"]),
            _pct(line["redo_rate"]),
            _pct(line["satisfaction_rate"]),
            "—" if line["score"] is None else f"{line['score']:.1f}",
        )
    return table


def show(outcome: Outcome, console: Console) -> None:
    console.print()
    console.print(figures(outcome))
    console.print(reconciliation(outcome))
    if outcome.scorecard:
        console.print(scorecard(outcome))
    for street, report in outcome.season.items():
        name = outcome.district.names.get(street, street)
        console.print(f"\n[bold]季度报告 · {name}[/bold]（follow-up GET /v1/reports/season）")
        console.print(str(report.get("text", "")).replace(street, name))
    rec = outcome.reconciliation
    assert rec is not None and outcome.crew is not None
    for note in outcome.notes:
        console.print(f"[yellow]注意[/yellow] {note}")
    if outcome.crew.errors:
        console.print(f"[yellow]{len(outcome.crew.errors)} 个操作被拒（非竞态）[/yellow]，前几个：")
        for e in outcome.crew.errors[:8]:
            console.print(f"  {e}")
    if rec.lost:
        console.print(f"[red bold]丢失 {rec.lost_count} 条受理的诉求[/red bold]：")
        for rid, why in rec.lost[:20]:
            console.print(f"  {rid}: {VERDICTS.get(why, why)}")
    elif rec.ok:
        console.print(
            f"[green bold]核对通过[/green bold]：受理 {rec.accepted} 条 = 办结 {rec.closed} + 在办 {rec.open}，无丢失"
        )
    if outcome.rules:
        console.print(
            f"调度规则：运行期间启用第 {outcome.rules[0]} 版（时限 ÷{outcome.options.clock_speedup:g}），"
            f"结束后恢复为第 {outcome.rules[1]} 版"
        )
    urls(outcome.options.urls, outcome.console_url, console)


def urls(services: dict[str, str], console_url: str | None, console: Console) -> None:
    console.print("\n服务保持运行：")
    for name, url in services.items():
        console.print(f"  {name:<9} API 文档 {url}/docs   指标 {url}/metrics")
    if console_url:
        console.print(f"  控制台    {console_url}")


def as_dict(outcome: Outcome) -> dict[str, Any]:
    rec, crew = outcome.reconciliation, outcome.crew
    assert crew is not None
    answers: dict[str, dict[str, int]] = {}
    for (label, status), n in crew.api.tally.answers.items():
        bucket = answers.setdefault(label, {})
        bucket[f"{status // 100}xx"] = bucket.get(f"{status // 100}xx", 0) + n
    o = outcome.options
    return {
        "ok": outcome.ok,
        "run": {
            "tag": outcome.run_tag,
            "days": o.days,
            "seed": o.seed,
            "scale": o.scale,
            "rate": o.rate,
            "speed_s_per_day": o.speed,
            "clock_speedup": o.clock_speedup,
            "registry": o.registry,
            "wall_s": round(outcome.wall_s, 1),
            "rules_versions": list(outcome.rules) if outcome.rules else None,
        },
        "plan": outcome.plan.counts(),
        "accepted": len(outcome.accepted),
        "accepted_by_channel": dict(Counter(outcome.accepted.values())),
        "refused": dict(outcome.refused),
        "answers": answers,
        "transport_errors": dict(crew.api.tally.transport_errors),
        "actors": dict(crew.counts),
        "conflicts": dict(crew.conflicts),
        "errors": crew.errors[:50],
        "reconciliation": None
        if rec is None
        else {
            "accepted": rec.accepted,
            "closed": rec.closed,
            "open": rec.open,
            "lost": rec.lost_count,
            "ok": rec.ok,
            "outcome": dict(rec.outcome),
            "lost_reports": rec.lost,
            "cases": len(rec.cases),
            "timeline": dict(rec.timeline_counts()),
        },
        "season": {street: r.get("totals") for street, r in outcome.season.items()},
        "notes": outcome.notes,
    }


def write_json(outcome: Outcome, path: Path) -> None:
    path.write_text(json.dumps(as_dict(outcome), ensure_ascii=False, indent=2), encoding="utf-8")
