"""What a question asks: its subject, its expected answer type, its shape and its parts.

`read_question` turns the learner's text into a `Question`:

* **subject**: the content-word stems the guide's vocabulary knows ("pick", "should" and
  other phrasing are left out: no passage can cover them);
* **answer type** (Li & Roth style): a distribution over types such as `num:size`,
  `num:period`, `value:default`, `desc:definition`, `choice`, read from the question's
  MiniLM embedding by linear probes fitted on the labelled example questions in
  `data/answer_types.jsonl`. They generalise across wordings ("biggest", "how long can",
  "cap", "ceiling") where keyword lists do not;
* **shape**: `compare` (two sides), `multi` (several asks), `scenario` (an exam stem or a
  described situation), or `fact`; compare and multi questions carry their parts, which
  are retrieved and answered one by one.

Limits: English only; sides of a comparison are found from the question's own connectives
("vs", "difference between X and Y", "X or Y", "X over Y", "X differs from Y"), so
"which of the two is cheaper" after a list of two is not read as a compare shape; such a
question keeps the typer's "compare" probability (`Question.contrast`), and composing
answers it from the guide's own comparison when that is high enough.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from tutor.text import STOPWORDS, content_stems, sentences, stem

if TYPE_CHECKING:
    from tutor.embed import EmbeddingModel
    from tutor.ground import Lexicon

# Types whose answer is a figure or a specific setting: a sentence that answers one must
# state a figure or setting of that kind (see `relevance.states_form`).
QUANTITY_PREFIXES = ("num:", "value:")
SHAPES = ("fact", "compare", "scenario", "multi")
UNPARTED = ("fact", "scenario")  # shapes whose parts, if any, are a described comparison's

# Words that carry no subject: generic to every answer about AWS.
GENERIC_WORDS = """aws amazon service services guide answer question passage passages based
    according provide provides provided help helps allow allows example include includes
    including different difference differences important key main various way ways vs
    versus compare comparison""".split()

_COMPARE = [
    re.compile(
        r"\b(?:differences?|diffs?)\s+between\s+(?P<a>.+?)\s+(?:and|&|vs\.?)\s+(?P<b>.+)", re.I
    ),
    re.compile(r"\bcompare\s+(?P<a>.+?)\s+(?:and|with|to|vs\.?)\s+(?P<b>.+)", re.I),
    re.compile(r"(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+)", re.I),
    re.compile(
        r"(?P<a>.+?)\s+(?:differs?|different|compared?d?)\s+(?:from|with|to)\s+(?P<b>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:use|pick|choose|prefer|go with|select)\s+(?P<a>.+?)\s+"
        r"(?:over|instead of|rather than|or)\s+(?P<b>.+)",
        re.I,
    ),
    re.compile(
        r"^(?:is|are|should)?\s*(?P<a>[\w\s./-]{2,40}?)\s+or\s+(?P<b>[\w\s./-]{2,40})\?*$", re.I
    ),
]
# Where a side of a comparison stops: the rest is about what to do with it.
_SIDE_END = re.compile(
    r"\s*(?:[—–:;,?(]|\s-\s|\bwhen\b|\bwhich\b|\bfor\b|\bin terms\b|\bto\b|\bif\b)", re.I
)
_SIDE_LEAD = re.compile(
    r"^\s*(?:(?:what|when|how|why|should|would|do|does|is|are|can|in)\b.*?\b"
    r"(?:use|pick|choose|prefer|between|with|does|do|is|are)\s+|the\s+|a\s+|an\s+|"
    r"using\s+|(?:i|we|you)\s+\w+\s+(?:with|using)\s+|(?:is|are|does|do)\s+|"
    r"(?:how|what|why|where|who|when)['’]?s\s+)",
    re.I,
)
_ASK_JOIN = re.compile(
    r"(?:\?\s+|[;,]?\s+(?:and|also|plus)\s+(?=(?:what|how|why|which|when|where|who|is|are|"
    r"does|do|can|should)\b))",
    re.I,
)
# An exam stem's requirement: what the chosen service must do best.
_EXAM_END = re.compile(
    r"\b(which (?:solution|service|approach|option|combination|step|action)s?|what should|"
    r"meets? (?:these|the) requirements|least operational|most cost|most efficient)\b",
    re.I,
)
REQUIREMENTS = {
    "least operational overhead": "managed serverless automatically without",
    "serverless": "serverless managed",
    "cost-effective": "cost cost-effective cheaper lower",
    "real-time": "real-time streaming near",
    "near real-time": "real-time streaming near",
    "least latency": "low latency fast",
    "scalable": "scale scalable",
    "secure": "encrypt security",
}


@dataclass(frozen=True)
class Question:
    """A question as the pipeline reads it."""

    text: str
    subject: frozenset[str]  # content stems the guide's vocabulary knows
    types: dict[str, float]  # expected answer type -> probability
    quantity: float  # probability that a figure or a specific setting is asked
    shape: str  # one of SHAPES
    parts: tuple[str, ...] = ()  # compare sides or multi-part asks, as standalone queries
    sides: tuple[str, ...] = ()  # compare: the two things compared, as written
    requirement: frozenset[str] = field(default_factory=frozenset)  # scenario stems' asks
    # how likely the question sets two things against each other: 1 for a compare shape,
    # else the typer's "compare" probability ("how do those two kinds of systems differ?")
    contrast: float = 0.0

    @property
    def answer_type(self) -> str:
        return max(self.types, key=lambda t: self.types[t]) if self.types else "desc:definition"

    @property
    def quantity_kind(self) -> str:
        """The most likely figure/setting type, or "" when none is."""
        q = {t: p for t, p in self.types.items() if t.startswith(QUANTITY_PREFIXES)}
        return max(q, key=lambda t: q[t]) if q else ""


class AnswerTyper:
    """Expected answer type from the question's embedding, by a linear probe over all
    types fitted on the labelled example questions (`data/answer_types.jsonl`, written
    apart from the gold questions). P(a figure or setting is asked) is the probability
    of the figure and setting types together.

    A linear probe on the embedding separated figure questions from the rest better than
    nearest neighbours did (AUC 0.93 against 0.91 on the calibration split's answerable
    vs unanswerable questions): neighbours follow the topic ("What kind of service is
    Amazon MSK?" sat next to release-date examples about MSK), a probe learns the
    direction of the asking. The summed figure types replaced a second, binary probe:
    the two disagreed ("is MWAA basically the same as Step Functions? when would I pick
    one over the other?" was read as a comparison, and 0.84 likely to ask a figure), and
    the sum ranks the calibration split's unanswerable questions better (AUC 0.947
    against 0.939; cross-validated abstention F1 0.934 against 0.922). The weights are
    data (`Calibration.typer`), fitted by `tutor calibrate`."""

    def __init__(self, probe: dict[str, Any]) -> None:
        self.classes: list[str] = list(probe["classes"])
        self.coef = np.asarray(probe["coef"], dtype=np.float32)
        self.intercept = np.asarray(probe["intercept"], dtype=np.float32)
        self._figure = np.array([c.startswith(QUANTITY_PREFIXES) for c in self.classes])

    def types(self, *vecs: Any) -> tuple[dict[str, float], float]:
        """The type distribution and P(a figure or setting is asked) for an embedding,
        or the mean of the distributions for several readings of one question.

        `Tutor.read` passes two: the ask sentence and the whole question. Read alone,
        a story's closing ask loses its story ("When a load fails at 3am nobody finds
        out until standup. How are we supposed to get told?" reads 0.29 default
        against 0.23 procedure; with the whole question, procedure leads), and the
        whole question loses its ask among a scenario's details. The mean of the two
        raised writer-held-out abstention F1 on the calibration split from 0.893 to
        0.907 (paired bootstrap SE 0.008), against 0.888 for the whole question alone.
        Limit: most examples are one short sentence, so a long question's whole-text
        reading is the less certain of the two."""
        z = np.stack([self.coef @ v + self.intercept for v in vecs])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = (e / e.sum(axis=1, keepdims=True)).mean(axis=0)
        order = np.argsort(-p)
        dist = {self.classes[i]: round(float(p[i]), 4) for i in order}
        return dist, float(p[self._figure].sum())


def fit_typer(embedder: EmbeddingModel, c: float = 3.0) -> dict[str, Any]:
    """Fit the probe on the packaged example questions; returns it as data."""
    from sklearn.linear_model import LogisticRegression

    path = resources.files("tutor").joinpath("data", "answer_types.jsonl")
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    x = embedder.embed([r["question"] for r in rows])
    labels = [r["type"] for r in rows]
    multi = LogisticRegression(C=c, max_iter=5000).fit(x, labels)
    return {
        "examples": len(rows),
        "classes": [str(k) for k in multi.classes_],
        "coef": [[round(float(v), 5) for v in row] for row in multi.coef_],
        "intercept": [round(float(v), 5) for v in multi.intercept_],
    }


_VOCAB: frozenset[str] | None = None


# Other vendors' data platforms and products: general knowledge of the field, not drawn
# from gold questions. Names the guide discusses in their own right are left out (Kafka,
# Airflow, Hive, Spark, and database engines such as Oracle or SQL Server, which it
# names as migration sources).
OTHER_VENDORS = re.compile(
    r"\b(?:azure|microsoft|power\s?bi|synapse|purview|entra|google\s+cloud|gcp|bigquery|"
    r"dataproc|cloud\s+dataflow|pub/sub|looker|cloud\s+composer|vertex\s+ai|"
    r"snowflake(?!\s+schemas?)|snowpipe|snowpark|databricks|delta\s+live\s+tables|"
    r"unity\s+catalog|informatica|talend|fivetran|matillion|alteryx|tableau|cloudera|"
    r"oracle\s+cloud|alibaba\s+cloud|ibm\s+cloud)\b",
    re.I,
)


def other_vendors(text: str) -> int:
    """How many other vendors' products the question names (`OTHER_VENDORS`). Fixes
    questions about another cloud's warehouse, ETL or catalog being answered from guide
    lines that share a word: the guide has "snowflake schema" and "third-party services
    like Databricks", so the word test of `unknown_names` cannot mark those names."""
    return len({m.group(0).lower() for m in OTHER_VENDORS.finditer(text)})


