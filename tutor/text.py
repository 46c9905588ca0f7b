"""Text normalisation shared by lexical retrieval, the grounding check and the evals.

One tokenizer everywhere, so that "what BM25 matched" and "what the checker counted as
support" mean the same thing. Tokens are lower-cased word pieces; `stems` applies the
Snowball English stemmer (PyStemmer) so "partitions" matches "partitioning".

Limits: English only; the sentence splitter is rule-based (periods after common
abbreviations such as "e.g." and "etc." are handled, others may split a sentence early).
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either etc few for from further had has have having he her here hers him his how i if
    in into is it its itself just like may me might more most much must my need needs no
    nor not of off on once one only or other our out over own same she should so some
    such than that the their them then there these they this those through to too under
    until up use used uses using very via was we were what when where whether which while
    who whom why will with within would you your e.g i.e eg ie""".split()
)

# Words that carry the logic of a claim: a sentence that has one where its source does
# not (or the reverse) may say the opposite of it.
NEGATIONS = frozenset("not no never cannot without neither nor none lack lacks".split())

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"^\d")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, hyphenated words split into parts ("big-data" -> big, data)."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        tok = m.group(0).lower().replace("'s", "")
        out.extend(p for p in re.split(r"[-']", tok) if p) if "-" in tok else out.append(tok)
    return out


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def content_stems(text: str) -> list[str]:
    """Stems of the content words: stopwords and one-letter tokens dropped."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def bm25_tokens(text: str) -> list[str]:
    return content_stems(text)


def numbers(text: str) -> set[str]:
    """Numbers written in digits ("99.9%", "7", "2,048"), normalised without commas."""
    return {w.replace(",", "") for w in words(text) if _NUMBER.match(w)}


def negations(text: str) -> set[str]:
    toks = set(words(text))
    out = toks & NEGATIONS
    if re.search(r"n't\b", text):
        out.add("not")
    return out


_ABBREV = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|incl|Mr|Dr|Inc|No)\.$", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split prose into sentences; line breaks and bullets always end a sentence."""
    out: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+\.)\s+", "", line).strip()
        if not line:
            continue
        buf = ""
        for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*])", line):
            buf = f"{buf} {piece}".strip() if buf else piece
            if _ABBREV.search(buf):
                continue
            out.append(buf)
            buf = ""
        if buf:
            out.append(buf)
    return [s for s in out if re.search(r"[A-Za-z0-9]", s)]


def strip_markdown(text: str) -> str:
    """Drop emphasis markers and inline code ticks; keep the words."""
    text = re.sub(r"\*\*|__|`", "", text)
    return re.sub(r"(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)", "", text)


# Where a model's streamed reply ends a sentence: after . ! ? (and any [n] markers that
# follow it), or at a line break.
_STREAM_END = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*,\s*\d+)*\])?\s+|\n+")
# "1." or "a)" alone opens a list item; it does not end a sentence.
_LIST_MARKER = re.compile(r"^\W*(?:\d{1,2}|[a-z])[.)]\W*$")


class SentenceStream:
    """Cuts streamed text into sentences as soon as each one is complete.

    `feed(piece)` returns the sentences the piece completed (with their citation
    markers), `flush()` the rest. Limits: a period inside an abbreviation followed by a
    space ("e.g. Glue") ends a sentence early; the verifier then sees two fragments.
    """

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, piece: str) -> list[str]:
        self._buf += piece
        out: list[str] = []
        pos = 0
        while m := _STREAM_END.search(self._buf, pos):
            sent = self._buf[: m.start()] + self._buf[m.start() : m.end()].strip()
            if _LIST_MARKER.match(sent):
                pos = m.end()
                continue
            self._buf, pos = self._buf[m.end() :], 0
            if sent.strip():
                out.append(sent.strip())
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


_LABEL = re.compile(r"^\s*(?:[-*•]\s*)?([^:.]{2,60}):\s")


def label_of(line: str) -> str:
    """The label of a "Label: text" line ("AWS Glue" in "AWS Glue: Ideal for ..."), or ""."""
    m = _LABEL.match(strip_markdown(line))
    return m.group(1).strip() if m else ""


_HEAD = re.compile(r"^\s*(?:[-*•]\s*)?([^:]{2,60}?):(?:\s|$)")


def heading_of(line: str) -> str:
    """What a line names for the bullets nested under it: its label, also when nothing
    follows the colon ("Comparison:", "OLTP (Online Transaction Processing):") or the
    label holds a dot ("Batch vs. Streaming: ..."); "" for other lines."""
    m = _HEAD.match(strip_markdown(line))
    return m.group(1).strip() if m else ""
