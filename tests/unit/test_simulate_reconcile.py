"""Reconciliation verdicts and the simulator's 12345 signing (pure)."""

from __future__ import annotations

import json
from typing import Any

from deploy import platform12345
from deploy.simulate import api, config
from deploy.simulate.reconcile import Reconciliation, classify
from shared import signing


def _report(status: str, case_id: str | None = "C-1", told: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"status": status, "case_id": case_id, "timeline": [{"status": s} for s in told]}


def test_closed_report_of_a_closed_case_is_closed() -> None:
    assert classify(_report("closed"), {"status": "closed"}) == "closed"


def test_a_report_of_an_open_case_is_accounted_for_as_open() -> None:
    for status in ("opened", "assigned", "unrouted", "resolved"):
        assert classify(_report("dispatched"), {"status": status}) == "open"


def test_what_counts_as_lost() -> None:
    assert classify(None, None) == "lost:report_missing"
    assert classify(_report("accepted", case_id=None), None) == "lost:no_case"
    assert classify(_report("dispatched"), None) == "lost:case_missing"
    assert classify(_report("weird"), {"status": "closed"}) == "lost:unknown_report_status"
    assert classify(_report("resolved"), {"status": "closed"}) == "lost:report_not_told_closed"
    assert classify(_report("resolved", told=("closed", "resolved")), {"status": "closed"}) == (
        "lost:report_status_regressed"
    )
    assert classify(_report("dispatched"), {"status": "vanished"}) == "lost:unknown_case_status"


def test_reconciliation_is_ok_only_when_every_report_is_closed_or_open() -> None:
    r = Reconciliation(accepted=3)
    r.outcome.update({"closed": 2, "open": 1})
    assert r.ok
    r.outcome["lost:no_case"] += 1
    r.accepted = 4
    assert not r.ok and r.lost_count == 1


def test_timeline_counts() -> None:
    r = Reconciliation()
    r.cases["C-1"] = {
        "status": "closed",
        "supervised": True,
        "timeline": [
            {"kind": "signed_in", "detail": {"on_time": False}},
            {"kind": "escalated", "detail": {"level": "reminder"}},
            {"kind": "extension_decided", "detail": {"approved": True}},
            {"kind": "reopened", "detail": {}},
        ],
    }
    t = r.timeline_counts()
    assert t["signed_in_late"] == 1 and t["escalated:reminder"] == 1 and t["extension_approved"] == 1
    assert t["reopened"] == 1 and t["case:closed"] == 1 and t["supervised"] == 1


def test_the_simulator_signs_12345_orders_as_intake_checks_them() -> None:
    body = b'{"order_no":"SIM-1"}'
    signature = platform12345.sign(api.DEV_HOTLINE_SECRET, "1700000000", body)
    assert signing.signature_valid(api.DEV_HOTLINE_SECRET, "1700000000", body, signature)
    assert not signing.signature_valid(api.DEV_HOTLINE_SECRET, "1700000001", body, signature)


def test_the_simulated_platform_hears_a_callback_once_in_order_and_refuses_a_bad_signature() -> None:
    ear = platform12345.Ear({"12345-dev": "s3cret-0123456789"}, quiet=True)

    def callback(seq: int, secret: str = "s3cret-0123456789") -> tuple[int, dict[str, Any]]:
        body = json.dumps({"order_no": "GD-1", "seq": seq, "status": "dispatched"}).encode()
        headers = {k.lower(): v for k, v in platform12345.signed_headers("12345-dev", secret, body).items()}
        return ear.hear(headers | {"x-heat-delivery": f"GD-1:{seq}"}, body)

    assert callback(1)[0] == 200 and callback(1)[0] == 200  # a redelivery is acknowledged, kept once
    assert callback(3)[0] == 200  # #2 never came: heard, and noted out of order
    assert callback(4, secret="wrong-secret-000000")[0] == 401
    summary = ear.summary("GD-1")
    assert [c["seq"] for c in summary["orders"]["GD-1"]] == [1, 3]
    assert summary["repeats"] == 1 and summary["bad_signatures"] == 1 and summary["out_of_order"] == ["GD-1:3 after 1"]


def test_tight_rules_divide_every_clock_and_keep_the_rest() -> None:
    doc: dict[str, Any] = {"sla": {"default": {"sign_in": 60, "on_site": 1440, "resolve": 4320}}, "bounce_limit": 3}
    tight = config.tight_rules(doc, 150, "abc")
    assert tight["sla"]["default"] == {"unit": "minutes", "sign_in": 0.4, "on_site": 9.6, "resolve": 28.8}
    assert tight["bounce_limit"] == 3 and tight["version_note"].startswith(config.RULES_MARK)
    assert doc["sla"]["default"]["sign_in"] == 60  # the original is left alone


def test_tight_rules_of_the_shipped_rules_are_valid_rules() -> None:
    from services.dispatch.domain import Rules, load_rules

    shipped = load_rules().model_dump(mode="json")
    tight = Rules.model_validate(config.tight_rules(shipped, 150, "abc"))
    assert tight.sla["cold_room"].sign_in == shipped["sla"]["cold_room"]["sign_in"] / 150


def test_tight_rules_count_working_day_clocks_around_the_clock() -> None:
    doc = {"sla": {"fee_dispute": {"unit": "working_days", "sign_in": 1, "on_site": 5, "resolve": 15}}}
    tight = config.tight_rules(doc, 150, "abc")
    assert tight["sla"]["fee_dispute"] == {"unit": "minutes", "sign_in": 9.6, "on_site": 48.0, "resolve": 144.0}