def unknown_names(text: str, lexicon: Lexicon, vocab: frozenset[str]) -> int:
    """How many words of the question look like names the guide never uses: not in the
    guide's vocabulary, and either CamelCase ("BigQuery") or not a whole word of the
    embedding model's vocabulary ("snowpipe", "purview"). Hyphenated words are skipped
    (they are phrasing: "long-running"), and so are other vendors' product names, which
    `other_vendors` counts. Fixes off-topic questions about other vendors being answered
    from the guide's nearest generic lines."""
    n = 0
    text = OTHER_VENDORS.sub(" ", text)
    for w in re.findall(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?![\w-])", text):
        low = w.lower()
        if low in STOPWORDS or len(low) < 4 or stem(low) in lexicon.idf:
            continue
        camel = any(ch.isupper() for ch in w[1:]) and not w.isupper()
        if camel or low not in vocab:
            n += 1
    return n


def subject_stems(text: str, lexicon: Lexicon | None = None) -> frozenset[str]:
    """The question's subject words. With a lexicon, words the guide never uses are left
    out: they are phrasing ("pick", "should"), and cannot be covered by any passage."""
    generic = generic_stems()
    return frozenset(
        s for s in content_stems(text) if s not in generic and (lexicon is None or s in lexicon.idf)
    )


