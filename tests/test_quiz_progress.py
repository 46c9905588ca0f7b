"""The progress database: profiles, one transaction per answer, mastery, export/import,
and files it must refuse (corrupt, newer format, not ours) without touching them."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.quiz_fixtures import make_bank
from tutor.errors import TutorError
from tutor.quiz.mastery import MIN_REVIEWS
from tutor.quiz.progress import DEFAULT_PROFILE, SCHEMA_VERSION, Progress, open_progress
from tutor.quiz.schedule import DOMAIN_WEIGHTS
from tutor.quiz.session import Learner, parse_letter

REPO = Path(__file__).resolve().parent.parent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_file_has_the_schema_version_wal_and_the_default_profile(tmp_path: Path):
    path = tmp_path / "deep" / "progress.sqlite3"
    with open_progress(path) as db:
        assert db.profiles() == [DEFAULT_PROFILE]
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_answer_is_one_review_and_one_card(tmp_path, schedule, clock):
    items = make_bank()
    with open_progress(tmp_path / "p.db") as db:
        done = db.record("alice", items[0], "B", schedule)
        assert not done.review.correct and done.card.due > schedule.now()
        with pytest.raises(TutorError, match="same instant was not recorded"):
            db.record("alice", items[0], "A", schedule)
        clock.t += timedelta(seconds=1)
        db.record("alice", items[0], "A", schedule)
        assert db.profiles() == ["alice", DEFAULT_PROFILE]
        assert [r.correct for r in db.reviews("alice")] == [False, True]
        assert list(db.cards("alice")) == [items[0].id]
        assert db.reviews(DEFAULT_PROFILE) == []


def test_mastery_share_correct_times_retrievability(tmp_path, schedule, clock):
    items = make_bank()
    t11 = [it for it in items if it.task == "1.1"]
    with open_progress(tmp_path / "p.db") as db:
        for it in t11[:2]:
            db.record("bob", it, "A", schedule)
        early = db.report("bob", items, schedule)
        for it in t11[2:6]:
            db.record("bob", it, "A", schedule)
        db.record("bob", t11[6], "C", schedule)
        now = db.report("bob", items, schedule)
        clock.t += timedelta(days=30)
        later = db.report("bob", items, schedule)
    s = early.tasks["1.1"]
    # two right answers count as 2 of MIN_REVIEWS; just answered, retrievability is 1
    assert (s.seen, s.reviews, s.correct_share) == (2, 2, 1.0)
    assert s.retrievability == pytest.approx(1.0)
    assert s.mastery == pytest.approx(2 / MIN_REVIEWS)
    s = now.tasks["1.1"]
    assert (s.seen, s.reviews, s.items) == (7, 7, 10)
    assert s.mastery == pytest.approx(6 / 7)
    # a domain is the mean of its tasks (three untouched tasks pull domain 1 down)
    assert now.domains[1].mastery == pytest.approx(6 / 7 / 4)
    assert now.readiness == pytest.approx(DOMAIN_WEIGHTS[1] * 6 / 7 / 4)
    assert now.tasks["1.2"].mastery == 0 and now.domains[2].mastery == 0
    assert now.due == 0 and now.next_due is not None
    # a month later: everything is due and retrievability (so mastery) has decayed
    assert later.due == 7 and later.tasks["1.1"].mastery < now.tasks["1.1"].mastery
    assert later.to_json()["tasks"]["1.1"]["due"] == 7


def test_an_unknown_profile_is_named_with_those_that_exist(tmp_path: Path):
    with (
        open_progress(tmp_path / "p.db") as db,
        pytest.raises(TutorError, match=r"No profile 'carol' in .*profiles: default"),
    ):
        db.require_profile("carol")


def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path: Path):
    path = tmp_path / "progress.sqlite3"
    path.write_bytes(b"this is not a database\n" * 200)
    before = digest(path)
    with pytest.raises(TutorError) as err:
        Progress(path)
    msg = str(err.value)
    assert str(path) in msg and "not a readable progress database" in msg and "mv " in msg
    assert digest(path) == before


def test_a_newer_format_is_refused_and_left_untouched(tmp_path: Path):
    path = tmp_path / "progress.sqlite3"
    with open_progress(path):
        pass
    raw = sqlite3.connect(path)
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    before = digest(path)
    with pytest.raises(TutorError) as err:
        Progress(path)
    assert str(path) in str(err.value) and "newer tutor" in str(err.value)
    assert "upgrade tutor" in str(err.value)
    assert digest(path) == before


def test_another_sqlite_file_is_refused(tmp_path: Path):
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (x)")
    raw.commit()
    raw.close()
    with pytest.raises(TutorError, match="not a tutor progress database"):
        Progress(path)


def test_export_import_round_trip_merges_without_duplicates(tmp_path, schedule, clock):
    items = make_bank()
    with open_progress(tmp_path / "a.db") as db:
        for it in items[:3]:
            db.record("dana", it, "A", schedule)
            clock.t += timedelta(seconds=10)
        data = db.export_json(["dana"])
        cards = {k: v.to_dict() for k, v in db.cards("dana").items()}
    data = json.loads(json.dumps(data))  # through JSON text, as the file would be
    with open_progress(tmp_path / "b.db") as db:
        assert db.import_json(data, "x.json") == {"dana": 3}
        assert db.import_json(data, "x.json") == {"dana": 0}
        assert {k: v.to_dict() for k, v in db.cards("dana").items()} == cards
        assert [r.item_id for r in db.reviews("dana")] == [it.id for it in items[:3]]
        with pytest.raises(TutorError, match="not a tutor progress export"):
            db.import_json({"format": "other"}, "y.json")
        broken = {"format": data["format"], "profiles": {"eve": {"reviews": [{}], "cards": {}}}}
        with pytest.raises(TutorError, match="damaged progress export"):
            db.import_json(broken, "z.json")
        assert "eve" not in db.profiles()  # one transaction: nothing of it was kept


def test_two_learners_on_one_profile_see_each_others_answers(tmp_path, schedule):
    items = make_bank()
    one = Learner(items, tmp_path / "p.db", "fay", schedule)
    two = Learner(items, tmp_path / "p.db", "fay", schedule)
    first = one.next(one.scope())
    assert first is not None
    one.answer(first.item.id, "a")
    assert two.report().tasks[first.item.task].seen == 1
    second = two.next(two.scope())
    assert second is not None and second.item.id != first.item.id


@pytest.mark.parametrize(
    ("raw", "kind", "want"),
    [
        ("b", "term", "B"),
        (" D) ", "term", "D"),
        ("true", "truefalse", "A"),
        ("F", "truefalse", "B"),
    ],
)
def test_letters_are_read_leniently(raw, kind, want):
    item = next(it for it in make_bank() if it.kind == kind)
    assert parse_letter(item, raw) == want


@pytest.mark.parametrize(("raw", "kind"), [("E", "term"), ("C", "truefalse"), ("", "term")])
def test_a_letter_outside_the_options_is_named(raw, kind):
    item = next(it for it in make_bank() if it.kind == kind)
    with pytest.raises(TutorError, match=f"is not an option of item {item.id}"):
        parse_letter(item, raw)


KILL_SCRIPT = """
import sys
from tests.quiz_fixtures import make_bank
from tutor.quiz.progress import open_progress
from tutor.quiz.schedule import Schedule

items = make_bank(per_task=40)
schedule = Schedule()
with open_progress(sys.argv[1]) as db:
    for n, item in enumerate(items, 1):
        db.record("kim", item, "A" if n % 3 else "B", schedule)
        print(n, flush=True)
"""


def test_killing_the_process_mid_answer_loses_at_most_that_answer(tmp_path: Path):
    path = tmp_path / "p.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    last = 0
    deadline = time.monotonic() + 60
    while last < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        last = int(line)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: the middle of some answer
    proc.wait()
    assert last >= 40, "the answering loop did not get going"
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reviews = raw.execute("SELECT item_id FROM reviews WHERE profile = 'kim'").fetchall()
    cards = raw.execute("SELECT item_id FROM cards WHERE profile = 'kim'").fetchall()
    raw.close()
    # every answer reported done is stored; at most the one in flight (or one printed
    # after the last line we read) is beyond it; a review never lacks its card
    assert len(reviews) >= last
    assert sorted(reviews) == sorted(cards)
    with open_progress(path) as db:  # and the file still opens as progress
        assert len(db.reviews("kim")) == len(reviews)
