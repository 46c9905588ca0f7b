"""One learner practising: the bank, their progress file and profile, and the schedule.

The command line and the web page both go through `Learner`, so they grade, schedule and
choose items the same way. Every call opens the progress database, does its work and
closes it again: a `Learner` may be shared by the threads of a web server, and two pages
(or a page and a terminal) on one profile always read what the other wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tutor.errors import TutorError
from tutor.quiz.items import LETTERS, Item, bank_by_id
from tutor.quiz.mastery import Report
from tutor.quiz.progress import open_progress, valid_profile
from tutor.quiz.schedule import Pick, Schedule, Scope, next_item

TRUE_FALSE_WORDS = {"T": "A", "TRUE": "A", "F": "B", "FALSE": "B"}


def letters_of(item: Item) -> str:
    return LETTERS[: len(item.options)]


def parse_letter(item: Item, raw: str) -> str:
    """The option letter the learner meant; a clear error for anything else."""
    letter = (raw or "").strip().upper().rstrip(")").rstrip(".")
    if item.kind == "truefalse":
        letter = TRUE_FALSE_WORDS.get(letter, letter)
    valid = letters_of(item)
    if len(letter) != 1 or letter not in valid:
        choices = ", ".join(valid[:-1]) + f" or {valid[-1]}"
        extra = " (A = True, B = False)" if item.kind == "truefalse" else ""
        raise TutorError(
            f"{raw.strip()!r} is not an option of item {item.id}: answer {choices}{extra}."
        )
    return letter


def public_json(item: Item) -> dict[str, Any]:
    """What `tutor quiz next --json` shows: the item without its key."""
    return {
        "id": item.id,
        "kind": item.kind,
        "stem": item.stem,
        "options": list(item.options),
        "domain": item.domain,
        "task": item.task,
    }


@dataclass(frozen=True)
class Graded:
    item: Item
    letter: str
    correct: bool
    next_due: datetime

    def to_json(self) -> dict[str, Any]:
        c = self.item.citation
        return {
            "id": self.item.id,
            "correct": self.correct,
            "answer": self.item.answer,
            "explanation": self.item.explanation,
            "citation": {
                "section_path": c.section_path,
                "start_line": c.start_line,
                "end_line": c.end_line,
            },
            "next_due": self.next_due.isoformat(),
        }


class Learner:
    """Practice for one profile in one progress file, over one item bank."""

    def __init__(
        self, items: list[Item], progress_path: Path, profile: str, schedule: Schedule
    ) -> None:
        if not items:
            raise TutorError(
                "The quiz item bank is empty: rebuild it with `tutor index --rebuild`."
            )
        self.items = items
        self.by_id = bank_by_id(items)
        self.path = progress_path
        self.profile = valid_profile(profile)
        self.schedule = schedule

    def item(self, item_id: str) -> Item:
        item = self.by_id.get((item_id or "").strip())
        if item is None:
            raise TutorError(
                f"No item {item_id!r} in the item bank: take an id from "
                "`tutor quiz next --json` (ids change only when their guide line does)."
            )
        return item

    def scope(self, domain: int | None = None, task: str | None = None) -> Scope:
        return Scope.parse(self.items, domain, task)

    def next(
        self, scope: Scope, session_seen: set[str] | frozenset[str] = frozenset()
    ) -> Pick | None:
        with open_progress(self.path) as db:
            cards = db.cards(self.profile)
            report = db.report(self.profile, self.items, self.schedule)
        mastery = {t: s.mastery for t, s in report.tasks.items()}
        return next_item(
            self.items, cards, self.schedule.now(), scope, session_seen, task_mastery=mastery
        )

    def answer(self, item_id: str, raw_letter: str) -> Graded:
        item = self.item(item_id)
        letter = parse_letter(item, raw_letter)
        with open_progress(self.path) as db:
            done = db.record(self.profile, item, letter, self.schedule)
        return Graded(item, letter, done.review.correct, done.card.due)

    def report(self, must_exist: bool = False) -> Report:
        with open_progress(self.path) as db:
            if must_exist:
                db.require_profile(self.profile)
            return db.report(self.profile, self.items, self.schedule)