_GENERIC: frozenset[str] | None = None


def generic_stems() -> frozenset[str]:
    global _GENERIC
    if _GENERIC is None:
        _GENERIC = frozenset(s for w in GENERIC_WORDS for s in content_stems(w))
    return _GENERIC


def _clean_side(side: str) -> str:
    side = side.strip()
    while (lead := _SIDE_LEAD.match(side)) and lead.end() < len(side):
        side = side[lead.end() :]
    m = _SIDE_END.search(side)
    if m and m.start() > 1:
        side = side[: m.start()]
    return side.strip(" ?.!'\"").strip()


def compare_sides(text: str, lexicon: Lexicon | None = None) -> tuple[str, str] | None:
    """The two things a comparison question sets against each other, or None.

    Both sides must name something the guide knows (with a lexicon), so "run it daily
    or weekly?" is not a comparison of two guide topics."""
    for pat in _COMPARE:
        m = pat.search(text)
        if not m:
            continue
        a, b = _clean_side(m.group("a")), _clean_side(m.group("b"))
        if not a or not b or a.lower() == b.lower():
            continue
        if len(a.split()) > 8 or len(b.split()) > 8:
            continue
        if lexicon is not None and not (subject_stems(a, lexicon) and subject_stems(b, lexicon)):
            continue
        return a, b
    return None


