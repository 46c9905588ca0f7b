"""The quality gates of the item bank, end to end on the real guide, index and embedder."""

from __future__ import annotations

import dataclasses

import pytest

from tutor.quiz.check import (
    TASKS,
    Solver,
    Support,
    _blank,
    _cited_lines,
    _leaks,
    check_bank,
    gates,
    key_supported,
)
from tutor.quiz.items import LETTERS, claim, load_bank

pytestmark = pytest.mark.slow

KEYS = {
    "items",
    "by_domain",
    "by_task",
    "key_supported_rate",
    "distractor_leak_rate",
    "duplicate_stems",
    "solver_accuracy",
    "blind_accuracy",
}


@pytest.fixture(scope="module")
def bank(session_settings, built_index):
    return load_bank(session_settings.index_dir)


@pytest.fixture(scope="module")
def report(built_index, bank, embedder):
    return check_bank(built_index, bank, embedder)


def test_the_real_guides_bank_passes_every_gate(report, bank, built_index) -> None:
    assert set(report) == KEYS
    assert report["items"] == len(bank) == built_index.manifest["quiz"]["count"]
    assert set(report["by_task"]) == set(TASKS) and len(TASKS) == 17
    assert sum(report["by_domain"].values()) == len(bank)
    assert gates(report, bank) == [], report
    kinds = {it.kind for it in bank}
    assert kinds == {"term", "describe", "truefalse", "scenario"}


def test_a_wrong_key_is_caught(bank, built_index) -> None:
    """The gates can fail: a key moved to a wrong option is unsupported, and the real
    key, now a distractor, leaks."""
    support = Support(built_index)
    lines = _cited_lines(built_index)
    four = [it for it in bank if it.kind == "term"][:20]
    vecs_needed = {claim(it, o) for it in four for o in it.options}
    from tutor.embed import Embedder

    vecs = dict(zip(sorted(vecs_needed), Embedder().embed(sorted(vecs_needed)), strict=True))
    for it in four:
        assert key_supported(it, built_index, support, lines)
        wrong = LETTERS[(LETTERS.index(it.answer) + 1) % 4]
        moved = dataclasses.replace(it, answer=wrong)
        assert not key_supported(moved, built_index, support, lines), it.stem
        assert _leaks(moved, support, built_index, vecs) >= 1, it.stem
    tf = next(it for it in bank if it.kind == "truefalse")
    flipped = dataclasses.replace(tf, answer="B" if tf.answer == "A" else "A")
    assert not key_supported(flipped, built_index, support, lines)


def test_the_solver_never_sees_the_key(bank, built_index, embedder) -> None:
    from tutor.retrieve import Retriever

    solver = Solver(built_index, embedder, Retriever(built_index, embedder))
    item = bank[0]
    with pytest.raises(AssertionError, match="must not see the key"):
        solver.answer(item, {})
    blank = _blank(item)
    assert blank.answer == "" and blank.explanation == ""
    assert solver.answer(blank, {}) in LETTERS
