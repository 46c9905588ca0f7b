"""The practice commands on the real guide's item bank: a JSON round trip
(`quiz next` → `quiz answer` → `progress --json`), the interactive session, export and
import, and bad input (one clear message, exit code 1, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tutor.cli import cli
from tutor.quiz.items import load_bank

pytestmark = pytest.mark.slow


@pytest.fixture
def run(session_settings, built_index, tmp_path: Path):
    """`tutor …` against the session's index, with a progress file of this test's own."""
    (tmp_path / "tutor.toml").write_text(
        f'corpus_dir = "{session_settings.corpus_dir}"\n'
        f'index_dir = "{session_settings.index_dir}"\n'
        f'progress = "{tmp_path / "progress.sqlite3"}"\n'
    )

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input)

    return invoke


@pytest.fixture(scope="module")
def bank(session_settings, built_index):
    return {it.id: it for it in load_bank(session_settings.index_dir)}


def ok_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_round_trip_next_answer_progress(run, bank):
    shown = ok_json(run("quiz", "next", "--profile", "ana", "--json"))
    assert set(shown) == {"id", "kind", "stem", "options", "domain", "task"}
    item = bank[shown["id"]]
    assert shown["stem"] == item.stem and shown["options"] == list(item.options)
    assert shown["domain"] == 1  # a new learner starts with the heaviest domain
    letter = item.answer.lower()  # letters are read in either case
    graded = ok_json(run("quiz", "answer", shown["id"], letter, "--profile", "ana", "--json"))
    assert set(graded) == {"id", "correct", "answer", "explanation", "citation", "next_due"}
    assert graded["correct"] is True and graded["answer"] == item.answer
    assert graded["explanation"] == item.explanation
    assert graded["citation"] == {
        "section_path": item.citation.section_path,
        "start_line": item.citation.start_line,
        "end_line": item.citation.end_line,
    }
    # the next item is another one: the first is not due for minutes
    second = ok_json(run("quiz", "next", "--profile", "ana", "--json"))
    assert second["id"] != shown["id"]
    wrong = next(x for x in "ABCD"[: len(second["options"])] if x != bank[second["id"]].answer)
    graded2 = ok_json(run("quiz", "answer", second["id"], wrong, "--profile", "ana", "--json"))
    assert graded2["correct"] is False and graded2["next_due"] < graded["next_due"]
    report = ok_json(run("progress", "--profile", "ana", "--json"))
    assert set(report) >= {"profile", "readiness", "due", "domains", "tasks"}
    assert report["profile"] == "ana" and report["due"] == 0
    seen = {t: s["seen"] for t, s in report["tasks"].items() if s["seen"]}
    tasks = [bank[shown["id"]].task, bank[second["id"]].task]
    assert sum(seen.values()) == 2 and set(seen) == set(tasks)
    # the second new item comes from the domain then furthest below its exam weight
    assert second["domain"] == 2
    assert report["domains"]["1"]["reviews"] == report["domains"]["2"]["reviews"] == 1
    assert 0 < report["readiness"] < 0.34
    # the tasks 1.1–4.5 are all there, with at least 5 items each
    tasks_of = {1: 4, 2: 4, 3: 4, 4: 5}
    for d, n in tasks_of.items():
        assert all(report["tasks"][f"{d}.{t}"]["items"] >= 5 for t in range(1, n + 1))


def test_interactive_session_grades_schedules_and_sums_up(run, bank):
    r = run("quiz", "--n", "3", "--task", "3.2", "--profile", "ben", input="x\nA\nB\nq\n")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Practice from task 3.2" in out and "1/3 · new" in out and "2/3 · new" in out
    assert "'x' is not an option of item" in out  # asked again, not counted
    assert out.count("Reread: ") == 2 and "The guide: " in out
    assert "Score: " in out and "/2" in out and "Due now: 0 item(s); next review in " in out
    report = ok_json(run("progress", "--profile", "ben", "--json"))
    assert report["tasks"]["3.2"]["reviews"] == 2 and report["tasks"]["3.1"]["reviews"] == 0


def test_progress_table_export_and_import(run, bank, tmp_path: Path):
    item = next(iter(bank.values()))
    ok_json(run("quiz", "answer", item.id, item.answer, "--profile", "cai", "--json"))
    r = run("progress", "--profile", "cai")
    assert r.exit_code == 0 and "Readiness estimate:" in r.output and "task 4.5" in r.output
    r = run("progress", "--profile", "cai", "--export", str(tmp_path / "cai.json"))
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "cai.json").read_text())
    assert [x["item_id"] for x in data["profiles"]["cai"]["reviews"]] == [item.id]
    other = tmp_path / "other.sqlite3"
    r = run("progress", "--import", str(tmp_path / "cai.json"), "--progress", str(other), "--json")
    assert ok_json(r)["tasks"][item.task]["reviews"] == 1 if item.task else True


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["quiz", "answer", "no-such-item", "A"], "No item 'no-such-item' in the item bank"),
        (["progress", "--profile", "nobody"], "No profile 'nobody'"),
        (["quiz", "next", "--task", "9.9", "--json"], "Unknown task '9.9'"),
        (["quiz", "--domain", "7"], "Unknown domain 7"),
        (["progress", "--import", "missing.json"], "Cannot read missing.json"),
    ],
)
def test_bad_input_gets_one_clear_line(run, args, needle):
    r = run(*args)
    assert r.exit_code == 1 and needle in r.output and "Traceback" not in r.output


def test_a_letter_outside_the_options(run, bank):
    tf = next(it for it in bank.values() if it.kind == "truefalse")
    r = run("quiz", "answer", tf.id, "C")
    assert r.exit_code == 1 and f"'C' is not an option of item {tf.id}" in r.output
    four = next(it for it in bank.values() if len(it.options) == 4)
    r = run("quiz", "answer", four.id, "E")
    assert r.exit_code == 1 and "answer A, B, C or D" in r.output


def test_a_corrupt_progress_file_is_named_and_kept(run, tmp_path: Path):
    bad = tmp_path / "progress.sqlite3"
    bad.write_bytes(b"garbage" * 1000)
    r = run("quiz", "next", "--json")
    assert r.exit_code == 1 and str(bad) in r.output and "left as it is" in r.output
    assert bad.read_bytes() == b"garbage" * 1000