_ASKS = re.compile(
    r"^\W*(?:and|also|plus|so|but|or|ok|then)?\W*(?:what|whats|how|why|which|when|where|who|"
    r"is|are|does|do|did|can|could|should|would|will|explain|describe|list|tell|give|"
    r"compare|name)\b",
    re.I,
)


def ask_parts(text: str) -> list[str]:
    """The separate asks of a multi-part question ("What is X? And how is it billed?").

    A piece that neither ends with "?" nor starts like a question ("they sound the same
    lol" after "diff between near real-time and real time?") is a remark, not an ask:
    it is left out, so no answer ends "The guide does not say: they sound the same
    lol?"."""
    parts = [p.strip(" ,;") for p in _ASK_JOIN.split(text) if p and p.strip(" ,;?")]
    asked = [p for p in parts if len(p.split()) >= 2 and (_ends_ask(p, text) or _ASKS.match(p))]
    return [p if p.endswith("?") else p + "?" for p in asked]


def _ends_ask(part: str, text: str) -> bool:
    """Whether `part` ends with a question mark where it stands in `text`."""
    at = text.find(part)
    return part.endswith("?") or (at >= 0 and text[at + len(part) :].lstrip(" ,;").startswith("?"))


# Words of weighing, not of subject: an ask made only of them ("whats the tradeoff")
# is about the things named before it.
_WEIGHING = frozenset(
    stem(w)
    for w in """actual actually real really tradeoff tradeoffs trade-off catch catches better
    worse best worst pros cons downside downsides upside upsides advantage advantages
    disadvantage disadvantages same similar difference differences differ point deal
    benefit benefits drawback drawbacks pick choose go whats hows whys wheres""".split()
)


def continues(part: str) -> bool:
    """Whether an ask only weighs what the ask before it named ("whats the actual
    difference", "whats the tradeoff", "is there a catch with one of them"): it has no
    content word of its own. Such a part is answered with the ask before it, so no
    answer ends "The guide does not say: whats the actual difference?". An ask with a
    subject, even a pronoun's ("how does it scale?") or one the guide never discusses
    ("who invented the bicycle?"), stays a part."""
    return not (subject_stems(part) - _WEIGHING)


# Two things set against each other in a described situation, without naming them: "one
# service tells me who called what API, and the other one gathers metrics", "the checkout
# app does tiny inserts, while the reporting folks run big aggregations", "tidy up messy
# datasets, and separately our execs want dashboards". "while" is also temporal ("fix it
# while it streams in"): the clauses are used only for a question the typer reads as a
# comparison (`Question.contrast`).
_CLAUSES = [
    re.compile(
        r"(?P<a>\bone\b[^.?!]{6,}?),?\s+(?:and\s+|while\s+|but\s+)?the other(?: one| half)?\b"
        r"(?P<b>[^.?!]{6,})",
        re.I,
    ),
    re.compile(r"(?P<a>[^.?!]{8,}?),?\s+(?:while|whereas)\s+(?P<b>[^.?!]{8,})", re.I),
    re.compile(r"(?P<a>[^.?!]{8,}?),?\s+and separately,?\s+(?P<b>[^.?!]{8,})", re.I),
]


def contrast_clauses(text: str) -> tuple[str, str] | None:
    """The two described sides of a comparison that names neither ("one ... the other
    ..."), as two queries, or None."""
    for pat in _CLAUSES:
        m = pat.search(text)
        if m:
            return m.group("a").strip(" ,;:"), m.group("b").strip(" ,;:")
    return None


# a gradable property in its comparative or superlative form ("cheaper", "fastest",
# "more", "least"), and a question that sets two or more options side by side
GRADED = (
    r"(?:cheap|costli|prici|fast|quick|slow|bigg|larg|small|old|new|long|short|high|low|"
    r"great|easi|hard|strong|heavi|light)(?:er|est)|better|best|worse|worst|more|less|"
    r"fewer|most|least"
)
_COMPARATIVE = re.compile(rf"\b(?:{GRADED})\b", re.I)
_SIDE_BY_SIDE = re.compile(
    r"\bor\b|\bvs\.?(?!\w)|\bversus\b|\bcompared\b|\bwhich of\b|\bbetween\b", re.I
)


