"""``python -m deploy.simulate``: a heating season, compressed, against the running services.

Exit status: 0 when every accepted report is closed or accounted for as open, 1 when any was lost, 2 when the
run could not start (services not ready).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deploy.simulate import render
from deploy.simulate.config import Options, build_district, build_plan
from deploy.simulate.run import NotReady, Season

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)


@app.command()
def main(
    days: Annotated[int, typer.Option(min=1, max=120, help="Simulated days of the season.")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the district, the plan and the fates.")] = 7,
    scale: Annotated[
        int, typer.Option(min=1, max=50, help="Streets in the generated district (240 households each).")
    ] = 1,
    rate: Annotated[float, typer.Option(min=0.01, help="Multiplier of every arrival rate.")] = 1.0,
    speed: Annotated[float, typer.Option(min=0.5, help="Wall seconds per simulated day.")] = 8.0,
    clock_speedup: Annotated[
        float, typer.Option(min=1.0, help="Dispatch clocks are divided by this during the run (restored after).")
    ] = 150.0,
    late_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of units that sign in late.")] = 0.3,
    settle: Annotated[float, typer.Option(min=0.0, help="Seconds to wait after the last day for open cases.")] = 60.0,
    registry: Annotated[
        str, typer.Option(help="'generated' (from the seed and --scale) or 'seed' (deploy/seed/registry.yaml).")
    ] = "generated",
    poll: Annotated[
        float,
        typer.Option(
            min=0.05,
            help="Seconds between reads of the return-visit and extension lists (units and task forces read"
            " theirs when the console's live stream says it changed).",
        ),
    ] = 0.5,
    intake_url: Annotated[str, typer.Option(envvar="INTAKE_URL")] = "http://127.0.0.1:8001",
    dispatch_url: Annotated[str, typer.Option(envvar="DISPATCH_URL")] = "http://127.0.0.1:8002",
    followup_url: Annotated[str, typer.Option(envvar="FOLLOWUP_URL")] = "http://127.0.0.1:8003",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
    plan_only: Annotated[bool, typer.Option(help="Print the plan's figures and exit; no services needed.")] = False,
) -> None:
    """Run a seeded, reproducible heating season through the services' public APIs and reconcile every report.

    The calendar is compressed on the simulator's side (--speed); the services keep the real clock, so dispatch's
    clocks are divided by --clock-speedup for the run (PUT /admin/rules) and restored at the end. The same seed
    gives the same district, plan and fates; ids of orders and sensors carry a run tag, so runs never collide.
    Exit 0: every accepted report closed or open; 1: a report was lost; 2: the services were not ready.
    """
    if registry not in ("generated", "seed"):
        raise typer.BadParameter("registry must be 'generated' or 'seed'")
    options = Options(
        days=days,
        seed=seed,
        scale=scale,
        rate=rate,
        speed=speed,
        clock_speedup=clock_speedup,
        late_share=late_share,
        settle=settle,
        registry=registry,
        urls={
            "intake": intake_url.rstrip("/"),
            "dispatch": dispatch_url.rstrip("/"),
            "followup": followup_url.rstrip("/"),
        },
        poll=poll,
    )
    console = Console(width=None if sys.stdout.isatty() else 120)
    if plan_only:
        d = build_district(options)
        p = build_plan(d, options)
        console.print({"households": len(d.households), "units": len(d.units), **p.counts()})
        raise typer.Exit(0)
    console.print(
        f"模拟供暖季：{days} 天，每天 {speed:g} 秒，种子 {seed}，"
        f"{'生成的辖区 ×' + str(scale) if registry == 'generated' else '种子登记簿'}；调度时限 ÷{clock_speedup:g}"
    )
    try:
        outcome = asyncio.run(Season(options, console).run())
    except NotReady as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except (asyncio.CancelledError, KeyboardInterrupt) as exc:
        console.print("[yellow]中断[/yellow]：调度规则已恢复，寒潮标志已撤销")
        raise typer.Exit(130) from exc
    render.show(outcome, console)
    if json_out is not None:
        render.write_json(outcome, json_out)
    raise typer.Exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    app()
