"""Mastery, due counts and readiness from a learner's reviews and FSRS cards.

Mastery of a task (or a domain): the share of right answers among its last `RECENT`
reviews, counting fewer than `MIN_REVIEWS` reviews as if the missing ones were wrong,
times the mean FSRS retrievability of the items met. A task never practised has mastery
0, and a domain's mastery is the mean over its tasks, so an untouched task pulls its
domain down. Readiness is the domain mastery weighted by the exam's domain weights
(fundamentals carry none). It estimates how much of the guide the learner recalls now;
it is not a predicted exam score.

Pure functions of their inputs: `progress.py` reads them from the database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fsrs import Card

from tutor.quiz.items import Item
from tutor.quiz.schedule import DOMAIN_WEIGHTS, Schedule, is_due, task_order

RECENT = 20
MIN_REVIEWS = 5


@dataclass(frozen=True)
class Review:
    """One stored answer."""

    item_id: str
    domain: int
    task: str
    letter: str
    correct: bool
    reviewed_at: datetime


@dataclass
class Stat:
    """Progress on one task or domain."""

    items: int = 0  # items in the bank
    seen: int = 0  # distinct items answered at least once
    reviews: int = 0
    correct_share: float = 0.0  # over the last RECENT reviews
    retrievability: float = 0.0  # mean over the items seen
    mastery: float = 0.0
    due: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "seen": self.seen,
            "reviews": self.reviews,
            "correct_share": round(self.correct_share, 3),
            "retrievability": round(self.retrievability, 3),
            "mastery": round(self.mastery, 3),
            "due": self.due,
        }


@dataclass
class Report:
    profile: str
    readiness: float
    due: int
    domains: dict[int, Stat] = field(default_factory=dict)
    tasks: dict[str, Stat] = field(default_factory=dict)
    next_due: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "readiness": round(self.readiness, 3),
            "due": self.due,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "domains": {str(d): s.to_json() for d, s in sorted(self.domains.items())},
            "tasks": {t: s.to_json() for t, s in self.tasks.items()},
        }


def mastery_report(
    profile: str,
    items: list[Item],
    reviews: list[Review],
    cards: dict[str, Card],
    schedule: Schedule,
) -> Report:
    """The numbers behind `tutor progress`; see the module docstring for the formulas."""
    at = schedule.now()
    by_id = {it.id: it for it in items}
    task_of = {it.task: it.domain for it in items if it.task}
    tasks: dict[str, Stat] = {t: Stat() for t in sorted(task_of, key=task_order)}
    domains: dict[int, Stat] = {d: Stat() for d in sorted({it.domain for it in items})}
    recent_t: dict[str, list[bool]] = defaultdict(list)
    recent_d: dict[int, list[bool]] = defaultdict(list)
    for r in reviews:  # oldest first: the lists end with the most recent
        if r.item_id not in by_id:
            continue  # an item no longer in the bank (the guide changed)
        recent_d[r.domain].append(r.correct)
        if r.task in tasks:
            recent_t[r.task].append(r.correct)
    recall_t: dict[str, list[float]] = defaultdict(list)
    recall_d: dict[int, list[float]] = defaultdict(list)
    for it in items:
        if it.task in tasks:
            tasks[it.task].items += 1
        domains[it.domain].items += 1
        card = cards.get(it.id)
        if card is None:
            continue
        recall = schedule.retrievability(card, at)
        due = int(is_due(card, at))
        recall_d[it.domain].append(recall)
        domains[it.domain].seen += 1
        domains[it.domain].due += due
        if it.task in tasks:
            recall_t[it.task].append(recall)
            tasks[it.task].seen += 1
            tasks[it.task].due += due
    for t, s in tasks.items():
        _fill(s, recent_t[t], recall_t[t])
    for d, s in domains.items():
        _fill(s, recent_d[d], recall_d[d])
    # a domain's mastery is the mean over its tasks, so an untouched task pulls it down
    for d, s in domains.items():
        mine = [ts.mastery for t, ts in tasks.items() if task_of[t] == d]
        if mine:
            s.mastery = sum(mine) / len(mine)
    readiness = sum(w * domains[d].mastery for d, w in DOMAIN_WEIGHTS.items() if d in domains)
    readiness /= sum(w for d, w in DOMAIN_WEIGHTS.items() if d in domains) or 1.0
    mine_cards = [c for i, c in cards.items() if i in by_id]
    upcoming = [c.due for c in mine_cards if not is_due(c, at)]
    return Report(
        profile=profile,
        readiness=readiness,
        due=sum(is_due(c, at) for c in mine_cards),
        domains=domains,
        tasks=tasks,
        next_due=min(upcoming) if upcoming else None,
    )


def _fill(s: Stat, answers: list[bool], recall: list[float]) -> None:
    recent = answers[-RECENT:]
    s.reviews = len(answers)
    s.correct_share = sum(recent) / len(recent) if recent else 0.0
    s.retrievability = sum(recall) / len(recall) if recall else 0.0
    s.mastery = (sum(recent) / max(len(recent), MIN_REVIEWS)) * s.retrievability
