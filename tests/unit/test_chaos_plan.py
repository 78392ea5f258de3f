"""The chaos run's pure parts: the fault plan from a seed, the season sized to the target, and what the watch's
samples say about recovery."""

from __future__ import annotations

from collections import Counter

import pytest

from deploy.chaos import audit, faults
from deploy.chaos.receiver import Receiver
from deploy.chaos.run import ChaosOptions, expected_reports, season_options
from deploy.chaos.watch import Sample, Watch

pytestmark = pytest.mark.unit


def test_the_same_seed_gives_the_same_faults_and_another_seed_others() -> None:
    assert faults.plan(7, 180) == faults.plan(7, 180)
    assert [(f.target, f.at) for f in faults.plan(7, 180)] != [(f.target, f.at) for f in faults.plan(8, 180)]


@pytest.mark.parametrize("seed", range(20))
def test_each_service_twice_the_broker_and_the_database_once_in_order_within_the_window(seed: int) -> None:
    plan = faults.plan(seed, 200)
    assert Counter(f.target for f in plan) == {
        "intake": 2,
        "dispatch": 2,
        "followup": 2,
        faults.KAFKA: 1,
        faults.POSTGRES: 1,
    }
    moments = [f.at for f in plan]
    assert moments == sorted(moments)
    assert faults.FIRST * 200 <= moments[0] and moments[-1] <= faults.LAST * 200
    assert all(0 <= f.pause <= 3 for f in plan)


def test_the_season_is_sized_to_the_target_and_the_window() -> None:
    short, long_ = ChaosOptions(reports=600), ChaosOptions(reports=5000)
    assert long_.load_s >= 5000 / 4 and short.load_s >= 150
    for o in (short, long_):
        s = season_options(o, {})
        assert s.days * s.speed == pytest.approx(o.load_s)
        assert expected_reports(s) >= o.reports  # the plan carries the margin for what grouping absorbs
        assert s.patience > 0  # requests safe to resend ride out the faults


def sample(t: float, *, end: int, done: int, oldest: float = 0.0) -> Sample:
    p = ("heating.dispatch.cases", 0)
    return Sample(
        t=t,
        backlog={"intake": 0},
        oldest_s={"intake": oldest},
        ends={p: end},
        committed={"intake.heating.dispatch.cases": {p: done}},
    )


def test_recovered_once_the_consumers_have_passed_what_was_there_two_seconds_before() -> None:
    w = Watch(pg_port=0, bootstrap="")
    w.samples = [
        sample(10, end=100, done=40),  # the fault: far behind
        sample(11, end=110, done=60),
        sample(12, end=120, done=90),
        sample(13, end=130, done=105),  # not yet past what existed two seconds before (110 at 11)
        sample(14, end=140, done=125),  # past 12's end (120): caught up, though new events keep coming
    ]
    assert w.recovered_at(since=10) == 14
    assert w.samples[-1].lag() == {"intake.heating.dispatch.cases": 15}


def test_an_old_unsent_outbox_row_is_not_recovered() -> None:
    w = Watch(pg_port=0, bootstrap="")
    w.samples = [sample(t, end=10, done=10, oldest=5.0) for t in range(10, 20)]
    assert w.recovered_at(since=10) is None
    w.samples.append(sample(20, end=10, done=10))
    assert w.recovered_at(since=10) == 20


def test_samples_taken_during_the_outage_count_for_nothing() -> None:
    w = Watch(pg_port=0, bootstrap="")
    w.samples = [Sample(t=10), Sample(t=11), sample(12, end=5, done=5), sample(15, end=5, done=5)]
    assert w.recovered_at(since=10) == 15
    assert w.quiet(w.samples[-1]) and not w.quiet(w.samples[0])


def test_a_group_the_broker_stops_listing_is_not_caught_up() -> None:
    # Seen in a long run: after the broker's crash its group coordinator listed no group of one __consumer_offsets
    # partition; reading "no group" as "no lag" hid consumers that had stopped for good.
    w = Watch(pg_port=0, bootstrap="")
    both = sample(10, end=5, done=5)
    assert both.committed is not None
    both.committed["dispatch.heating.followup.verdicts"] = {}
    w.see(both)
    gone = sample(11, end=5, done=5)
    w.see(gone)
    assert gone.missing == ("dispatch.heating.followup.verdicts",)
    w.samples = [both, gone, sample(12, end=5, done=5), sample(13, end=5, done=5)]
    for s in w.samples[2:]:
        w.see(s)
    assert not w.quiet(gone) and w.quiet(both)
    assert w.recovered_at(since=10) is None  # still missing at 12 and 13
    back = sample(14, end=5, done=5)
    assert back.committed is not None
    back.committed["dispatch.heating.followup.verdicts"] = {}
    w.see(back)
    w.samples.append(back)
    assert not back.missing and w.recovered_at(since=10) == 14


async def test_a_callback_cut_off_by_the_sender_dying_is_not_a_bad_signature() -> None:
    # Seen in CI: intake kill -9'd in the middle of a callback; the receiver checked the half body it had.
    receiver = Receiver("INT-12345", "secret", port=0)
    messages = iter(
        [{"type": "http.request", "body": b'{"order_no": "GD-1"', "more_body": True}, {"type": "http.disconnect"}]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"x-heat-delivery", b"GD-1:1"), (b"x-heat-signature", b"x")]}
    await receiver(scope, receive, send)
    assert receiver.bad_signatures == 0 and not receiver.heard and not sent


def _audit(lost: int = 0, dup: int = 0) -> audit.Audit:
    a = audit.Audit()
    a.loss("callback_never_heard", ["GD-1#3"] * lost)
    a.dup("callback_numbered_twice", ["GD-1#2"] * dup)
    return a


async def _looks(*answers: audit.Audit) -> tuple[audit.Audit, int, list[str]]:
    said: list[str] = []
    reads = iter(answers)
    calls = 0

    async def read() -> audit.Audit:
        nonlocal calls
        calls += 1
        return next(reads)

    found = await audit.settled(read, looks=3, pause_s=0, say=said.append)
    return found, calls, said


async def test_something_in_flight_at_the_first_look_is_not_a_loss() -> None:
    found, calls, said = await _looks(_audit(lost=2), _audit(lost=0), _audit(lost=5))
    assert (found.lost_found, calls, found.figures["audit_looks"]) == (0, 2, 2)
    assert said == ["核对第 1 次：2 项尚未到位 {'callback_never_heard': 2}，0s 后再核对"]


async def test_what_is_still_missing_at_the_last_look_is_lost() -> None:
    found, calls, _ = await _looks(_audit(lost=2), _audit(lost=1), _audit(lost=1))
    assert (found.lost_found, calls, found.figures["audit_looks"]) == (1, 3, 3)


async def test_a_duplicate_is_the_answer_at_once() -> None:
    found, calls, said = await _looks(_audit(lost=1, dup=1), _audit())
    assert (found.duplicates_found, found.lost_found, calls, said) == (1, 1, 1, [])
