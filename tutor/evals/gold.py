"""Gold questions: load `evals/gold.jsonl`, validate it against the corpus, and locate
every evidence string as lines of a corpus file.

Evidence is matched to the raw corpus text (offsets, then lines), never to chunk text,
so retrieval is scored against where the guide says it, whatever the chunker did.
Limits: an evidence string that occurs several times is located at every occurrence.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tutor.corpus import corpus_files
from tutor.errors import TutorError

KINDS = ("fact", "compare", "scenario", "multi", "unanswerable")
STYLES = ("direct", "conversational", "exam", "multipart", "sloppy", "followup")
FIELDS = ("id", "question", "answer", "key_facts", "evidence", "section", "kind", "style", "batch")
OPTIONAL = ("history",)  # follow-ups: the earlier questions of the conversation
SPLITS = ("calibration", "test", "all")
CALIBRATION_SHARE = 0.6
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
    style: str
    batch: str
    history: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    @property
    def split(self) -> str:
        """ "calibration" or "test", fixed by a hash of the id (about 60/40): every
        threshold, weight and rule is chosen on calibration, and test is reported."""
        return split_of(self.id)


def split_of(item_id: str) -> str:
    h = int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest()[:4], "big")
    return "calibration" if h / 2**32 < CALIBRATION_SHARE else "test"


def select_split(items: list[GoldItem], split: str) -> list[GoldItem]:
    if split not in SPLITS:
        raise TutorError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    return items if split == "all" else [g for g in items if g.split == split]


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
        if not isinstance(obj, dict) or not (
            set(FIELDS) <= set(obj) <= set(FIELDS) | set(OPTIONAL)
        ):
            got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise TutorError(
                f"{path}:{no}: fields must be {list(FIELDS)} (and optionally "
                f"{list(OPTIONAL)}), got {got}."
            )
        obj["history"] = tuple(obj.get("history") or ())
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
        if g.style not in STYLES:
            problems.append(f"{where} style {g.style!r} is not one of {STYLES}")
        if not g.batch.strip():
            problems.append(f"{where} empty batch (who or what wrote the question)")
        if (g.style == "followup") != bool(g.history):
            problems.append(f"{where} a followup has a history, and only a followup")
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
