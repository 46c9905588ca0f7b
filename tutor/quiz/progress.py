"""A learner's progress in SQLite: named profiles, every answer, each item's FSRS card.

One file (stdlib `sqlite3`, WAL journal, synchronous FULL). Each answer is one
transaction that reads the item's card, reviews it and writes the review and the new
card together, so two browser tabs answering on one profile never lose an update, and a
process killed mid-answer loses at most that answer.

The file starts with a `schema_version` table. A file that is not an SQLite database,
is not a tutor progress database, or was written by a newer format is refused with a
`TutorError` that names the file and what to do; it is never written to, let alone
replaced.

`report` turns a profile's reviews and cards into mastery per task and domain, the
number due and readiness (the formulas are in `mastery.py`).

Limits: `import_json` merges reviews and keeps, per item, the card reviewed last; it does
not replay reviews through FSRS.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fsrs import Card

from tutor.errors import TutorError
from tutor.quiz.items import Item
from tutor.quiz.mastery import Report, Review, mastery_report
from tutor.quiz.schedule import Schedule

SCHEMA_VERSION = 1
EXPORT_FORMAT = "tutor-progress/1"
DEFAULT_PROFILE = "default"

SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE profiles (name TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL REFERENCES profiles(name),
    item_id TEXT NOT NULL,
    domain INTEGER NOT NULL,
    task TEXT NOT NULL,
    letter TEXT NOT NULL,
    correct INTEGER NOT NULL,
    reviewed_at TEXT NOT NULL,
    UNIQUE (profile, item_id, reviewed_at)
);
CREATE INDEX reviews_by_profile ON reviews (profile, task, reviewed_at);
CREATE TABLE cards (
    profile TEXT NOT NULL REFERENCES profiles(name),
    item_id TEXT NOT NULL,
    card TEXT NOT NULL,
    due TEXT NOT NULL,
    PRIMARY KEY (profile, item_id)
);
"""


