"""Quality gates of the quiz item bank (`tutor quiz check`).

`check_bank` measures, on the real index and embedder:

* `items`, `by_domain`, `by_task`: how many items, per domain (0 = fundamentals) and per
  DEA-C01 task statement (all 17 listed, with zeros);
* `key_supported_rate`: share of items whose key is supported by the cited lines alone
  (`tutor.ground.Verifier` over those lines, which must also read exactly as the item's
  explanation); a "False" key instead needs its statement unsupported there and nowhere
  in the guide;
* `distractor_leak_rate`: share of wrong options that "fit the stem": (a) the verifier
  finds a guide sentence supporting the item's claim with that option, or (b) for a
  name option, the guide sentence naming it that is nearest (embedding cosine) to the
  claim it makes is at least as near as the key's nearest sentence is to the key's claim;
* `duplicate_stems`: pairs of stems with content-word Jaccard >= 0.8 or cosine >= 0.95;
* `solver_accuracy`: a retrieval solver answers every item from the stem and options
  only (the key and explanation are blanked before it sees the item): for each option it
  retrieves passages for the option's claim (`tutor.retrieve.Retriever`) and checks the
  claim against them with the verifier; it picks the option whose claim is supported
  with the highest coverage (true/false: True when supported);
* `blind_accuracy`: the "longest option" rule (ties: the first), which sees neither the
  guide nor the key. It catches keys that give themselves away by length; on true/false
  items it always answers "False".

`gates` turns the report into the list of failed gates (empty: the bank passes).
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from tutor.ground import Verifier
from tutor.quiz.facts import shown_line
from tutor.quiz.items import (
    LETTERS,
    Item,
    Support,
    claim,
    guide_files,
    key_holds,
    near_duplicate_pairs,
)

if TYPE_CHECKING:
    from tutor.embed import Embedder
    from tutor.index import Index
    from tutor.retrieve import Retriever

# The task statements of the DEA-C01 exam guide, as the concise guide heads them: 17
# (four in each of domains 1-3, five in domain 4).
TASKS = tuple("1.1 1.2 1.3 1.4 2.1 2.2 2.3 2.4 3.1 3.2 3.3 3.4 4.1 4.2 4.3 4.4 4.5".split())
MIN_ITEMS = 300
MIN_PER_TASK = 5
MIN_SOLVER = 0.85
MAX_BLIND = 0.30
MAX_LEAK = 0.02
SOLVER_K = 4  # passages retrieved per option claim


def _cited_lines(index: Index) -> dict[tuple[str, int], str]:
    """(file, line number) -> the cleaned text of that corpus line."""
    out: dict[tuple[str, int], str] = {}
    for path in guide_files(index):
        raw = path.read_text(encoding="utf-8").splitlines()
        for no, line in enumerate(raw, start=1):
            out[(path.name, no)] = shown_line(line)
    return out


def key_supported(item: Item, index: Index, support: Support, lines: dict) -> bool:
    """Whether the cited lines (alone) support the key, and read as the explanation."""
    files = list(index.manifest["corpus"])
    c = item.citation
    for name in files:
        cited = [lines.get((name, n), "") for n in range(c.start_line, c.end_line + 1)]
        if "\n".join(t for t in cited if t) == item.explanation:
            break
    else:
        return False  # the explanation is not the text at the citation
    return key_holds(item, index.lexicon, support)


def _blank(item: Item) -> Item:
    """The item as the solver may see it: no key, no explanation."""
    return dataclasses.replace(item, answer="", explanation="")


class Solver:
    """Answers items with the tutor's retrieval and verifier; never sees the key."""

    def __init__(self, index: Index, embedder: Embedder, retriever: Retriever) -> None:
        self.index = index
        self.embedder = embedder
        self.retriever = retriever

    def scores(self, item: Item, vecs: dict[str, Any]) -> list[tuple[bool, float]]:
        """(supported, coverage) of each option's claim against the passages retrieved
        for that claim. `vecs` holds query embeddings computed in one batch (a query
        missing from it is embedded by the retriever)."""
        from tutor.retrieve import expand

        out = []
        for option in item.options:
            text = claim(item, option)
            query = expand(text, self.retriever.acronyms)  # as the retriever would
            hits = self.retriever.search(query, SOLVER_K, qvec=vecs.get(query))
            verifier = Verifier(
                [h.chunk.text for h in hits],
                self.index.lexicon,
                titles=[h.chunk.title for h in hits],
            )
            checked = verifier.check(text)
            out.append((checked.supported, checked.score))
            if item.kind == "truefalse":
                break
        return out

    def answer(self, item: Item, vecs: dict[str, Any]) -> str:
        assert item.answer == "" and item.explanation == "", "the solver must not see the key"
        scored = self.scores(item, vecs)
        if item.kind == "truefalse":
            return "A" if scored[0][0] else "B"
        best = max(range(len(scored)), key=lambda i: (scored[i][0], scored[i][1], -i))
        return LETTERS[best]


def blind_answer(item: Item) -> str:
    """The longest option (the first of equals), knowing nothing else."""
    lengths = [len(o) for o in item.options]
    return LETTERS[lengths.index(max(lengths))]