# the property a ranking is about, by family: "cheaper" asks about cost, and a line that
# ranks on speed ("faster") or age ("older data") does not answer it
PROPERTIES = {
    family: re.compile(rf"\b(?:{words})\b", re.I)
    for family, words in {
        "cost": r"cheap\w*|costl\w*|pric\w*|expensive|cost\w*|pay\w*|bill\w*|afford\w*|budget",
        "speed": r"fast\w*|quick\w*|slow\w*|speed\w*|latenc\w*|performan\w*|throughput|real-time",
        "size": r"bigg\w*|big|larg\w*|small\w*|size\w*|capacit\w*|volume\w*",
        "age": r"old\w*|new\w*|recent\w*|launch\w*|releas\w*",
        "effort": r"easi\w*|easy|hard\w*|simpl\w*|complex\w*|overhead|effort",
    }.items()
}


def properties(text: str) -> set[str]:
    """The property families (`PROPERTIES`) that `text` names."""
    return {family for family, pat in PROPERTIES.items() if pat.search(text)}


def asks_comparative(text: str) -> bool:
    """Whether the question asks which of its options has more of a property ("which is
    cheaper per gigabyte, EFS or FSx for Lustre?", "firehose or data streams which one
    takes bigger records", "Which is the older service, Data Pipeline or Step
    Functions?"). Fixes such questions being answered from lines that describe each
    option but rank neither: the typer reads them as comparisons, whose answer the
    guide usually has. Grammar, not topic: a comparative or superlative form beside two
    options. Limit: "more" and "less" also occur in asks that are not rankings ("which
    is less work to run, X or Y" is one, "X or Y, tell me more" is not)."""
    return bool(_COMPARATIVE.search(text) and _SIDE_BY_SIDE.search(text))


def is_scenario(text: str) -> bool:
    """An exam stem or a described situation: several sentences ending in an ask, or
    the exam's own requirement wording ("LEAST operational overhead")."""
    n_sent = len(sentences(text))
    return bool(_EXAM_END.search(text)) or (n_sent >= 2 and len(text.split()) >= 25)


def requirement_stems(text: str) -> frozenset[str]:
    """The stems of what a scenario asks the answer to do best, from its last sentence
    and the exam's requirement phrases ("least operational overhead" -> managed,
    serverless)."""
    sents = sentences(text)
    last = sents[-1] if sents else text
    words = set(content_stems(last))
    low = text.lower()
    for phrase, wants in REQUIREMENTS.items():
        if phrase in low:
            words |= set(content_stems(wants))
    return frozenset(w for w in words if w not in STOPWORDS)


def ask_sentence(text: str) -> str:
    """The sentence that asks (the last one with a "?", else the last one): an exam
    stem's answer type is in its ask, not in its scene-setting."""
    sents = sentences(text)
    asks = [s for s in sents if "?" in s]
    return (asks or sents or [text])[-1]


def read_question(text: str, lexicon: Lexicon) -> Question:
    """Read a (standalone) question: subject, shape and parts. Its expected answer type
    needs the embedding of its ask sentence: `AnswerTyper.types` gives it, and the
    caller sets it (`Tutor.read`)."""
    subject = subject_stems(text, lexicon)
    types: dict[str, float] = {}
    quantity = 0.0
    asks = ask_parts(text)
    # a comparison may be one ask among remarks ("step functions or that managed airflow
    # thing for our nightly jobs?? whats the actual difference")
    sides = compare_sides(text, lexicon)
    if not sides and not is_scenario(text):
        sides = next((s for p in asks[:2] if (s := compare_sides(p, lexicon))), None)
    parts = [p for p in asks if not continues(p)]
    if sides:
        # each side's query is the question without the other side: it keeps the
        # context ("when should I pick ... for a Spark job") that a bare name lacks
        queries = tuple(
            re.sub(re.escape(other), " ", text, flags=re.I).strip() for other in sides[::-1]
        )
        return Question(text, subject, types, quantity, "compare", queries, sides)
    if is_scenario(text):
        req = requirement_stems(text)
        return Question(text, subject, types, quantity, "scenario", requirement=req)
    if len(parts) >= 2:
        return Question(text, subject, types, quantity, "multi", tuple(parts[:3]))
    return Question(text, subject, types, quantity, "fact")
