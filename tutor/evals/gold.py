"""Gold questions: load `evals/gold.jsonl`, validate it against the corpus, and locate
every evidence string as lines of a corpus file.

Evidence is matched to the raw corpus text (offsets, then lines), never to chunk text,
so retrieval is scored against where the guide says it, whatever the chunker did.
Limits: an evidence string that occurs several times is located at every occurrence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tutor.corpus import corpus_files
from tutor.errors import TutorError

KINDS = ("fact", "compare", "scenario", "multi", "unanswerable")
FIELDS = ("id", "question", "answer", "key_facts", "evidence", "section", "kind")
_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$")


@dataclass(frozen=True)
class Span:
    """Where one evidence string sits: file and 1-based inclusive lines."""

    file: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answer: str
    key_facts: list[str]
    evidence: list[str]
    section: str
    kind: str

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_gold(path: Path) -> list[GoldItem]:
    if not path.exists():
        raise TutorError(f"Gold file {path} does not exist: pass --gold PATH.")
    items = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TutorError(f"{path}:{no}: not JSON ({e.msg}).") from None
        if not isinstance(obj, dict) or set(obj) != set(FIELDS):
            got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise TutorError(f"{path}:{no}: fields must be exactly {list(FIELDS)}, got {got}.")
        items.append(GoldItem(**obj))
    if not items:
        raise TutorError(f"Gold file {path} holds no questions.")
    return items


class Corpus:
    """The raw corpus files, for locating evidence."""

    def __init__(self, corpus_dir: Path) -> None:
        self.texts = {p.name: p.read_text(encoding="utf-8") for p in corpus_files(corpus_dir)}
        self.normalised = " ".join(_normal(t) for t in self.texts.values())

    def locate(self, evidence: str) -> list[Span]:
        spans = []
        for name, text in self.texts.items():
            start = text.find(evidence)
            while start >= 0:
                first = text.count("\n", 0, start) + 1
                last = first + evidence.count("\n")
                spans.append(Span(name, first, last))
                start = text.find(evidence, start + 1)
        return spans

    def heading_above(self, span: Span) -> str:
        lines = self.texts[span.file].splitlines()
        for i in range(span.start_line - 1, -1, -1):
            if m := _HEADING.match(lines[i]):
                return m.group(1).replace("**", "").strip()
        return ""


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).lower()


def check_gold(items: list[GoldItem], corpus: Corpus) -> list[str]:
    """Every problem with the gold set, one line each (empty when it is valid)."""
    problems = []
    seen: set[str] = set()
    for g in items:
        where = f"{g.id}:"
        if g.id in seen:
            problems.append(f"{where} duplicate id")
        seen.add(g.id)
        if g.kind not in KINDS:
            problems.append(f"{where} kind {g.kind!r} is not one of {KINDS}")
        if not g.question.strip():
            problems.append(f"{where} empty question")
        if g.kind == "unanswerable":
            if g.key_facts or g.evidence or g.section or g.answer != "not in the guide":
                problems.append(
                    f"{where} an unanswerable item has answer 'not in the guide' "
                    "and empty key_facts, evidence and section"
                )
            continue
        if not 1 <= len(g.key_facts) <= 4:
            problems.append(f"{where} needs 1-4 key facts")
        if not 1 <= len(g.evidence) <= 3:
            problems.append(f"{where} needs 1-3 evidence strings")
        for f in g.key_facts:
            if _normal(f) not in corpus.normalised:
                problems.append(f"{where} key fact not in the corpus: {f!r}")
        spans = []
        for e in g.evidence:
            found = corpus.locate(e)
            if not found:
                problems.append(f"{where} evidence not verbatim in the corpus: {e!r}")
            spans.extend(found)
        if spans and corpus.heading_above(spans[0]) != g.section:
            problems.append(
                f"{where} section {g.section!r} is not the heading above the "
                f"evidence ({corpus.heading_above(spans[0])!r})"
            )
    return problems
