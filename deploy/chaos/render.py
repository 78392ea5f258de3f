"""What a chaos run prints (rich tables) and writes (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from deploy.chaos.run import RECOVERY_LIMIT_S, Result


def _n(value: Any) -> str:
    return "—" if value is None else str(value)


def figures(r: Result) -> Table:
    o, a, out = r.options, r.audit, r.outcome
    rec = out.reconciliation if out else None
    pair = f" · 每个服务 {o.replicas} 个副本" if o.replicas > 1 else ""
    table = Table(title=f"混沌演练 · 种子 {o.seed} · 目标 {o.reports} 条诉求{pair}")
    table.add_column("项目")
    table.add_column("数值", justify="right")
    by_channel = Counter(out.accepted.values()) if out else Counter()
    rows: list[tuple[str, Any]] = [
        ("受理的诉求（2xx）", len(out.accepted) if out else None),
        (
            "  其中 一键上报 / 12345 / 走访 / 传感器",
            "{} / {} / {} / {}".format(
                by_channel["grid_report"], by_channel["hotline_12345"], by_channel["visit_ledger"], by_channel["sensor"]
            ),
        ),
        ("intake 中的诉求", a.figures.get("reports_in_intake") if a else None),
        (
            "案件（办结 / 在办）",
            f"{a.figures.get('cases')}（{a.figures.get('cases_closed')} / {a.figures.get('cases_open')}）"
            if a
            else None,
        ),
        ("催办/通报/督办 记录", a.figures.get("escalation_steps") if a else None),
        (
            "12345 回调（生成 / 平台收到 / 重复投递）",
            f"{a.figures.get('callbacks')} / {a.figures.get('callbacks_heard')} / "
            f"{a.figures.get('callbacks_redelivered')}"
            if a
            else None,
        ),
        ("注入的故障", f"{r.injected} / {len(r.faults)}"),
        ("发现的重复", r.duplicates if a else None),
        ("发现的丢失（模拟器核对 + 数据库核对）", f"{r.lost}（{r.simulator_lost} + {a.lost_found if a else '—'}）"),
        (f"恢复时间（最后一次故障 → 追平，限 {RECOVERY_LIMIT_S:.0f}s）", _n(r.recovered_s) + " s"),
        ("静默用时（负载结束 → 积压与延迟归零）", _n(r.quiet_s) + " s"),
        (
            "最终 出站积压 / 消费延迟 / 待回调",
            "{} / {} / {}".format(
                _n(r.final.get("backlog")), _n(r.final.get("lag")), _n(r.final.get("callbacks_pending"))
            ),
        ),
        ("期间最大 出站积压 / 消费延迟", f"{_n(r.final.get('worst_backlog'))} / {_n(r.final.get('worst_lag'))}"),
        ("最终 代理未列出的消费组（延迟未知）", "、".join(r.final.get("groups_missing") or []) or "无"),
        ("核对结论（模拟器）", None if rec is None else f"办结 {rec.closed} · 在办 {rec.open} · 丢失 {rec.lost_count}"),
        ("墙钟秒数", f"{r.wall_s:.0f}"),
    ]
    for name, value in rows:
        table.add_row(name, _n(value))
    return table


def fault_table(r: Result) -> Table:
    table = Table(title="故障（按注入顺序；时间从负载开始计）")
    for col in ("#", "对象", "故障", "计划", "注入", "停机", "全部就绪", "错误"):
        table.add_column(col, justify="left" if col in ("对象", "故障", "错误") else "right")
    for i, f in enumerate(r.faults, start=1):
        ready = None if f.ready is None or f.injected is None else f"{f.ready - f.injected:.1f}s"
        table.add_row(
            str(i),
            f.target,
            f.kind,
            f"{f.at:.1f}s",
            "—" if f.injected is None else f"{f.injected:.1f}s",
            "—" if f.down_s is None else f"{f.down_s:.1f}s",
            _n(ready),
            f.error or "",
        )
    return table


def findings(r: Result, console: Console) -> None:
    a = r.audit
    if a is not None:
        for title, counts in (("重复", a.duplicates), ("丢失/遗漏", a.lost)):
            for kind, n in sorted(counts.items()):
                if n:
                    console.print(f"[red]{title}[/red] {kind}: {n}  例: {', '.join(a.examples.get(kind, [])[:3])}")
    rec = r.outcome.reconciliation if r.outcome else None
    if rec is not None:
        for rid, why in rec.lost[:10]:
            console.print(f"[red]丢失[/red] {rid}: {why}")
    for p in r.problems:
        console.print(f"[red]问题[/red] {p}")


def show(r: Result, console: Console) -> None:
    console.print()
    console.print(fault_table(r))
    console.print(figures(r))
    findings(r, console)
    if r.ok:
        console.print(
            f"[green bold]通过[/green bold]：{len(r.outcome.accepted) if r.outcome else 0} 条诉求、"
            f"{r.injected} 次故障，无重复、无丢失，{r.recovered_s}s 内追平"
        )
    else:
        console.print("[red bold]未通过[/red bold]")


def as_dict(r: Result) -> dict[str, Any]:
    o, a, out = r.options, r.audit, r.outcome
    rec = out.reconciliation if out else None
    s = r.season
    return {
        "ok": r.ok,
        "seed": o.seed,
        "replicas": o.replicas,
        "target_reports": o.reports,
        "load_s": round(o.load_s, 1),
        "season": None
        if s is None
        else {"days": s.days, "scale": s.scale, "rate": s.rate, "surge": s.surge, "speed_s_per_day": s.speed},
        "reports": len(out.accepted) if out else 0,
        "reports_by_channel": dict(Counter(out.accepted.values())) if out else {},
        "refused": dict(out.refused) if out else {},
        "faults_injected": r.injected,
        "faults": [
            {
                "target": f.target,
                "kind": f.kind,
                "planned_s": f.at,
                "pause_s": f.pause,
                "injected_s": None if f.injected is None else round(f.injected, 1),
                "down_s": None if f.down_s is None else round(f.down_s, 1),
                "ready_s": None if f.ready is None or f.injected is None else round(f.ready - f.injected, 1),
                "error": f.error,
            }
            for f in r.faults
        ],
        "duplicates": r.duplicates,
        "duplicates_by_kind": {k: n for k, n in a.duplicates.items() if n} if a else {},
        "lost": r.lost,
        "lost_by_kind": ({k: n for k, n in a.lost.items() if n} if a else {})
        | ({f"simulator:{k}": n for k, n in rec.outcome.items() if k.startswith("lost:")} if rec else {}),
        "examples": a.examples if a else {},
        "recovery_s": r.recovered_s,
        "recovery_limit_s": RECOVERY_LIMIT_S,
        "quiet_s": r.quiet_s,
        "backlog": r.final.get("backlog"),
        "lag": r.final.get("lag"),
        "groups_missing": r.final.get("groups_missing", []),
        "callbacks_pending": r.final.get("callbacks_pending"),
        "worst_backlog": r.final.get("worst_backlog"),
        "worst_lag": r.final.get("worst_lag"),
        "reconciliation": None
        if rec is None
        else {"accepted": rec.accepted, "closed": rec.closed, "open": rec.open, "lost": rec.lost_count},
        "figures": a.figures if a else {},
        "early_reconciliation": None
        if r.early is None
        else {"accepted": r.early.accepted, "closed": r.early.closed, "open": r.early.open, "lost": r.early.lost_count},
        "timeline": timeline(r),
        "problems": r.problems,
        "wall_s": round(r.wall_s, 1),
        "ports": r.ports,
    }


def timeline(r: Result, every: float = 5.0) -> list[dict[str, Any]]:
    """The watch's samples, one per ``every`` seconds: outbox backlog per service, lag per consumer group."""
    out: list[dict[str, Any]] = []
    for s in r.watch.samples if r.watch else []:
        if out and s.t - out[-1]["t"] < every:
            continue
        lag = s.lag()
        out.append(
            {
                "t": round(s.t, 1),
                "backlog": s.backlog,
                "oldest_s": None if s.oldest_s is None else {k: round(v, 1) for k, v in s.oldest_s.items()},
                "lag": None if lag is None else {k: n for k, n in lag.items() if n},
                "groups_missing": list(s.missing),
            }
        )
    return out


def write_json(r: Result, path: Path) -> None:
    path.write_text(json.dumps(as_dict(r), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
