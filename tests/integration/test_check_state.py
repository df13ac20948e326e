"""The scheduled checks' memory on the shadow table: the conditions that keep overlapping runs apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.config import get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.reconcile.ports import BooksDeletePass
from sync_guard.reconcile.stall import StallEpisode
from sync_guard.store.checks import DynamoCheckState
from tests.support.aws import AwsResources

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def state(aws: AwsResources) -> DynamoCheckState:
    return DynamoCheckState.from_settings(get_settings())


def test_a_watermark_never_moves_back(state: DynamoCheckState) -> None:
    # given a run that swept up to T0 + 1h
    assert state.advance("webhook_failures", T0 + timedelta(hours=1), at=T0)

    # when an overlapping run that started earlier ends, or the same run ends twice
    earlier = state.advance("webhook_failures", T0, at=T0 + timedelta(hours=2))
    again = state.advance("webhook_failures", T0 + timedelta(hours=1), at=T0 + timedelta(hours=2))

    # then nothing is written: the next run does not feed again what was fed
    assert (earlier, again) == (False, False)
    assert state.watermark("webhook_failures") == T0 + timedelta(hours=1)


def test_a_second_stall_report_does_not_replace_the_open_one_and_only_its_own_end_closes_it(
    state: DynamoCheckState,
) -> None:
    first = StallEpisode(since=T0, reported_at=T0 + timedelta(minutes=30), examples=("crm:1",))
    second = StallEpisode(since=T0, reported_at=T0 + timedelta(minutes=31), examples=("crm:2",))
    assert state.open_stall(first)

    # another run reporting the same stall: not opened, so the first report is the one remembered
    assert not state.open_stall(second)
    assert state.stall_episode() == first
    # a run that saw the end of an episode it read before the first was opened: nothing closed
    assert not state.close_stall(second)
    assert state.stall_episode() == first

    assert state.close_stall(first)
    assert state.stall_episode() is None


def test_a_run_ending_an_older_books_delete_pass_leaves_the_new_one_alone(state: DynamoCheckState) -> None:
    # given a pass that a second run replaced after the first one's was forgotten
    old, new = BooksDeletePass(started=T0), BooksDeletePass(started=T0 + timedelta(hours=1), next_page=3)
    state.save_books_delete_pass(new, new=True)
    with pytest.raises(ConcurrentUpdate):
        state.save_books_delete_pass(old, new=True)

    # when the run of the old pass ends it
    state.end_books_delete_pass(old)

    # then the other run's pass is kept, with how far it got
    assert state.books_delete_pass() == new


def test_a_books_delete_pass_keeps_how_far_it_got_and_the_customers_books_refused(
    state: DynamoCheckState,
) -> None:
    # given a pass begun, then saved after confirming two candidates, Books refusing the first
    begun = BooksDeletePass(started=T0)
    state.save_books_delete_pass(begun, new=True)
    assert state.books_delete_pass() == begun
    progressed = BooksDeletePass(
        started=T0, next_page=4, listed=True, confirmed_through="4600005", refused=("4600004",)
    )

    state.save_books_delete_pass(progressed)

    # then the next run reads it back whole: its end still fails on the refusal
    assert state.books_delete_pass() == progressed


def test_a_claim_is_given_back_only_while_it_is_still_the_watermark(state: DynamoCheckState) -> None:
    day = T0 + timedelta(days=1)
    # a first run ever claims the day, then fails: the check is as if it had never run
    assert state.advance("holds_waiting", T0, at=T0)
    assert state.rewind("holds_waiting", T0, None, at=T0)
    assert state.watermark("holds_waiting") is None

    # a run claims the next day, fails, and gives it back to the day before
    assert state.advance("holds_waiting", T0, at=T0)
    assert state.advance("holds_waiting", day, at=day)
    assert state.rewind("holds_waiting", day, T0, at=day)
    assert state.watermark("holds_waiting") == T0

    # a claim another run has moved on from is not given back
    assert state.advance("holds_waiting", day, at=day)
    assert state.advance("holds_waiting", day + timedelta(days=1), at=day)
    assert not state.rewind("holds_waiting", day, T0, at=day)
    assert state.watermark("holds_waiting") == day + timedelta(days=1)
