"""Spaced repetition and the choice of the next item.

Each answer is one FSRS review (the maintained `fsrs` package): a right answer is rated
Good, a wrong one Again. `Schedule` wraps the FSRS scheduler with an injectable clock, so
tests run on a fixed time; fuzzing of intervals is on by default and off in tests.

`next_item` picks, within a `Scope` (everything, one domain or one task):
1. the most overdue review that is due now (an item seen earlier in this session comes
   back only when it is due again);
2. otherwise a new item: the domain furthest below its exam weight among the items this
   learner has met (Domain 1 34%, 2 26%, 3 22%, 4 18%, the official DEA-C01 weights), and
   inside it the weakest task (lowest mastery, then fewest items met), then the kind of
   item met least often in that task, then the item id (stable, so a rebuild keeps the
   order).
3. otherwise nothing: every item in the scope has been met and none is due.

Items of the fundamentals (domain 0) carry no exam weight: they come up when the scope
asks for domain 0 or a task, or when the weighted domains have no new item left.

This module holds no state and touches no disk; `progress.py` stores the cards.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler

from tutor.errors import TutorError
from tutor.quiz.items import Item

DOMAIN_WEIGHTS: dict[int, float] = {1: 0.34, 2: 0.26, 3: 0.22, 4: 0.18}
DOMAIN_NAMES: dict[int, str] = {
    0: "Fundamentals",
    1: "Data Ingestion and Transformation",
    2: "Data Store Management",
    3: "Data Operations and Support",
    4: "Data Security and Governance",
}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scope:
    """Which items a session draws from: all (both None), one domain, or one task."""

    domain: int | None = None
    task: str | None = None

    def admits(self, item: Item) -> bool:
        if self.task is not None:
            return item.task == self.task
        return self.domain is None or item.domain == self.domain

    @property
    def label(self) -> str:
        if self.task is not None:
            return f"task {self.task}"
        if self.domain is not None:
            return f"domain {self.domain} ({DOMAIN_NAMES.get(self.domain, '?')})"
        return "the whole guide"

    @classmethod
    def parse(cls, items: Iterable[Item], domain: int | None, task: str | None) -> Scope:
        """A scope checked against the bank: an unknown domain or task names the valid ones."""
        items = list(items)
        if task is not None:
            task = task.strip()
            tasks = sorted({it.task for it in items if it.task})
            if task not in tasks:
                raise TutorError(f"Unknown task {task!r}: the bank has tasks {', '.join(tasks)}.")
            if domain is not None and not task.startswith(f"{domain}."):
                raise TutorError(f"Task {task} is not in domain {domain}: give one or the other.")
            return cls(task=task)
        if domain is not None:
            domains = sorted({it.domain for it in items})
            if domain not in domains:
                known = ", ".join(str(d) for d in domains)
                raise TutorError(f"Unknown domain {domain}: the bank has domains {known}.")
            return cls(domain=domain)
        return cls()


def card_id(item_id: str) -> int:
    """A stable FSRS card id from the item id (FSRS's default is the creation time)."""
    return int(hashlib.sha1(item_id.encode()).hexdigest()[:12], 16)


class Schedule:
    """FSRS with the default parameters (desired retention 0.9) and a clock."""

    def __init__(self, clock: Clock = utc_now, fuzz: bool = True) -> None:
        self.clock = clock
        self.fsrs = Scheduler(enable_fuzzing=fuzz)

    def now(self) -> datetime:
        t = self.clock()
        if t.tzinfo is None:
            raise ValueError("the clock must give timezone-aware UTC times")
        return t.astimezone(UTC)

    def review(self, item_id: str, card: Card | None, correct: bool, at: datetime) -> Card:
        """The card after one answer at `at` (a new card when the item was never met)."""
        card = card or Card(card_id=card_id(item_id), due=at)
        new, _log = self.fsrs.review_card(card, Rating.Good if correct else Rating.Again, at)
        return new

    def retrievability(self, card: Card, at: datetime) -> float:
        """FSRS's predicted chance of recalling the card at `at` (0 for a card never met)."""
        return float(self.fsrs.get_card_retrievability(card, at))


@dataclass(frozen=True)
class Pick:
    """The chosen item and why: "due" (a review that fell due) or "new"."""

    item: Item
    reason: str


def is_due(card: Card, at: datetime) -> bool:
    return card.due <= at


def next_item(
    items: Iterable[Item],
    cards: Mapping[str, Card],
    at: datetime,
    scope: Scope = Scope(),
    session_seen: Iterable[str] = (),
    task_mastery: Mapping[str, float] | None = None,
) -> Pick | None:
    """The next item for a learner whose FSRS cards are `cards` (by item id); see the
    module docstring for the order. `session_seen` holds the ids already asked in this
    session; `task_mastery` the learner's mastery per task (missing = 0)."""
    pool = [it for it in items if scope.admits(it)]
    seen = set(session_seen)
    due = [it for it in pool if it.id in cards and is_due(cards[it.id], at)]
    if due:
        return Pick(min(due, key=lambda it: (cards[it.id].due, it.id)), "due")
    fresh = [it for it in pool if it.id not in cards and it.id not in seen]
    if not fresh:
        return None
    mastery = task_mastery or {}
    met = [it for it in items if it.id in cards]
    weighted = [it for it in fresh if it.domain in DOMAIN_WEIGHTS]
    if scope.domain is None and scope.task is None and weighted:
        domain = _domain_below_weight(met, {it.domain for it in weighted})
        fresh = [it for it in weighted if it.domain == domain]
    met_in_task = Counter(it.task for it in met)
    task = min(
        {it.task for it in fresh},
        key=lambda t: (mastery.get(t, 0.0), met_in_task[t], task_order(t)),
    )
    fresh = [it for it in fresh if it.task == task]
    kinds_met = Counter(it.kind for it in met if it.task == task)
    return Pick(min(fresh, key=lambda it: (kinds_met[it.kind], it.id)), "new")


def _domain_below_weight(met: list[Item], available: set[int]) -> int:
    """The available domain whose share of the items met is furthest below its weight."""
    counts = Counter(it.domain for it in met if it.domain in DOMAIN_WEIGHTS)
    total = sum(counts.values())

    def deficit(d: int) -> tuple[float, int]:
        share = counts[d] / total if total else 0.0
        return (share - DOMAIN_WEIGHTS[d], d)  # most negative first; ties by number

    return min(available, key=deficit)


def task_order(task: str) -> tuple[int, ...]:
    """A sort key for task numbers: "1.10" after "1.9"; "" (no task) last."""
    if not task:
        return (99,)
    return tuple(int(p) for p in task.split(".") if p.isdigit())