def blind_baselines(items: list[Item], seed: int = 0) -> dict[str, float]:
    """Accuracy of three blind rules: longest option, first option, random (seeded)."""
    rng = random.Random(seed)
    n = max(len(items), 1)
    return {
        "longest": sum(blind_answer(it) == it.answer for it in items) / n,
        "first": sum(it.answer == "A" for it in items) / n,
        "random": sum(LETTERS[rng.randrange(len(it.options))] == it.answer for it in items) / n,
    }


def option_problems(items: list[Item]) -> list[str]:
    """Ids of items whose options repeat or mix types (a name among descriptions, or a
    true/false item that is not exactly True/False)."""
    bad = []
    for it in items:
        opts = [o.strip().lower() for o in it.options]
        problems = [
            len(set(opts)) != len(opts),
            it.answer not in LETTERS[: len(opts)],
            it.kind == "truefalse" and it.options != ("True", "False"),
            it.kind != "truefalse" and len(opts) != 4,
            # descriptions are sentences; names are short
            it.kind == "describe" and not all(o.endswith(".") for o in it.options),
            it.kind in ("term", "scenario") and any(len(o.split()) > 8 for o in it.options),
        ]
        if any(problems):
            bad.append(it.id)
    return bad


def _leaks(item: Item, support: Support, index: Index, vecs: dict[str, Any]) -> int:
    """How many of the item's wrong options fit its stem (see the module docstring)."""
    key = item.options[LETTERS.index(item.answer)]
    wrong = [o for o in item.options if o != key]
    leaked = {o for o in wrong if support.holds(claim(item, o))}
    if item.kind in ("term", "scenario"):

        def fit(option: str) -> float:
            rows = support.naming(option)
            if not rows:
                return -1.0
            return float((index.unit_vectors[rows] @ vecs[claim(item, option)]).max())

        bar = fit(key)
        leaked |= {o for o in wrong if fit(o) >= bar}
    return len(leaked)


def check_bank(
    index: Index,
    items: list[Item],
    embedder: Embedder | None = None,
    retriever: Retriever | None = None,
) -> dict[str, Any]:
    """The quality figures of a bank (keys: see the module docstring)."""
    from tutor.embed import Embedder
    from tutor.retrieve import Retriever, expand

    embedder = embedder or Embedder()
    retriever = retriever or Retriever(index, embedder)
    support = Support(index)
    lines = _cited_lines(index)
    texts = sorted({claim(it, o) for it in items for o in it.options})
    # the solver's queries, acronyms expanded, embedded in the same batch
    texts = sorted(set(texts) | {expand(t, retriever.acronyms) for t in texts})
    vecs = dict(zip(texts, embedder.embed(texts), strict=True)) if texts else {}

    solver = Solver(index, embedder, retriever)
    solved = sum(solver.answer(_blank(it), vecs) == it.answer for it in items)
    wrong_options = sum(len(it.options) - 1 for it in items if it.kind != "truefalse")
    leaks = sum(_leaks(it, support, index, vecs) for it in items if it.kind != "truefalse")
    n = max(len(items), 1)
    by_task = {t: 0 for t in TASKS}
    by_task.update(Counter(it.task for it in items if it.task))
    return {
        "items": len(items),
        "by_domain": {str(d): c for d, c in sorted(Counter(it.domain for it in items).items())},
        "by_task": by_task,
        "key_supported_rate": sum(key_supported(it, index, support, lines) for it in items) / n,
        "distractor_leak_rate": leaks / max(wrong_options, 1),
        "duplicate_stems": len(near_duplicate_pairs(items, embedder)),
        "solver_accuracy": solved / n,
        "blind_accuracy": blind_baselines(items)["longest"],
    }


def gates(report: dict[str, Any], items: list[Item] | None = None) -> list[str]:
    """The gates the report fails, each as a sentence (empty: all pass)."""
    failed = []
    if report["items"] < MIN_ITEMS:
        failed.append(f"{report['items']} items, fewer than {MIN_ITEMS}")
    thin = [t for t in TASKS if report["by_task"].get(t, 0) < MIN_PER_TASK]
    if thin:
        failed.append(f"fewer than {MIN_PER_TASK} items for task(s) {', '.join(thin)}")
    if report["key_supported_rate"] < 1.0:
        failed.append(f"key supported rate {report['key_supported_rate']:.3f} < 1")
    if report["distractor_leak_rate"] > MAX_LEAK:
        failed.append(f"distractor leak {report['distractor_leak_rate']:.3f} > {MAX_LEAK}")
    if report["duplicate_stems"]:
        failed.append(f"{report['duplicate_stems']} near-duplicate stem pair(s)")
    if report["solver_accuracy"] < MIN_SOLVER:
        failed.append(f"solver accuracy {report['solver_accuracy']:.3f} < {MIN_SOLVER}")
    if report["blind_accuracy"] > MAX_BLIND:
        failed.append(f"blind accuracy {report['blind_accuracy']:.3f} > {MAX_BLIND}")
    if items is not None and (bad := option_problems(items)):
        failed.append(f"{len(bad)} item(s) with repeated or mixed options: {', '.join(bad[:5])}")
    return failed
