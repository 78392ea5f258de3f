"""The notifier's words: every template names only what its router gives (a typo in templates.yaml fails here, not
at 3 a.m. as a dash in a duty group), and a burst reads as one digest."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from services.dispatch.notify import routing
from services.dispatch.notify.kinds import NotifyKind
from services.dispatch.notify.sending import message_of
from services.dispatch.notify.templates import DIGEST_LINES, Item, digest, render, templates
from shared.contracts.followup import VisitOverdue

CASE = {"case_id", "category", "place", "round", "mark", "sms_mark"}
# What each router gives its template (services/dispatch/notify/routing.py and api.alertmanager).
GIVEN: dict[NotifyKind, set[str]] = {
    NotifyKind.ASSIGNED: CASE | {"sign_in_due", "on_site_due", "resolve_due"},
    NotifyKind.REMINDER: CASE | {"clock", "due", "unit"},
    NotifyKind.NOTICE: CASE | {"clock", "due", "unit"},
    NotifyKind.SUPERVISION: CASE | {"clock", "due", "unit"},
    NotifyKind.HOTLINE_HURRY: CASE | {"hurries", "supervised"},
    NotifyKind.HOTLINE_SUPPLEMENT: CASE | {"content"},
    NotifyKind.VISIT_DUE: {"case_id", "grid", "due"},
    NotifyKind.VISIT_OVERDUE: {"case_id", "grid", "due", "attempts"},
    NotifyKind.SPOT_CHECK: {"case_id", "street", "week", "round"},
    NotifyKind.ALERT: {"status", "alertname", "summary", "severity", "service", "starts"},
}


def test_every_kind_has_a_template_and_names_only_what_its_router_gives() -> None:
    assert set(templates()) == set(NotifyKind)
    for kind, template in templates().items():
        assert template.placeholders() <= GIVEN[kind], (kind, template.placeholders() - GIVEN[kind])


@pytest.mark.parametrize("kind", list(NotifyKind))
def test_a_rendered_template_fills_every_placeholder(kind: NotifyKind) -> None:
    values = {key: f"<{key}>" for key in GIVEN[kind]}
    text = render(kind, values)
    for part in (text.title, *text.lines, text.sms):
        assert "{" not in part and "—" not in part, part
    assert len(text.sms) <= 300 and len(text.title) <= 200


def test_a_value_the_router_left_out_reads_as_a_dash_not_a_crash() -> None:
    assert render(NotifyKind.ASSIGNED, {}).title == "—新派单：—"


def test_the_overdue_router_fills_its_template() -> None:
    at = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    notice = routing.visit_overdue(
        VisitOverdue(
            visit_id="V-1",
            case_id="C-1",
            round=1,
            grid_id="G-1",
            community_id="CM-1",
            street_id="S-1",
            district_id="D-1",
            due_at=at,
            overdue_at=at,
            attempts=1,
        )
    )
    assert notice.owners == (("area", "G-1"), ("area", "CM-1"))
    assert set(notice.values) == GIVEN[NotifyKind.VISIT_OVERDUE]
    assert "12-05 10:00" in render(notice.kind, notice.values).lines[1]  # Beijing time


def test_a_digest_counts_by_kind_and_puts_the_urgent_first() -> None:
    items = [Item("assigned", f"新派单 {i}", ["地点：某处"], urgent=i == 7) for i in range(30)]
    items += [Item("reminder", "催办 X", [], urgent=False)]
    text = digest(items)
    assert text.title == "新派单 30 件、催办 1 件"  # the channel tags an urgent digest
    assert text.lines[0] == "· 新派单 7（地点：某处）"
    assert len(text.lines) == DIGEST_LINES + 1 and text.lines[-1] == "另有 11 条，请在调度台查看"
    assert "31条" in text.sms and "紧急1条" in text.sms


def row(i: int, *, urgent: bool = False, kind: str = "assigned") -> Any:
    return SimpleNamespace(
        id=i, kind=kind, title=f"T{i}", lines=["L"], urgent=urgent, sms=f"S{i}", data={"case_id": f"C{i}"}
    )


def test_one_row_goes_as_itself_several_as_a_digest_and_only_the_urgent_mention() -> None:
    target: Any = SimpleNamespace(config={"url": "https://x", "mentions": ["13800000000"]})
    one = message_of([row(5)], target)
    assert (one.key, one.title, one.sms, one.mentions) == ("n5", "T5", "S5", ())
    many = message_of([row(5), row(6, urgent=True), row(9)], target)
    assert many.key == "n5-9" and many.urgent and many.title.startswith("新派单 3 件")
    assert many.mentions == ("13800000000",)
    assert many.data == {"digest": [{"case_id": "C5"}, {"case_id": "C6"}, {"case_id": "C9"}]}