def valid_profile(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(ord(ch) < 32 for ch in name):
        raise TutorError(
            f"Profile name {name!r} is not valid: use 1–64 printable characters, e.g. 'alice'."
        )
    return name


@dataclass(frozen=True)
class Answered:
    """What one recorded answer did: the review and the item's card after it."""

    review: Review
    card: Card


class Progress:
    """An open progress database. Use `open_progress(path)`; one per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as e:
            raise TutorError(
                f"Cannot open the progress database {self.path} ({e}): point --progress "
                "(or TUTOR_PROGRESS) at a file in a folder you can write to."
            ) from None
        try:
            self._check_or_create()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as e:
            self.db.close()
            raise TutorError(
                f"{self.path} is not a readable progress database ({e}). It was left as it "
                f"is: move it aside (e.g. `mv {self.path} {self.path}.bad`) to start afresh, "
                "or point --progress (or TUTOR_PROGRESS) at another file."
            ) from None
        except TutorError:
            self.db.close()
            raise

    def _check_or_create(self) -> None:
        tables = self._tables()
        if not tables:
            with self.transaction():
                if not self._tables():  # another process may have made it meanwhile
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                    self._add_profile(DEFAULT_PROFILE)
            tables = self._tables()
        if "schema_version" not in tables:
            raise TutorError(
                f"{self.path} is an SQLite file but not a tutor progress database; it was "
                "left as it is. Point --progress (or TUTOR_PROGRESS) at another file."
            )
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] if row else None
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise TutorError(
                f"{self.path} was written by a newer tutor (progress format {version}; this "
                f"one reads up to {SCHEMA_VERSION}). It was left as it is: upgrade tutor, or "
                "point --progress (or TUTOR_PROGRESS) at another file."
            )

    def _tables(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT: the write lock is taken before anything is read."""
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:
                self.db.rollback()
            raise
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- profiles -----------------------------------------------------------------------

    def profiles(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM profiles ORDER BY name")]

    def has_profile(self, name: str) -> bool:
        q = "SELECT 1 FROM profiles WHERE name = ?"
        return self.db.execute(q, (name,)).fetchone() is not None

    def require_profile(self, name: str) -> str:
        """The name, if the profile exists; otherwise a message listing those that do."""
        if not self.has_profile(name):
            known = ", ".join(self.profiles()) or "none"
            raise TutorError(
                f"No profile {name!r} in {self.path} (profiles: {known}). A profile is made "
                f"by answering an item with it: `tutor quiz --profile {name}`."
            )
        return name

    def _add_profile(self, name: str, created: str | None = None) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO profiles VALUES (?, ?)",
            (valid_profile(name), created or datetime.now().astimezone().isoformat()),
        )

    # -- answers ------------------------------------------------------------------------

    def cards(self, profile: str) -> dict[str, Card]:
        rows = self.db.execute("SELECT item_id, card FROM cards WHERE profile = ?", (profile,))
        return {item_id: Card.from_json(card) for item_id, card in rows}

    def reviews(self, profile: str) -> list[Review]:
        rows = self.db.execute(
            "SELECT item_id, domain, task, letter, correct, reviewed_at FROM reviews "
            "WHERE profile = ? ORDER BY reviewed_at, id",
            (profile,),
        )
        return [
            Review(i, d, t, letter, bool(c), datetime.fromisoformat(at))
            for i, d, t, letter, c, at in rows
        ]

    def record(self, profile: str, item: Item, letter: str, schedule: Schedule) -> Answered:
        """Grade and store one answer in one transaction; the profile is made if new."""
        at = schedule.now()
        correct = letter == item.answer
        try:
            card = self._record(profile, item, letter, correct, at, schedule)
        except sqlite3.IntegrityError:
            raise TutorError(
                f"Item {item.id} was already answered at {at.isoformat()} on profile "
                f"{profile!r}; this second answer at the same instant was not recorded."
            ) from None
        review = Review(item.id, item.domain, item.task, letter, correct, at)
        return Answered(review, card)

    def _record(
        self, profile: str, item: Item, letter: str, correct: bool, at: datetime, schedule: Schedule
    ) -> Card:
        with self.transaction():
            self._add_profile(profile)
            row = self.db.execute(
                "SELECT card FROM cards WHERE profile = ? AND item_id = ?", (profile, item.id)
            ).fetchone()
            card = schedule.review(item.id, Card.from_json(row[0]) if row else None, correct, at)
            self.db.execute(
                "INSERT INTO reviews (profile, item_id, domain, task, letter, "
                "correct, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (profile, item.id, item.domain, item.task, letter, int(correct), at.isoformat()),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?)",
                (profile, item.id, card.to_json(), card.due.isoformat()),
            )
        return card

    # -- export / import ----------------------------------------------------------------

    def export_json(self, profiles: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"format": EXPORT_FORMAT, "profiles": {}}
        for name in profiles:
            self.require_profile(name)
            created = self.db.execute(
                "SELECT created FROM profiles WHERE name = ?", (name,)
            ).fetchone()[0]
            out["profiles"][name] = {
                "created": created,
                "reviews": [
                    {
                        "item_id": r.item_id,
                        "domain": r.domain,
                        "task": r.task,
                        "letter": r.letter,
                        "correct": r.correct,
                        "reviewed_at": r.reviewed_at.isoformat(),
                    }
                    for r in self.reviews(name)
                ],
                "cards": {i: c.to_dict() for i, c in sorted(self.cards(name).items())},
            }
        return out

    def import_json(self, data: Any, source: str) -> dict[str, int]:
        """Merge an export into this database in one transaction; {profile: new reviews}."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise TutorError(
                f"{source} is not a tutor progress export (format {got!r}, expected "
                f"{EXPORT_FORMAT!r}); nothing was imported."
            )
        added: dict[str, int] = {}
        try:
            with self.transaction():
                for name, prof in data["profiles"].items():
                    self._add_profile(name, prof.get("created"))
                    before = self.db.total_changes
                    for r in prof["reviews"]:
                        self.db.execute(
                            "INSERT OR IGNORE INTO reviews (profile, item_id, domain, task, "
                            "letter, correct, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (
                                name,
                                str(r["item_id"]),
                                int(r["domain"]),
                                str(r["task"]),
                                str(r["letter"]),
                                int(bool(r["correct"])),
                                datetime.fromisoformat(r["reviewed_at"]).isoformat(),
                            ),
                        )
                    added[name] = self.db.total_changes - before
                    mine = self.cards(name)
                    for item_id, raw in prof["cards"].items():
                        card = Card.from_dict(raw)
                        old = mine.get(item_id)
                        if old is None or _last(old) < _last(card):
                            self.db.execute(
                                "INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?)",
                                (name, item_id, card.to_json(), card.due.isoformat()),
                            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise TutorError(
                f"{source} is a damaged progress export ({type(e).__name__}: {e}); "
                "nothing was imported."
            ) from None
        return added

    # -- mastery ------------------------------------------------------------------------

    def report(self, profile: str, items: list[Item], schedule: Schedule) -> Report:
        """Per domain and task: items, seen, share correct, retrievability, mastery, due."""
        return mastery_report(profile, items, self.reviews(profile), self.cards(profile), schedule)


def _last(card: Card) -> datetime:
    return card.last_review or card.due


@contextmanager
def open_progress(path: Path) -> Iterator[Progress]:
    """The progress database at `path` (made when missing), closed afterwards."""
    p = Progress(path)
    try:
        yield p
    finally:
        p.close()
