"""The quiz item bank: exam-style items built from the guide's own lines, deterministically.

Every item comes from one fact of the guide (`tutor.quiz.facts`): its key is what that
line says, its explanation is the line verbatim, and its citation is the line range.
Kinds:

* `term`: "Which AWS service helps you overcome data quality ... challenges?" -> names;
* `describe`: "What does Amazon Redshift do, according to the guide?" -> descriptions;
* `truefalse`: the line as written, or with a sibling's name swapped in, which the
  verifier (`tutor.ground`) must find unsupported anywhere in the guide;
* `scenario`: the guide's own pairings of a job and a service ("Use CloudWatch to ...",
  "For ingesting data from SaaS services ...", "Scenario: ... Solution: ...").

Distractors are sibling names or descriptions (same list, then section, task, domain),
all of the key's type (services with services), never named in the key's cited lines,
and never one the guide itself supports in the key's place: the claim the item makes with
a distractor (`claim`) is checked against every sentence of the guide and must fail. The
key's claim must pass the verifier over the cited lines alone, or the item is left out.

No model writes or rewords anything: stems come from fixed templates over the guide's
sentence (`tutor.quiz.stems`), so no item depends on a model being right. Near-duplicate
stems (content-word Jaccard >= 0.8, or embedding cosine >= 0.95 when an embedder is
given) are dropped, the later one giving way. Stored as `index/quiz.jsonl`, built by
`tutor index`.

Limits: the stems are templates, so some read stiffly ('... described as "..."'); a fact
is a single sentence, so a line whose meaning needs its parent line ("Use Cases: ...")
gives no item.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutor.corpus import PATH_SEP
from tutor.errors import IndexCorrupt, IndexMissing, IndexStale, TutorError
from tutor.ground import GENERIC, Checked, Lexicon, Verifier, required_terms, same_claim
from tutor.quiz.facts import Fact, aliases, canonical, names_clash, read_facts
from tutor.quiz.stems import Stems, description, display, domain_task, mentions, section_title
from tutor.text import content_stems

if TYPE_CHECKING:
    from tutor.embed import EmbeddingModel
    from tutor.index import Index

LETTERS = "ABCD"
KINDS = ("term", "describe", "truefalse", "scenario")
BANK_FILE = "quiz.jsonl"
BUILDER = "tutor-quiz/1"  # bump when items change for the same guide
TF_EVERY = 6  # one fact in six (by hash) also gives a true/false item
NEAR_JACCARD = 0.8
NEAR_COSINE = 0.95


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
    # the claim with `{}` where an option goes ("{}: Data warehouse with columnar
    # indexing."); a true/false item's is the claim itself. Holds no key: see `claim`.
    statement: str = ""

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
            "statement": self.statement,
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
            statement=d.get("statement", ""),
        )


def claim(item: Item, option: str) -> str:
    """The statement an item makes when `option` is chosen (a true/false item makes its
    one statement, true or not). Reads neither the key nor the explanation."""
    return item.statement if item.kind == "truefalse" else item.statement.replace("{}", option)


class Support:
    """Does one sentence of the guide support a claim? `tutor.ground.Verifier` over every
    sentence of the index, with the candidates narrowed first to the sentences that hold
    the claim's required names (which the verifier would demand anyway)."""

    def __init__(self, index: Index) -> None:
        # the index's own sentence units, in vector-row order, so `units[i]` is row i
        self.verifier = Verifier([], index.lexicon)
        units = [u for c in index.chunks for u in index.units.get(c.id, [])]
        self.verifier.units = sorted(units, key=lambda u: u.row)
        self.lexicon = index.lexicon
        self._with: dict[str, set[int]] = defaultdict(set)
        for i, u in enumerate(self.verifier.units):
            for s in u.all_stems:
                self._with[s].add(i)
        self._cache: dict[str, Checked] = {}

    def check(self, text: str) -> Checked:
        if text not in self._cache:
            need = required_terms(text, self.lexicon)
            rows: set[int] | None = None
            for s in need:
                rows = self._with.get(s, set()) if rows is None else rows & self._with.get(s, set())
            narrowed = copy.copy(self.verifier)
            units = self.verifier.units
            narrowed.units = units if rows is None else [units[i] for i in sorted(rows)]
            self._cache[text] = narrowed.check(text)
        return self._cache[text]

    def holds(self, text: str) -> bool:
        return self.check(text).supported

    def naming(self, name: str) -> list[int]:
        """Rows of the sentences that hold every content word of `name`."""
        rows: set[int] | None = None
        for s in set(content_stems(name)) - GENERIC:
            rows = self._with.get(s, set()) if rows is None else rows & self._with.get(s, set())
        return sorted(rows or ())


