"""The simulator's options, and what follows from them alone: the district, the plan, the tightened rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from deploy.simulate import district, plan
from deploy.simulate.plan import Plan

RULES_MARK = "模拟器"
REPORT_ZONE = ZoneInfo("Asia/Shanghai")  # follow-up's report days are local days (FOLLOWUP_REPORT_TIMEZONE)


@dataclass(frozen=True)
class Options:
    days: int = 7
    seed: int = 7
    scale: int = 1
    rate: float = 1.0
    speed: float = 8.0  # wall seconds per simulated day
    clock_speedup: float = 150.0
    late_share: float = 0.3
    settle: float = 60.0
    registry: str = "generated"
    urls: dict[str, str] = field(
        default_factory=lambda: {
            s: f"http://127.0.0.1:{p}" for s, p in (("intake", 8001), ("dispatch", 8002), ("followup", 8003))
        }
    )
    poll: float = 0.5
    surge: float = 10.0  # the cold-snap day's multiplier of reports and cold spells
    patience: float = 0.0  # seconds a request safe to resend keeps being resent (deploy.simulate.api.Api)


def build_district(options: Options) -> district.District:
    if options.registry == "seed":
        return district.from_seed()
    return district.generate(options.seed, streets=options.scale)


def build_plan(d: district.District, options: Options) -> Plan:
    return plan.build(
        d,
        days=options.days,
        seed=options.seed,
        rates=plan.Rates(surge=options.surge).scaled(options.rate),
        late_share=options.late_share,
    )


# A working-day clock divided by the speedup would still stop at night, at weekends and on holidays, so a run of an
# hour could see none of it: the run counts it around the clock instead, a working day as a day, an hour as an hour.
_MINUTES_PER = {"minutes": 1.0, "working_hours": 60.0, "working_days": 1440.0}


def tight_rules(document: dict[str, Any], speedup: float, run_tag: str) -> dict[str, Any]:
    """The rules with every clock divided by ``speedup`` and counted in minutes around the clock (escalation
    fractions, factors and limits unchanged)."""
    out = dict(document)
    out["sla"] = {k: _tight(v, speedup) for k, v in document["sla"].items()}
    out["version_note"] = f"{RULES_MARK} {run_tag}: 时限 ÷{speedup:g}（运行结束后恢复）"
    return out


def _tight(clocks: dict[str, Any], speedup: float) -> dict[str, Any]:
    per = _MINUTES_PER[clocks.get("unit", "minutes")]
    return {"unit": "minutes", **{c: m * per / speedup for c, m in clocks.items() if c != "unit"}}
