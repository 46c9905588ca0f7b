"""The question-answering pipeline: retrieve, decide, draft, verify, cite.

`Tutor.ask_stream` yields, in order: one `Retrieved` (the numbered passages, known
within milliseconds, before the model has said anything), the guide's own sentence that
best answers the question (also known then), each model `Sentence` as soon as the model
completes it and the checker has accepted it, more guide sentences if too few survived,
then the final `Answer`. Text is never shown before it is verified: streaming is per
verified sentence.

Abstention: the tutor says the guide does not cover a question when the best passage is
not similar enough (`min_relevance`, cosine; overruled when a passage names nearly all
of a subject the guide's vocabulary knows), when no passage mentions enough of the
question's subject (`min_focus`), or when the question asks for a figure (price, limit,
default value, how many) and no passage sentence about the subject states one. It then
names the nearest sections instead of letting the model answer from memory.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from tutor.config import Settings
from tutor.conversation import Turn, standalone_query
from tutor.embed import Embedder
from tutor.errors import TutorError
from tutor.generate import Generator, Usage, prompt_text
from tutor.ground import (
    Checked,
    Lexicon,
    Verifier,
    best_focus_coverage,
    focus_units,
    question_focus,
    quote,
    same_claim,
)
from tutor.index import Index
from tutor.retrieve import Hit, Retriever
from tutor.text import content_stems, sentences

MIN_SENTENCES = 2  # below this many verified sentences, quote the guide to fill in
STRONG_TOPIC = 0.8  # subject coverage that overrules a low embedding similarity
MIN_WORDS = 5  # a shorter "sentence" from the model is a fragment or a title
PROMPT_CHARS = 900  # passage text in the prompt: keeps the first token fast
# Questions that ask for a figure: the guide must state one, or the tutor abstains.
_FIGURE = re.compile(
    r"\b(price|pricing|priced|cost(?:s|ing)?(?![-\s]?(?:effective|efficient|optimi))|how many|"
    r"how long|maximum|max|minimum|limit|limits|quota|default (?:value|number|size|timeout|"
    r"retention|limit|period|setting|quota)|(?:what|which|in which) year|percent(?:age)?|"
    r"score|per (?:gb|tb|hour|month|request|second))\b|\$",
    re.I,
)
_DURATION = re.compile(
    r"\b(indefinitely|seconds?|minutes?|hours?|days?|weeks?|months?|"
    r"years?)\b",
    re.I,
)
# Drafts that say nothing about the guide even when their words are in it.
_NOT_A_CLAIM = re.compile(
    r"(\?\s*$|:\s*$|^\W*(question|answer)\s*:|\b(the|this|these) (passages?|question|"
    r"guide says)\b)",
    re.I,
)
# A sentence led by a pronoun leans on an earlier one: alone, it cannot be checked.
_PRONOUN_LED = re.compile(r"^\W*(this|it|they|these|those|that)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*,\s*\d+)*\])?\s+|\n+")
_LIST_MARKER = re.compile(r"^\W*(?:\d{1,2}|[a-z])[.)]\W*$")


@dataclass
class Citation:
    n: int
    chunk_id: str
    section_id: str
    section_path: str
    file: str
    start_line: int
    end_line: int
    text: str
    score: float

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Citation:
        c = hit.chunk
        return cls(
            n,
            c.id,
            c.section_id,
            c.section_path,
            c.file,
            c.start_line,
            c.end_line,
            c.text,
            round(hit.score, 5),
        )


@dataclass
class Sentence:
    text: str
    supported: bool
    citations: list[int]
    source: str  # "model" (verified draft) or "guide" (quoted when too little survived)
    reason: str = ""
    evidence: str | None = None

    @property
    def marked(self) -> str:
        if not self.supported:
            return self.text
        return f"{self.text} " + "".join(f"[{n}]" for n in self.citations)


@dataclass
class Retrieved:
    question: str
    standalone: str
    passages: list[Citation]


@dataclass
class Answer:
    question: str
    standalone_question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    sentences: list[Sentence]
    retrieved: list[Citation]
    timings: dict[str, float | None]
    model: str
    nearest_sections: list[str] = field(default_factory=list)
    abstain_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["retrieved"] = [
            {k: c[k] for k in ("n", "chunk_id", "section_path", "start_line", "end_line", "score")}
            for c in d["retrieved"]
        ]
        return d


def validate_question(question: str, settings: Settings) -> str:
    q = " ".join(question.split())
    if not q:
        raise TutorError("The question is empty: type a question about the guide.")
    if len(q) > settings.max_question_chars:
        raise TutorError(
            f"The question is {len(q)} characters long; the limit is "
            f"{settings.max_question_chars}. Ask something shorter."
        )
    return q


def prompt_passages(question: str, hits: list[Hit], lexicon: Lexicon) -> str:
    """Each passage reduced to its sentences most about the question, within PROMPT_CHARS."""
    focus = set(content_stems(question))
    budget = PROMPT_CHARS
    lines = []
    for n, h in enumerate(hits, start=1):
        sents = sentences(h.chunk.text)
        ranked = sorted(
            range(len(sents)),
            key=lambda i: -sum(lexicon.weight(s) for s in set(content_stems(sents[i])) & focus),
        )[:2]
        body = " ".join(sents[i][:220] for i in sorted(ranked))
        body = body[: max(budget, 0)]
        budget -= len(body)
        if body:
            lines.append(f"[{n}] ({h.chunk.title}) {body}")
    return "\n".join(lines)


def messages_for(question: str, hits: list[Hit], lexicon: Lexicon) -> list[dict[str, str]]:
    user = prompt_text("user.txt").format(
        passages=prompt_passages(question, hits, lexicon), question=question
    )
    return [
        {"role": "system", "content": prompt_text("system.txt").strip()},
        {"role": "user", "content": user.strip()},
    ]


class Tutor:
    """Holds the loaded index and models; one per process, shared by every session."""

    def __init__(
        self,
        settings: Settings,
        index: Index,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder or Embedder()
        self.retriever = Retriever(index, self.embedder)
        self.generator = generator or Generator(settings)
        self.lexicon = Lexicon.from_texts([c.embedding_text() for c in index.chunks])

    def warm_up(self) -> None:
        """Load the embedder and the GGUF model now, so no question pays for it."""
        self.embedder.embed_one("warm up")
        self.generator.load()

    @staticmethod
    def _passages(hits: list[Hit]) -> tuple[list[str], list[str]]:
        return [h.chunk.text for h in hits], [h.chunk.title for h in hits]

    def should_abstain(self, question: str, hits: list[Hit]) -> str:
        """Why the guide does not cover the question, or "" when it does.

        Three tests, calibrated on the gold set's answerable and unanswerable questions:
        the best passage's cosine similarity (off-topic questions), the share of the
        question's subject words the best passage mentions, and, for a question that
        asks for a figure (price, maximum, how many, default, year), whether a passage
        sentence about the subject states one."""
        if not hits:
            return "nothing in the guide matched"
        best = max(h.dense for h in hits)
        topic = best_focus_coverage(
            question, [h.chunk.embedding_text() for h in hits], self.lexicon
        )
        # a low cosine is overruled when a passage names nearly all the question's subject
        # (the small embedding model does not know terms such as "PartiQL") - but only when
        # most of that subject is vocabulary of the guide at all ("FIFA World Cup" is not)
        subject = question_focus(question)
        known = len(question_focus(question, self.lexicon)) / max(len(subject), 1)
        on_topic = topic >= STRONG_TOPIC and known >= 0.5
        if best < self.settings.min_relevance and not on_topic:
            return f"the closest passage is not similar enough ({best:.2f})"
        if topic < self.settings.min_focus:
            return f"no passage is about what the question asks ({topic:.2f})"
        if m := _FIGURE.search(question):
            durations = m.group(0).lower() == "how long" or "default" in m.group(0).lower()
            texts, titles = self._passages(hits)
            stated = any(
                cov >= 0.5 and (u.numbers or (durations and _DURATION.search(u.text)))
                for cov, u in focus_units(question, texts, self.lexicon, titles)
            )
            if not stated:
                return f"the question asks for a figure ({m.group(0)}) the guide does not give"
        return ""

    def ask_stream(
        self,
        question: str,
        history: list[Turn] | None = None,
        k: int | None = None,
        within: str | None = None,
        temperature: float | None = None,
        generator: Generator | None = None,
    ) -> Iterator[Retrieved | Sentence | Answer]:
        """Answer `question`, yielding Retrieved, then verified Sentences, then the Answer.

        `history` lets a follow-up be understood; `within` limits retrieval to a section
        and its children; `generator` drafts with another model than the default."""
        gen = generator or self.generator
        t0 = time.perf_counter()
        q = validate_question(question, self.settings)
        standalone = standalone_query(q, history or [], self.lexicon)
        k = k or self.settings.k
        hits = self.retriever.search(standalone, k, within=within)
        retrieved = [Citation.from_hit(n, h) for n, h in enumerate(hits, start=1)]
        t_retrieved = time.perf_counter()
        yield Retrieved(q, standalone, retrieved)
        timings: dict[str, float | None] = {
            "retrieve_s": round(t_retrieved - t0, 4),
            "first_token_s": None,
            "first_sentence_s": None,
            "total_s": None,
        }
        why = self.should_abstain(standalone, hits)
        if why:
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            nearest = list(dict.fromkeys(c.section_path for c in retrieved))[:3]
            text = "The guide does not cover this."
            if nearest:
                text += " The nearest sections are: " + "; ".join(nearest) + "."
            yield Answer(
                q,
                standalone,
                text,
                True,
                [],
                [],
                retrieved,
                timings,
                gen.name,
                nearest,
                why,
            )
            return

        texts, titles = self._passages(hits)
        verifier = Verifier(
            texts, self.lexicon, self.settings.support_threshold, self.embedder, titles
        )
        shown: list[Sentence] = []
        checked: list[Sentence] = []
        usage = Usage()
        focus = question_focus(standalone, self.lexicon)

        def show(s: Sentence) -> Sentence:
            shown.append(s)
            if timings["first_sentence_s"] is None:
                timings["first_sentence_s"] = round(time.perf_counter() - t0, 4)
            return s

        # The guide's best sentence is known now, long before the model's first token:
        # it leads the answer, so the first useful, cited words come within milliseconds.
        quotes = [
            Sentence(c.text, True, c.citations, "guide", c.reason, c.evidence)
            for c in quote(standalone, texts, self.lexicon, limit=MIN_SENTENCES, titles=titles)
        ]
        if quotes:
            yield show(quotes.pop(0))

        def judge(raw: str) -> Sentence | None:
            raw = raw.strip()
            if not raw:
                return None
            c: Checked = verifier.check(raw)
            if c.supported and _NOT_A_CLAIM.search(c.text):
                c.supported, c.reason = False, "restates the question or talks about the passages"
            elif c.supported and _PRONOUN_LED.match(c.text):
                c.supported, c.reason = False, "leans on an earlier sentence (pronoun subject)"
            elif c.supported and len(c.text.split()) < MIN_WORDS:
                c.supported, c.reason = False, "a fragment, not a sentence"
            elif c.supported and not (set(content_stems(c.text)) & focus):
                c.supported, c.reason = False, "true to the guide but not about the question"
            if c.supported and any(same_claim(c.text, x.text) for x in shown):
                return None  # says again what the answer already says
            s = Sentence(c.text, c.supported, c.citations, "model", c.reason, c.evidence)
            checked.append(s)
            return show(s) if c.supported else None

        buf = ""
        gen_start = time.perf_counter()
        for piece in gen.stream(
            messages_for(standalone, hits, self.lexicon),
            self.settings.max_tokens,
            self.settings.temperature if temperature is None else temperature,
            usage,
        ):
            buf += piece
            pos = 0
            while m := _SENTENCE_END.search(buf, pos):
                sent = buf[: m.start()] + buf[m.start() : m.end()].strip()
                if _LIST_MARKER.match(sent):  # "1." opens a list item, not a sentence
                    pos = m.end()
                    continue
                buf, pos = buf[m.end() :], 0
                if (s := judge(sent)) is not None:
                    yield s
        if (s := judge(buf)) is not None:
            yield s
        if usage.first_token_s is not None:
            timings["first_token_s"] = round(gen_start - t0 + usage.first_token_s, 4)
        timings["completion_tokens"] = usage.completion_tokens
        if usage.completion_tokens > 1 and usage.decode_s > 0:
            # measured as the tokens were consumed here, verification included
            timings["decode_tok_s"] = round((usage.completion_tokens - 1) / usage.decode_s, 2)

        # too little verified: quote the guide's next best sentences
        for q_s in quotes:
            if len(shown) >= MIN_SENTENCES:
                break
            if not any(same_claim(q_s.text, x.text) or q_s.text == x.evidence for x in shown):
                yield show(q_s)
        timings["total_s"] = round(time.perf_counter() - t0, 4)
        cited = sorted({n for s in shown for n in s.citations})
        all_sentences = shown + [s for s in checked if not s.supported]
        yield Answer(
            q,
            standalone,
            " ".join(s.marked for s in shown),
            False,
            [retrieved[n - 1] for n in cited],
            all_sentences,
            retrieved,
            timings,
            gen.name,
        )

    def ask(self, question: str, **kw: Any) -> Answer:
        final = None
        for ev in self.ask_stream(question, **kw):
            if isinstance(ev, Answer):
                final = ev
        assert final is not None
        return final