def _key(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()


@dataclass
class _Candidate:
    """A name or description that may stand beside a key as a wrong option."""

    text: str  # what the option shows
    term: str  # the name it is about
    category: str
    fact: Fact


class _Builder:
    def __init__(self, facts: list[Fact], support: Support) -> None:
        self.facts = facts
        self.support = support
        self.stems = Stems(f.text for f in facts)
        self.names: list[_Candidate] = []
        seen: set[str] = set()
        for f in facts:
            if f.source in ("use", "solution"):
                continue
            name = display(f.term)
            if canonical(name) not in seen:
                seen.add(canonical(name))
                self.names.append(_Candidate(name, f.term, f.category, f))
        self.descriptions = [
            _Candidate(d, f.term, f.category, f) for f in facts if (d := description(f))
        ]

    def _tiers(self, fact: Fact, pool: list[_Candidate], salt: str) -> Iterator[_Candidate]:
        """Candidates nearest first (same list, section, task, domain, guide), in a
        deterministic shuffle within each tier so the same names do not always appear."""
        dt = domain_task(fact.section.path)
        tiers: list[list[_Candidate]] = [[], [], [], [], []]
        for c in pool:
            cdt = domain_task(c.fact.section.path)
            if c.fact.group == fact.group:
                tiers[0].append(c)
            elif c.fact.section.id == fact.section.id:
                tiers[1].append(c)
            else:
                tiers[2 if cdt == dt else 3 if cdt[0] == dt[0] else 4].append(c)
        for tier in tiers:
            yield from sorted(tier, key=lambda c: _key(salt, c.text))

    def named_in(self, fact: Fact, name: str) -> bool:
        text = f"{fact.explanation} {fact.context}".lower()
        return any(re.search(r"\b" + re.escape(a) + r"\b", text) for a in aliases(name))

    def distractor_names(self, fact: Fact, key: str, statement: str, n: int = 3) -> list[str]:
        out: list[str] = []
        for c in self._tiers(fact, self.names, key + statement):
            if len(out) == n:
                break
            if (
                c.category != fact.category
                or names_clash(c.text, key)
                or self.named_in(fact, c.text)
            ):
                continue
            if any(names_clash(c.text, o) for o in out):
                continue
            if self.support.holds(statement.replace("{}", c.text)):
                continue  # the guide says this of the distractor too: it would be right
            out.append(c.text)
        return out

    def distractor_descriptions(self, fact: Fact, key: str, body: str, n: int = 3) -> list[str]:
        out: list[str] = []
        for c in self._tiers(fact, self.descriptions, key + body):
            if len(out) == n:
                break
            if c.category != fact.category or names_clash(c.term, key):
                continue
            if c.text.lower() == body.lower() or any(same_claim(c.text, o) for o in [body, *out]):
                continue
            if self.support.holds(f"{key}: {c.text}"):
                continue
            out.append(c.text)
        return out

    def items(self, fact: Fact) -> list[tuple[str, str, list[str], str, str]]:
        """(kind, stem, options with the key first, statement, variant) per item."""
        out: list[tuple[str, str, list[str], str, str]] = []
        key = display(fact.term)
        asked = self.stems.name_question(fact)
        if asked is not None:
            kind, stem = asked
            if not any(names_clash(key, w) for w in mentions(stem, key)):
                wrong = self.distractor_names(fact, key, fact.statement)
                if len(wrong) == 3 and self.support.holds(fact.statement.replace("{}", key)):
                    out.append((kind, stem, [key, *wrong], fact.statement, "name"))
        st = fact.statement
        body = description(fact)
        if body is not None:
            stem = (
                f"What does {key} do, according to the guide?"
                if fact.category == "service"
                else f"In “{section_title(fact)}”, which description fits {key}?"
            )
            wrong = self.distractor_descriptions(fact, key, body)
            if len(wrong) == 3:
                out.append(("describe", stem, [body, *wrong], f"{key}: {{}}", "describe"))
        if int(_key("tf", fact.explanation, st), 16) % TF_EVERY == 0 and st.count("{}") == 1:
            true = st.replace("{}", key)
            if int(_key("tf-side", fact.explanation, st), 16) % 2 == 0:
                out.append(("truefalse", f"True or false? {true}", ["True", "False"], true, "tf"))
            else:
                for name in self.distractor_names(fact, key, st, n=1):
                    false = st.replace("{}", name)
                    out.append(
                        ("truefalse", f"True or false? {false}", ["False", "True"], false, "tf")
                    )
        return out


def _cited_verifier(explanation: str, section_path: str, lexicon: Lexicon) -> Verifier:
    """The verifier over an item's cited lines alone (its explanation)."""
    return Verifier([explanation], lexicon, titles=[section_path.split(PATH_SEP)[-1]])


def key_holds(item: Item, lexicon: Lexicon, support: Support) -> bool:
    """Whether the item's cited lines alone support its key: the claim the key makes
    (`claim`) passes the verifier over those lines. A "False" key needs the statement
    unsupported there and by every sentence of the guide."""
    verifier = _cited_verifier(item.explanation, item.citation.section_path, lexicon)
    if item.kind == "truefalse":
        said = verifier.check(item.statement).supported
        return said if item.answer == "A" else not said and not support.holds(item.statement)
    return verifier.check(claim(item, item.options[LETTERS.index(item.answer)])).supported


def guide_files(index: Index) -> list[Path]:
    """The corpus files the index was built from (its manifest names them)."""
    if index.corpus_dir is None:
        raise TutorError("This index does not know its corpus folder: load it with load_index.")
    return [Path(index.corpus_dir) / name for name in sorted(index.manifest["corpus"])]


def build_bank(index: Index, embedder: EmbeddingModel | None = None) -> list[Item]:
    """The item bank of a loaded `tutor.index.Index`, in guide order; the same guide and
    index give the same bank. `index.corpus_dir` must hold the guide the index was built
    from (the index's manifest checks its hash)."""
    facts = read_facts(guide_files(index))
    builder = _Builder(facts, Support(index))
    items: list[Item] = []
    kept_stems: list[set[str]] = []
    ids: set[str] = set()
    for fact in facts:
        domain, task = domain_task(fact.section.path)
        cited = _cited_verifier(fact.explanation, fact.section.path_str, index.lexicon)
        if not cited.check(fact.statement.replace("{}", display(fact.term))).supported:
            continue  # its own lines do not hold it alone (e.g. it leans on a parent line)
        for kind, stem, options, statement, variant in builder.items(fact):
            stems = set(content_stems(stem))
            if any(len(stems & k) / max(len(stems | k), 1) >= NEAR_JACCARD for k in kept_stems):
                continue
            item_id = _key(kind, variant, fact.explanation, fact.statement)[:12]
            while item_id in ids:
                item_id = _key(item_id, "again")[:12]
            shown: tuple[str, ...]
            if kind == "truefalse":
                shown, answer = ("True", "False"), LETTERS[0 if options[0] == "True" else 1]
            else:
                shown_list = list(options)
                random.Random(item_id).shuffle(shown_list)
                shown, answer = tuple(shown_list), LETTERS[shown_list.index(options[0])]
            item = Item(
                id=item_id,
                kind=kind,
                stem=stem,
                options=shown,
                answer=answer,
                explanation=fact.explanation,
                citation=ItemCitation(fact.section.path_str, fact.start_line, fact.end_line),
                domain=domain,
                task=task,
                statement=statement,
            )
            if not key_holds(item, index.lexicon, builder.support):
                continue
            ids.add(item_id)
            kept_stems.append(stems)
            items.append(item)
    if embedder is not None:
        items = drop_near_duplicates(items, embedder)
    return items


def near_duplicate_pairs(
    items: list[Item], embedder: EmbeddingModel | None
) -> list[tuple[int, int]]:
    """Index pairs (i < j) of stems that are the same question: content-word Jaccard
    >= 0.8, or (with an embedder) cosine >= 0.95."""
    sets = [set(content_stems(it.stem)) for it in items]
    vecs = embedder.embed([it.stem for it in items]) if embedder is not None and items else None
    pairs = []
    for j in range(len(items)):
        for i in range(j):
            inter = len(sets[i] & sets[j])
            if inter / max(len(sets[i] | sets[j]), 1) >= NEAR_JACCARD or (
                vecs is not None and float(vecs[i] @ vecs[j]) >= NEAR_COSINE
            ):
                pairs.append((i, j))
    return pairs


def drop_near_duplicates(items: list[Item], embedder: EmbeddingModel | None) -> list[Item]:
    """The items without the later one of each near-duplicate pair."""
    drop = {j for i, j in near_duplicate_pairs(items, embedder)}
    return [it for k, it in enumerate(items) if k not in drop]


def write_bank(items: list[Item], path: Path) -> dict[str, Any]:
    """Write the bank as JSON lines; its manifest entry (count, sha256, builder)."""
    text = "".join(json.dumps(it.to_json(), ensure_ascii=False) + "\n" for it in items)
    path.write_text(text, encoding="utf-8")
    return {
        "file": path.name,
        "count": len(items),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "builder": BUILDER,
    }


def load_bank(index_dir: Path) -> list[Item]:
    """Read `index_dir/quiz.jsonl`, checked against the index manifest (count, sha256 and
    builder version); a missing, stale or damaged bank names the command that fixes it."""
    index_dir = Path(index_dir)
    path = index_dir / BANK_FILE
    fix = "rebuild it with `tutor index --rebuild`"
    try:
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexMissing(f"No index in {index_dir}/: build it with `tutor index`.") from None
    meta = manifest.get("quiz") if isinstance(manifest, dict) else None
    if not isinstance(meta, dict):
        raise IndexStale(f"The index in {index_dir}/ has no quiz item bank: {fix}.")
    if meta.get("builder") != BUILDER:
        raise IndexStale(
            f"The quiz item bank in {index_dir}/ was built by {meta.get('builder')!r}, "
            f"this tutor builds {BUILDER!r}: {fix}."
        )
    if not path.exists():
        raise IndexCorrupt(f"{path} is missing: {fix}.")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != meta.get("sha256"):
        raise IndexCorrupt(f"{path} does not match the index manifest (edited or damaged): {fix}.")
    try:
        items = [
            Item.from_json(json.loads(line))
            for line in raw.decode("utf-8").splitlines()
            if line.strip()
        ]
    except (ValueError, KeyError, TypeError):
        raise IndexCorrupt(f"{path} is unreadable: {fix}.") from None
    if len(items) != meta.get("count"):
        raise IndexCorrupt(
            f"{path} holds {len(items)} items, the manifest says {meta.get('count')}: {fix}."
        )
    return items


def bank_by_id(items: list[Item]) -> dict[str, Item]:
    return {it.id: it for it in items}
