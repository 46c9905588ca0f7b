"""The quiz item bank: exam-style items built from the guide's own lines, deterministically.

Every item comes from one line of the guide, its key is that line, and its explanation is
the line verbatim with a citation to its section and line range. The bank is built with
the index (`tutor index`) and stored as `index/quiz.jsonl`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutor.errors import IndexCorrupt, IndexMissing

LETTERS = "ABCD"
KINDS = ("term", "describe", "truefalse", "scenario")
BANK_FILE = "quiz.jsonl"


@dataclass(frozen=True)
class ItemCitation:
    section_path: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Item:
    """One exam-style item; `answer` is the key as a letter ("A".."D"; True/False = A/B)."""

    id: str
    kind: str
    stem: str
    options: tuple[str, ...]
    answer: str
    explanation: str
    citation: ItemCitation
    domain: int
    task: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "stem": self.stem,
            "options": list(self.options),
            "answer": self.answer,
            "explanation": self.explanation,
            "citation": {
                "section_path": self.citation.section_path,
                "start_line": self.citation.start_line,
                "end_line": self.citation.end_line,
            },
            "domain": self.domain,
            "task": self.task,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Item:
        c = d["citation"]
        return cls(
            id=d["id"],
            kind=d["kind"],
            stem=d["stem"],
            options=tuple(d["options"]),
            answer=d["answer"],
            explanation=d["explanation"],
            citation=ItemCitation(c["section_path"], int(c["start_line"]), int(c["end_line"])),
            domain=int(d["domain"]),
            task=d["task"],
        )


def build_bank(index: Any) -> list[Item]:
    """The item bank of a loaded `tutor.index.Index`, in a deterministic order."""
    return []  # stub: the generator lands in the next commit


def load_bank(index_dir: Path) -> list[Item]:
    """Read `index_dir/quiz.jsonl`; a missing or unreadable bank names the fix."""
    path = Path(index_dir) / BANK_FILE
    if not path.exists():
        raise IndexMissing(
            f"No quiz item bank in {index_dir}/ ({BANK_FILE}): build it with "
            "`tutor index --rebuild`."
        )
    try:
        with open(path, encoding="utf-8") as fh:
            return [Item.from_json(json.loads(line)) for line in fh if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise IndexCorrupt(f"{path} is corrupt: rebuild with `tutor index --rebuild`.") from None


def bank_by_id(items: list[Item]) -> dict[str, Item]:
    return {it.id: it for it in items}
