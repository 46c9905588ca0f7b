"""Scheduling (FSRS) and the choice of the next item, on a fixed clock and hand-made items."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from fsrs import State

from tests.quiz_fixtures import T0, FixedClock, make_bank
from tutor.errors import TutorError
from tutor.quiz.schedule import DOMAIN_WEIGHTS, Schedule, Scope, next_item


def test_a_wrong_answer_comes_back_sooner_than_a_right_one(schedule: Schedule):
    at = schedule.now()
    wrong = schedule.review("x", None, correct=False, at=at)
    right = schedule.review("y", None, correct=True, at=at)
    assert at < wrong.due < right.due <= at + timedelta(hours=1)  # both in learning steps
    assert wrong.last_review == at and right.last_review == at
    # right again once its step is due: it graduates to days-long review intervals
    again = schedule.review("y", right, correct=True, at=right.due)
    assert again.state == State.Review and again.due - right.due >= timedelta(days=1)
    assert schedule.retrievability(again, again.due) < schedule.retrievability(again, right.due)


def test_the_card_id_is_stable_not_the_creation_time(schedule: Schedule):
    a = schedule.review("item-1", None, True, schedule.now())
    b = schedule.review("item-1", None, True, schedule.now())
    assert a.card_id == b.card_id != schedule.review("item-2", None, True, schedule.now()).card_id


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        Schedule(lambda: T0.replace(tzinfo=None)).now()


def test_a_new_learner_starts_with_domain_1_and_its_first_task():
    pick = next_item(make_bank(), {}, T0)
    assert pick is not None and pick.reason == "new"
    assert (pick.item.domain, pick.item.task) == (1, "1.1")


def test_new_items_follow_the_exam_domain_weights(schedule: Schedule, clock: FixedClock):
    items = make_bank(per_task=12)
    cards: dict = {}
    picked: list = []
    for _ in range(100):
        pick = next_item(items, cards, clock(), session_seen=[p.id for p in picked])
        assert pick is not None and pick.reason == "new"
        picked.append(pick.item)
        cards[pick.item.id] = schedule.review(pick.item.id, None, True, clock())
        clock.t += timedelta(seconds=5)  # right answers: due again only after 10 minutes
    counts = Counter(it.domain for it in picked)
    assert set(counts) == {1, 2, 3, 4}  # no fundamentals while weighted items are left
    for d, w in DOMAIN_WEIGHTS.items():
        assert abs(counts[d] - 100 * w) <= 1, counts
    # inside a domain, tasks are met evenly (the weakest, i.e. least met, first)
    tasks_d1 = Counter(it.task for it in picked if it.domain == 1)
    assert max(tasks_d1.values()) - min(tasks_d1.values()) <= 1, tasks_d1
    assert len({it.id for it in picked}) == 100


def test_due_reviews_come_first_even_if_seen_in_this_session(schedule, clock):
    items = make_bank()
    first = next_item(items, {}, clock())
    assert first is not None
    cards = {first.item.id: schedule.review(first.item.id, None, False, clock())}
    seen = {first.item.id}
    # not due yet: a different, new item; the one just answered is not repeated
    soon = next_item(items, cards, clock() + timedelta(seconds=30), session_seen=seen)
    assert soon is not None and soon.item.id != first.item.id and soon.reason == "new"
    # once it falls due it comes back first, session or not
    later = next_item(items, cards, cards[first.item.id].due, session_seen=seen)
    assert later is not None and later.item.id == first.item.id and later.reason == "due"


def test_the_most_overdue_review_comes_first(schedule, clock):
    items = make_bank()
    a, b = items[5], items[50]
    cards = {
        a.id: schedule.review(a.id, None, False, clock()),
        b.id: schedule.review(b.id, None, False, clock() - timedelta(minutes=5)),
    }
    pick = next_item(items, cards, clock() + timedelta(hours=1))
    assert pick is not None and pick.item.id == b.id


def test_the_weakest_task_is_favoured():
    mastery = {"1.1": 0.9, "1.2": 0.1, "1.3": 0.5, "1.4": 0.5}
    pick = next_item(make_bank(), {}, T0, task_mastery=mastery)
    assert pick is not None and pick.item.task == "1.2"
    pick = next_item(make_bank(), {}, T0, scope=Scope(domain=1), task_mastery=mastery)
    assert pick is not None and pick.item.task == "1.2"


def test_kinds_rotate_within_a_task(schedule, clock):
    items = [it for it in make_bank() if it.task == "2.3"]
    cards: dict = {}
    kinds = []
    for _ in range(4):
        pick = next_item(items, cards, clock(), scope=Scope(task="2.3"))
        assert pick is not None
        kinds.append(pick.item.kind)
        cards[pick.item.id] = schedule.review(pick.item.id, None, True, clock())
    assert sorted(kinds) == ["describe", "scenario", "term", "truefalse"]


def test_a_task_scope_stays_inside_and_ends_when_all_met(schedule, clock):
    items = make_bank(per_task=3)
    cards: dict = {}
    got = []
    while (pick := next_item(items, cards, clock(), scope=Scope(task="4.5"))) is not None:
        got.append(pick.item)
        cards[pick.item.id] = schedule.review(pick.item.id, None, True, clock())
    assert [it.task for it in got] == ["4.5"] * 3


def test_fundamentals_only_when_asked_for_or_when_nothing_else_is_new(schedule, clock):
    items = make_bank(per_task=1)
    pick = next_item(items, {}, clock(), scope=Scope(domain=0))
    assert pick is not None and pick.item.domain == 0
    weighted = {it.id: schedule.review(it.id, None, True, clock()) for it in items if it.domain}
    pick = next_item(items, weighted, clock())
    assert pick is not None and pick.item.domain == 0


@pytest.mark.parametrize(
    ("domain", "task", "needle"),
    [
        (None, "9.9", "Unknown task '9.9'"),
        (7, None, "Unknown domain 7"),
        (2, "1.1", "Task 1.1 is not in domain 2"),
    ],
)
def test_a_bad_scope_names_the_valid_ones(domain, task, needle):
    with pytest.raises(TutorError, match=needle):
        Scope.parse(make_bank(), domain, task)
