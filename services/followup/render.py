"""Renderings people read: CSV (opens in a spreadsheet) and the Chinese text of the daily and season reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from services.followup import assessment, texts
from services.followup.reports import DayReport, Figures, Notable, SeasonReport
from services.followup.scorecard import Line

DAY_COLUMNS = tuple(k for k in texts.DAILY_LABELS if k not in ("date", "area_id"))
SCORE_COLUMNS = tuple(texts.SCORE_LABELS)
ASSESSMENT_COLUMNS = tuple(texts.ASSESSMENT_LABELS)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with a byte-order mark, so that a spreadsheet opens the Chinese headings as UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def _day_row(day: str, area_id: str, f: Figures) -> list[Any]:
    values = f.as_dict()
    return [day, area_id, *(values[c] for c in DAY_COLUMNS)]


def days_csv(area_id: str, rows: Sequence[DayReport], totals: Figures | None = None) -> str:
    header = [texts.DAILY_LABELS[k] for k in texts.DAILY_LABELS]
    body = [_day_row(r.day.isoformat(), area_id, r.figures) for r in rows]
    if totals is not None:
        body.append(_day_row("合计", area_id, totals))
    return table(header, body)


def scorecard_csv(lines: Sequence[Line]) -> str:
    header = [texts.SCORE_LABELS[c] for c in SCORE_COLUMNS]

    def row(line: Line) -> list[Any]:
        values = line.as_dict()
        if values["unit_type"]:
            values["unit_type"] = texts.UNIT_TYPE_ZH.get(values["unit_type"], values["unit_type"])
        return [values[c] for c in SCORE_COLUMNS]

    return table(header, (row(line) for line in lines))


def assessment_csv(lines: Sequence[assessment.Line]) -> str:
    header = [texts.ASSESSMENT_LABELS[c] for c in ASSESSMENT_COLUMNS]

    def row(line: assessment.Line) -> list[Any]:
        values = line.as_dict()
        if values["unit_type"] is None:  # a line per unit type: its key is the type
            values["key"] = texts.UNIT_TYPE_ZH.get(values["key"], values["key"])
        else:
            values["unit_type"] = texts.UNIT_TYPE_ZH.get(values["unit_type"], values["unit_type"])
        return [values[c] for c in ASSESSMENT_COLUMNS]

    return table(header, (row(line) for line in lines))


def percent(value: float | None) -> str:
    return texts.NOT_AVAILABLE if value is None else f"{value * 100:.1f}%"


def celsius(value: float | None) -> str:
    return texts.NOT_AVAILABLE if value is None else f"{value:.1f}°C"


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _notable_line(n: int, item: Notable) -> str:
    return texts.NOTABLE_LINE.format(
        n=n,
        case_id=item.case_id,
        category=texts.CATEGORY_ZH.get(item.category, item.category),
        place=item.household_id or item.building_id,
        what="、".join(texts.NOTABLE_ZH[r] for r in item.reasons),
    )


def daily_text(area: str, report: DayReport) -> str:
    f = report.figures
    lines = [
        texts.DAILY_TITLE.format(area=area, day=zh_date(report.day)),
        texts.DAILY_TEXT.format(
            day=zh_date(report.day),
            area=area,
            households=f.households_visited,
            residents=f.residents_reached,
            found=f.problems_found,
            solved=f.solved,
            settled=f.settled_on_site,
            open=f.open,
            overdue=f.overdue,
            escalated=f.escalated,
            return_visits=f.return_visits,
            visits_overdue=f.visits_overdue,
        ),
    ]
    if report.notable:
        lines.append(texts.NOTABLE_HEAD)
        lines += [_notable_line(i, item) for i, item in enumerate(report.notable, start=1)]
    else:
        lines.append(texts.NONE_NOTABLE)
    return "\n".join(lines) + "\n"


def season_text(area: str, report: SeasonReport) -> str:
    t = report.totals
    lines = [
        texts.SEASON_TEXT.format(
            first=zh_date(report.first),
            last=zh_date(report.last),
            area=area,
            households=t.households_visited,
            residents=t.residents_reached,
            found=t.problems_found,
            solved=t.solved,
            open=t.open,
            return_visits=t.return_visits,
            satisfaction=percent(t.satisfaction_rate),
            mean_temp=celsius(t.mean_temp_c),
        ),
        texts.SEASON_TREND_HEAD,
    ]
    lines += [
        texts.SEASON_TREND_LINE.format(
            day=f"{r.day.month}月{r.day.day}日",
            households=r.figures.households_visited,
            found=r.figures.problems_found,
            solved=r.figures.solved,
            open=r.figures.open,
            overdue=r.figures.overdue,
        )
        for r in report.days
    ]
    return "\n".join(lines) + "\n"
