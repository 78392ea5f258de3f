"""``python -m deploy.chaos``: the loop under faults and load, on a private stack, repeatable from a seed.

Exit status: 0 when nothing was lost or doubled, every fault was injected and the system caught up within 60 s of
the last one; 1 otherwise; 2 when the private stack or the services could not be started; 130 when interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deploy.chaos import render
from deploy.chaos.run import CannotStart, ChaosOptions, Result, run

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)


@app.command()
def main(
    seed: Annotated[int, typer.Option(help="Seed of the season and of the faults' order, moments and pauses.")] = 1,
    reports: Annotated[
        int, typer.Option(min=50, help="Reports the simulator pushes through the loop (target).")
    ] = 5000,
    window: Annotated[
        float | None, typer.Option(min=60.0, help="Seconds of load (default: reports / 2.5, at least 150).")
    ] = None,
    settle: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Seconds the simulator waits for open cases at the end (default: a tenth of the load, 45-180).",
        ),
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the private stack's files and the service logs.")] = False,
    replicas: Annotated[
        int,
        typer.Option(
            min=1, max=4, help="Processes of each service behind a local haproxy; each kill takes one replica."
        ),
    ] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Start a private Kafka + PostgreSQL and the three services, drive a seeded season through them while each
    service is killed (-9) twice, the broker once and PostgreSQL once, then reconcile every report through the APIs
    and audit the databases for anything lost or doubled. Everything started is stopped and removed at the end."""
    console = Console(width=None if sys.stdout.isatty() else 140)
    # The run's own Kafka clients (the lag probe) lose the broker on purpose; their reconnect noise is not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    options = ChaosOptions(seed=seed, reports=reports, window=window, settle=settle, keep=keep, replicas=replicas)
    try:
        result: Result = asyncio.run(run(options, console))
    except CannotStart as exc:
        console.print(f"[red]无法启动私有环境或服务[/red]：{exc}")
        raise typer.Exit(2) from exc
    except (asyncio.CancelledError, KeyboardInterrupt) as exc:
        console.print("[yellow]中断[/yellow]：私有环境与服务已停止")
        raise typer.Exit(130) from exc
    render.show(result, console)
    if json_out is not None:
        render.write_json(result, json_out)
    raise typer.Exit(0 if result.ok else 1)


if __name__ == "__main__":
    app()
