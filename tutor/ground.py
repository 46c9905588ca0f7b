"""Verify every sentence of a draft answer against the passages, and cite it.

A draft sentence is *supported* when one single sentence of one passage (a "unit")
holds it:

* coverage: the IDF-weighted share of the draft sentence's content-word stems found in
  the unit is at least `threshold` (rare words such as service names weigh more than
  "data");
* required terms: every number and every AWS service/acronym term in the draft sentence
  appears in that same unit, so "Glue runs big-data frameworks" is not supported by a
  passage where that is said of EMR and Glue is named in another sentence;
* logic: the draft and the unit agree on negation ("without", "not", ...);
* near the threshold, embedding cosine similarity decides (tie-breaker).

The citation is the passage of the best unit, whatever the model wrote: a model citation
is kept only when that passage supports the sentence as well. Unsupported sentences are
returned marked, for the caller to drop; `quote` picks the guide's own sentences that
best answer the question (the pipeline leads with one and fills in with more).

Limits: lexical support cannot see every paraphrase (a faithful sentence in wholly new
words is dropped, never shown as fact) nor every contradiction that keeps the words and
the negations (e.g. swapped comparatives "faster"/"slower" with the same terms).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from tutor.text import (
    STOPWORDS,
    content_stems,
    heading_of,
    label_of,
    negations,
    numbers,
    sentences,
    stem,
)

if TYPE_CHECKING:
    from tutor.embed import EmbeddingModel

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
# Words that do not make a claim about the guide: they neither need nor give support.
GENERIC = frozenset(
    stem(w)
    for w in """aws amazon service services guide answer question passage passages based
    according provide provides provided help helps allow allows example include includes
    including different difference differences important key main various way ways""".split()
)


@dataclass(frozen=True)
class Lexicon:
    """Corpus statistics the checker needs: IDF per stem and the set of entity stems."""

    idf: dict[str, float]
    entities: frozenset[str]
    max_idf: float
    # the texts it was read from, kept for `names` (read only when a follow-up needs it)
    texts: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def names(self) -> dict[str, str]:
        """The guide's service names, lower-cased, each with the guide's own spelling:
        "kinesis data streams" -> "Kinesis Data Streams", "aws glue" -> "AWS Glue"
        (`service_names`). Read on first use, not when the index loads: only follow-ups
        need them."""
        return service_names(list(self.texts), set(self.entities))

    @classmethod
    def from_texts(cls, texts: list[str]) -> Lexicon:
        df: Counter[str] = Counter()
        cands: set[str] = set()
        lower: Counter[str] = Counter()
        upper: Counter[str] = Counter()
        for t in texts:
            df.update(set(content_stems(t)))
            for m in re.finditer(r"\b(?:Amazon|AWS)\s+((?:[A-Z][A-Za-z0-9]*\s?){1,3})", t):
                cands.update(w.lower() for w in m.group(1).split())
            cands.update(w.lower() for w in re.findall(r"\b[A-Z][A-Z0-9]{1,7}s?\b", t))
            for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", t):
                (upper if w[0].isupper() else lower)[w.lower()] += 1
        # a name is written capitalised; "CREATE USER" in SQL does not make "create" one
        ents = {stem(w) for w in cands if upper[w] > lower[w] and w not in STOPWORDS}
        ents -= {"data", "servic", "aw", "amazon"}
        n = max(len(texts), 1)
        idf = {w: math.log(1 + n / c) for w, c in df.items()}
        return cls(idf, frozenset(ents), math.log(1 + n), tuple(texts))

    def weight(self, s: str) -> float:
        return self.idf.get(s, self.max_idf)


def service_names(texts: list[str], entities: set[str]) -> dict[str, str]:
    """The guide's service names, by lower-cased form, each with the guide's spelling.

    From its "Amazon X" / "AWS X" mentions: each run of capitalised words after the
    prefix is cut to its longest start the guide writes at least twice ("AWS Glue
    DataBrew Recipes" once -> "AWS Glue DataBrew"), and is also a name without its
    prefix. A one-word name must be CamelCase or an acronym, or an entity
    (`Lexicon.entities`) that follows the prefix on three lines or more, so "AWS Services
    for ..." in a heading names no service. Then the guide's unprefixed longer names
    that start with a one-word name ("Kinesis Data Firehose", "CloudWatch Logs"), written
    at least twice. Limits: a name the guide never writes after "Amazon"/"AWS" nor after
    a known one-word name ("Apache Airflow") is not one; a few topic words that follow
    the prefix often enough pass ("AWS Authentication")."""
    named: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    # each distinct line once: a section title repeats in every chunk's text
    for t in dict.fromkeys(line for text in texts for line in text.splitlines()):
        for m in re.finditer(r"\b(?:Amazon|AWS)(?:\s+[A-Z][A-Za-z0-9-]*){1,4}", t):
            named[m.group(0)] += 1
        for m in re.finditer(r"\b[A-Z][A-Za-z0-9-]*(?:\s+[A-Z][A-Za-z0-9-]*){1,3}", t):
            runs[m.group(0)] += 1
    # how often each start of a run is written: after the prefix, and anywhere
    starts: Counter[str] = Counter()
    run_starts: Counter[str] = Counter()
    for counts, into in ((named, starts), (runs, run_starts)):
        for run, count in counts.items():
            words = run.split()
            for j in range(2, len(words) + 1):
                into[" ".join(words[:j])] += count
    spelled: dict[str, Counter[str]] = {}

    def add(form: list[str], count: int) -> None:
        text = " ".join(form)
        spelled.setdefault(text.lower(), Counter())[text] += count

    for run, count in named.items():
        words = run.split()
        first = words[1]
        shaped = re.fullmatch(r"[A-Z][a-z]+[A-Z][\w-]*|[A-Z][A-Z0-9]{1,4}s?|\w+-\w+", first)
        if first in ("AWS", "Amazon") or not (shaped or stem(first.lower()) in entities):
            continue
        keep = max(
            (j for j in range(3, len(words) + 1) if starts[" ".join(words[:j])] >= 2), default=2
        )
        if keep == 2 and not shaped and starts[" ".join(words[:2])] < 3:
            continue
        add(words[:keep], count)
        add(words[1:keep], count)
    heads = {form for form in spelled if " " not in form}
    for run, count in runs.items():
        words = run.split()
        if words[0].lower() not in heads or words[0] in ("AWS", "Amazon"):
            continue
        for j in range(len(words), 1, -1):
            if run_starts[" ".join(words[:j])] >= 2:
                add(words[:j], count)
                break
    return {low: c.most_common(1)[0][0] for low, c in spelled.items()}


# A heading or bullet under which the guide sets two things side by side.
COMPARISON = re.compile(
    r"\bvs\.?(?=\s)|\bversus\b|\bcompar(?:ison|ing|ed)\b|\bchoosing between\b|"
    r"\bdifferences? between\b",
    re.I,
)

# A sentence led by a pronoun leans on an earlier one: alone, it cannot be checked.
_PRONOUN_LED = re.compile(r"^\W*(this|it|they|these|those|that)\b", re.I)


@dataclass(frozen=True)
class Unit:
    n: int  # passage number, 1-based
    text: str
    stems: frozenset[str]  # the sentence's own words
    numbers: frozenset[str]
    negations: frozenset[str]
    context: frozenset[str] = frozenset()  # its bullet label and section title words
    label: str = ""  # "AWS Glue" for a sentence of the line "AWS Glue: Ideal for ..."
    row: int = -1  # its row in the index's sentence vectors (-1: not embedded)
    title: str = ""  # its section's title
    parent: str = ""  # the label of the bullet it is nested under ("CloudWatch", "Comparison")
    owner: str = ""  # the parent, when it names the service a subject-less label is about

    @property
    def in_comparison(self) -> bool:
        """Whether the guide sets things side by side here: the line sits under a
        comparison heading or bullet ("OLTP vs. OLAP ...", "Comparison:", "Choosing
        Between SQL and Spark:")."""
        return bool(COMPARISON.search(self.parent) or COMPARISON.search(self.title))

    @property
    def shown(self) -> str:
        """The sentence as a reader should see it: a sentence that continues a labelled
        line gets its label ("AWS Glue: Suitable when ..."), and one led by a pronoun gets
        its section's title ("Data Warehouse: It minimises ..."), so that it never shows
        as a fragment without a subject."""
        if self.label and not self.text.lower().startswith(self.label.lower()[:20]):
            return f"{self.label}: {self.text}"
        if not self.label and self.title and _PRONOUN_LED.match(self.text):
            title = re.sub(r"^\s*(?:Step\s+)?\d+[.:]?\s*", "", self.title).rstrip(":").strip()
            if title:
                return f"{title}: {self.text}"
        return self.text

    @property
    def display(self) -> str:
        """The sentence as an answer shows it: `shown`, and a bare line nested under a
        labelled bullet gets that label ("OLAP (Online Analytical Processing): Uses star
        schema ..."), so a reader knows which side of the guide's list it is about. Not
        for a parent that is a comparison heading ("Comparison:"), which names no side.
        A line whose own label names no service, nested under a bullet that does, gets
        that bullet too ("Amazon EFS (File Storage) — Characteristics: Fully managed ..."):
        alone, "Characteristics: ..." does not say which service it describes.
        Not what the sentence is embedded as (that is `shown`: the index keeps it)."""
        if self.owner and self.owner.split("(")[0].strip().lower() not in self.text.lower():
            return f"{self.owner} — {self.shown}"
        if (
            not self.label
            and self.parent
            and not COMPARISON.search(self.parent)
            and not self.text.lower().startswith(self.parent.lower()[:20])
        ):
            return f"{self.parent}: {self.text}"
        return self.shown

    @property
    def all_stems(self) -> frozenset[str]:
        return self.stems | self.context


@dataclass
class Checked:
    """One draft sentence after the check."""

    text: str  # without citation markers
    supported: bool
    citations: list[int] = field(default_factory=list)
    score: float = 0.0
    evidence: str | None = None
    reason: str = ""
    model_citations: list[int] = field(default_factory=list)


_ITEM = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
_LABEL = re.compile(r"^\s*(?:[-*•]\s*)?([^:.]{2,60}):\s")


def names_service(name: str, entities: frozenset[str]) -> bool:
    """Whether a bullet label is a service's name ("Amazon EFS (File Storage)",
    "DynamoDB (Managed NoSQL Database Service)", "CloudWatch", "Step Functions"), not a
    topic ("Key Considerations for Ingestion", "Data Integrity"). Read from its writing:
    an Amazon/AWS name, a CamelCase word or acronym first, or words that are all entity
    names (`Lexicon.entities`). Limits: a name written in lower case is not seen."""
    head = name.split("(")[0].strip()
    words = head.split()
    if not words:
        return False
    if re.match(r"(?:Amazon|AWS)\s+[A-Z]", head) or re.match(r"[A-Z][a-z]+[A-Z]|[A-Z]{2,}\b", head):
        return True
    stems = content_stems(head)
    return all(w[0].isupper() for w in words) and bool(stems) and set(stems) <= entities


def split_units(
    passages: list[str],
    titles: list[str] | None = None,
    lexicon: Lexicon | None = None,
) -> list[Unit]:
    """One unit per passage sentence, with the context a reader would give it: the label
    of its bullet line ("AWS Glue: Ideal for ... . Suitable when ..."), the label of the
    bullet it is nested under ("Metrics Collection: Track ..." under "CloudWatch:") and the
    non-entity words of its section title ("3. Key Salting" for "Salting involves ...").
    Entity words of a title, or of a parent that is a comparison ("Choosing Between SQL
    and Spark:"), are left out: "Choosing Between AWS Glue and Amazon EMR" must not lend
    "Glue" to a sentence about EMR. Limits: nesting is read from indentation, within one
    passage (a parent bullet in the previous chunk is not seen)."""
    out = []
    ents = lexicon.entities if lexicon else frozenset()
    for n, p in enumerate(passages, start=1):
        context: frozenset[str] = frozenset()
        if titles:
            context = frozenset(s for s in content_stems(titles[n - 1]) if s not in ents)
        open_labels: list[tuple[int, str]] = []  # (indent, label) of the enclosing bullets
        for line in p.splitlines():
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            while open_labels and open_labels[-1][0] >= indent:
                open_labels.pop()
            parent = open_labels[-1][1] if open_labels else ""
            name = label_of(line)
            if head := heading_of(line):
                open_labels.append((indent, head))
            label = frozenset(content_stems(name))
            owner = (
                parent
                if name
                and parent
                and not COMPARISON.search(parent)
                and not label & ents
                and names_service(parent, ents)
                else ""
            )
            for s in sentences(line):
                st = frozenset(content_stems(s))
                if st:
                    out.append(
                        Unit(
                            n,
                            s,
                            st,
                            frozenset(numbers(s)),
                            frozenset(negations(s)),
                            (label | context) - st,
                            name,
                            title=titles[n - 1] if titles else "",
                            parent=parent,
                            owner=owner,
                        )
                    )
    return out


def strip_markers(sentence: str) -> tuple[str, list[int]]:
    cited: list[int] = []
    for m in MARKER.finditer(sentence):
        cited.extend(int(x) for x in m.group(1).split(","))
    return MARKER.sub("", sentence).strip(), cited


def required_terms(sentence: str, lex: Lexicon) -> set[str]:
    """Stems that must appear in the supporting unit: entities and capitalised names."""
    toks = re.findall(r"[A-Za-z][A-Za-z0-9]*", sentence)
    req = set()
    for i, w in enumerate(toks):
        s = stem(w.lower())
        if w.lower() in STOPWORDS or s in GENERIC:
            continue
        if s in lex.entities or (i > 0 and w[0].isupper()) or (len(w) > 1 and w.isupper()):
            req.add(s)
    return req


def comparatives(sentence: str) -> set[str]:
    """Stems of the words a comparison rests on ("faster" in "X is faster than Y"):
    a guide sentence that does not make the same comparison does not support it."""
    found = re.findall(r"\b(\w+)\s+than\b", sentence.lower())
    found += re.findall(r"\b(?:more|less)\s+(\w+)", sentence.lower())
    return {stem(w) for w in found if w not in STOPWORDS}


# Drafts that say nothing about the guide even when their words are in it.
_NOT_A_CLAIM = re.compile(
    r"(\?\s*$|:\s*$|^\W*(question|answer)\s*:|\b(the|this|these) (passages?|question|"
    r"guide says)\b|\bthe answer is\b)",
    re.I,
)
MIN_WORDS = 5  # a shorter "sentence" from the model is a fragment or a title


# where a sentence turns to a second clause that may qualify or deny the first
_TURN = re.compile(r",?\s+(?:but|yet|whereas|while|although|though)\s+|;\s*", re.I)


def contradicts_itself(text: str) -> bool:
    """Whether one clause denies what another asserts: two clauses, one negated and one
    not, where the shorter one's content words (at least two) are nearly all (80%) in
    the other. Fixes a draft that carries the guide's negation and its opposite at once
    ("A data engineer controls the source system that generates data, but they do not
    control the source system itself." passed, since its negations matched the guide
    line's). Of the guide's 1,373 sentences, none reads as contradicting itself. Limit:
    a contrast of two subjects in nearly the same words ("EMR is serverless here, but
    EMR is not serverless there") is refused too; the guide's own line is shown
    instead."""
    clauses = [c for c in _TURN.split(text) if c.strip()]
    for i, a in enumerate(clauses):
        for b in clauses[i + 1 :]:
            sa, sb = set(content_stems(a)), set(content_stems(b))
            small = min(len(sa), len(sb))
            if small >= 2 and len(sa & sb) >= 0.8 * small and negations(a) != negations(b):
                return True
    return False


def no_claim(text: str) -> str:
    """Why a draft sentence makes no claim a reader can use, or "".

    Each rule names a failure seen in the 135M model's drafts: echoed questions and
    "The answer is: (...)" lead-ins reached the page (`_NOT_A_CLAIM`); "It provides ..."
    was checked true against a sentence about another subject (`_PRONOUN_LED`); titles
    and list fragments ("Data Catalogs.") passed the overlap test (`MIN_WORDS`); a
    sentence that asserts and denies one claim passed as its negation matched the
    guide's (`contradicts_itself`)."""
    if _NOT_A_CLAIM.search(text):
        return "restates the question or talks about the passages"
    if contradicts_itself(text):
        return "asserts and denies the same claim"
    if _PRONOUN_LED.match(text):
        return "leans on an earlier sentence (pronoun subject)"
    if len(text.split()) < MIN_WORDS:
        return "a fragment, not a sentence"
    return ""


class Verifier:
    """Checks draft sentences against numbered passages."""

    def __init__(
        self,
        passages: list[str],
        lexicon: Lexicon,
        threshold: float = 0.6,
        embedder: EmbeddingModel | None = None,
        titles: list[str] | None = None,
    ) -> None:
        self.units = split_units(passages, titles, lexicon)
        self.titles = [t.lower() for t in titles or []]
        self.lex = lexicon
        self.threshold = threshold
        self.embedder = embedder

    def _coverage(self, stems: set[str], unit: Unit) -> float:
        """IDF-weighted share of `stems` the unit holds; words that only its label or
        title hold count half (they name the topic, they do not state the claim)."""
        total = sum(self.lex.weight(s) for s in stems)
        return mentions(unit, stems, self.lex) / total if total else 0.0

    def _strip_title(self, text: str) -> str:
        """Drop a "(Section title) " prefix the model copied from the prompt's layout."""
        m = re.match(r"^\(?([^()]{2,100})\)\s*", text)
        if m and any(t.endswith(m.group(1).strip().lower()) for t in self.titles):
            return text[m.end() :]
        return text

    def check(self, draft_sentence: str) -> Checked:
        """Whether one passage sentence supports the draft sentence, and which passage
        to cite. Drafts that make no checkable claim are refused first (see `no_claim`)."""
        text, cited = strip_markers(draft_sentence)
        text = self._strip_title(_ITEM.sub("", text))
        if why := no_claim(text):
            return Checked(text, False, reason=why, model_citations=cited)
        stems = {s for s in content_stems(text) if s not in GENERIC}
        if len(stems) < 2:
            return Checked(text, False, reason="too short to check", model_citations=cited)
        need = required_terms(text, self.lex) | comparatives(text)
        if m := _LABEL.match(text):  # "Variety: ..." must be about what the guide labels so
            need |= set(content_stems(m.group(1))) - GENERIC
        nums = numbers(text)
        neg = negations(text)
        best: tuple[float, Unit] | None = None
        rejected: tuple[float, str] = (-1.0, "no passage sentence holds it")
        for u in self.units:
            cov = self._coverage(stems, u)
            if best is not None and cov <= best[0]:
                continue
            missing = (need - u.all_stems) | (nums - u.numbers)
            why = ""
            if missing:
                why = f"no passage sentence holds {', '.join(sorted(missing))} with the rest"
            elif neg != u.negations:
                why = "negation differs from the guide"
            if why:
                if cov > rejected[0]:
                    rejected = (cov, why)
                continue
            best = (cov, u)
        if best is None or (rejected[0] > best[0] and best[0] < self.threshold):
            return Checked(text, False, reason=rejected[1], model_citations=cited)
        score, unit = best
        ok = score >= self.threshold
        if not ok and score >= self.threshold - 0.15 and self.embedder is not None:
            a, b = self.embedder.embed([text, unit.text])
            ok = float(a @ b) >= 0.75
        if not ok:
            return Checked(
                text, False, score=score, reason=f"low overlap ({score:.2f})", model_citations=cited
            )
        # keep a model citation when that passage supports the sentence as well
        keep = [
            n
            for n in cited
            if any(
                u.n == n
                and self._coverage(stems, u) >= score - 0.05
                and not (need - u.stems)
                and not (nums - u.numbers)
                for u in self.units
            )
        ]
        return Checked(text, True, keep or [unit.n], score, unit.text, "supported", cited)


def same_claim(a: str, b: str, threshold: float = 0.8) -> bool:
    """Whether two sentences share nearly all their content words (Jaccard on stems)."""
    sa, sb = set(content_stems(a)), set(content_stems(b))
    return bool(sa | sb) and len(sa & sb) / len(sa | sb) >= threshold


def mentions(u: Unit, words: set[str] | frozenset[str], lexicon: Lexicon) -> float:
    """IDF weight of `words` the unit mentions; its label and title words count half."""
    return sum(lexicon.weight(w) for w in words if w in u.stems) + 0.5 * sum(
        lexicon.weight(w) for w in words if w in u.context
    )
