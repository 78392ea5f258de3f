"""The benchmark suite's results: one row per figure (beside its baseline, as a ratio, against its target), the
table printed at the end, the JSON written for later comparison, and the comparison of two such files."""

from __future__ import annotations

import json
import os
import platform
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).with_name("results")


@dataclass
class Row:
    """One figure. ``ratio`` is value ÷ baseline; ``met`` None when the figure has no target (or none applies)."""

    scenario: str
    figure: str
    value: float | None
    unit: str = ""
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio}


@dataclass
class Suite:
    quick: bool
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=lambda: machine())

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "quick": self.quick,
            "machine": self.host | {"load_at_end": machine()["load_at_start"]},
            "scenarios": sorted(set(self.raw) | set(self.failed)),
            "rows": [r.as_dict() for r in self.rows],
            "raw": self.raw,
            "failed": self.failed,
        }

    def write(self, path: Path | None = None) -> Path:
        if path is None:
            RESULTS.mkdir(exist_ok=True)
            path = RESULTS / f"{self.started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if self.quick else ''}.json"
        path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        return path


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    mem = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            mem = int(next(line for line in f if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_at_start": [round(x, 2) for x in load],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        text = f"{x:,.0f}"
    elif abs(x) >= 100:
        text = f"{x:.0f}"
    elif abs(x) >= 10:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2f}"
    return f"{text} {unit}".strip()


def _ratio(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}×" if x >= 0.1 else f"{x:.2g}×"


def table(rows: list[Row], *, title: str) -> Table:
    t = Table(title=title, show_lines=False)
    for col in ("scenario", "figure", "value", "baseline", "ratio", "target", "met?"):
        t.add_column(col, justify="right" if col in ("value", "baseline", "ratio") else "left")
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        baseline = _num(r.baseline, r.unit) + (f" ({r.baseline_label})" if r.baseline_label and r.baseline else "")
        t.add_row(
            r.scenario,
            r.figure + (f" ({r.note})" if r.note else ""),
            _num(r.value, r.unit),
            baseline,
            _ratio(r.ratio),
            r.target,
            met,
            style=None if r.met is not False else "red",
        )
    return t


def show(suite: Suite, console: Console) -> None:
    m = suite.host
    console.print(
        table(
            suite.rows, title=f"python -m bench{' --quick' if suite.quick else ''} · {suite.started:%Y-%m-%d %H:%M} UTC"
        )
    )
    console.print(
        f"machine: {m['cpu']} × {m['cpus']} CPUs, {m['memory_mb']:,} MB, Python {m['python']}; load average "
        f"{m['load_at_start']} at start, {machine()['load_at_start']} now (a shared machine: figures move between runs)"
    )
    if suite.quick:
        console.print("--quick: tiny sizes, to check that every scenario runs; the figures mean nothing.")
    for name, why in suite.failed.items():
        console.print(f"[red]{name} failed:[/red] {why}")


def compare(a_path: Path, b_path: Path, console: Console) -> None:
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (a_path, b_path))
    before = {(r["scenario"], r["figure"]): r for r in a["rows"]}
    t = Table(title=f"{a_path.name} → {b_path.name}")
    for col in ("scenario", "figure", "A", "B", "change", "A ratio", "B ratio", "B met?"):
        t.add_column(col, justify="left" if col in ("scenario", "figure") else "right")
    for r in b["rows"]:
        old = before.pop((r["scenario"], r["figure"]), None)
        av, bv = (old or {}).get("value"), r.get("value")
        change = f"{(bv - av) / av * 100:+.0f}%" if av and bv is not None else "—"
        t.add_row(
            r["scenario"],
            r["figure"],
            _num(av, r.get("unit", "")),
            _num(bv, r.get("unit", "")),
            change,
            _ratio((old or {}).get("ratio")),
            _ratio(r.get("ratio")),
            "—" if r.get("met") is None else ("yes" if r["met"] else "NO"),
        )
    for (scenario, figure), old in before.items():
        t.add_row(scenario, figure, _num(old.get("value"), old.get("unit", "")), "(absent)", "—", "—", "—", "—")
    console.print(t)
    for label, doc in (("A", a), ("B", b)):
        m = doc.get("machine", {})
        console.print(
            f"{label}: {doc.get('started')} on {m.get('cpu')} × {m.get('cpus')}, load {m.get('load_at_start')}"
        )


def plot_curve(e2e: dict[str, Any], path: Path) -> Path:
    """Report → ``CaseAssigned`` p50 and p99 against the offered rate (log scale), the raw round trip and the
    capacity marked: the PNG the README shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, base = e2e["system"]["curve"], e2e["raw"]
    rates = [p["rate"] for p in curve]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(rates, [p["p50_ms"] for p in curve], "o-", label="p50")
    ax.plot(rates, [p["p99_ms"] for p in curve], "s-", label="p99")
    ax.axhline(base["p99_ms"], color="grey", linestyle=":", label=f"aiokafka round trip p99 ({base['p99_ms']:.0f} ms)")
    ax.axhline(250, color="red", linestyle="--", linewidth=0.8, label="250 ms")
    capacity = e2e["system"]["throughput"]
    ax.axvline(capacity, color="green", linestyle="-.", linewidth=0.8, label=f"capacity {capacity:.0f}/s")
    ax.set_yscale("log")
    ax.set_xlabel("offered reports/s (one-tap, open loop)")
    ax.set_ylabel("report → CaseAssigned (ms)")
    ax.set_title("intake + dispatch as processes, on one machine with Kafka and PostgreSQL", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
