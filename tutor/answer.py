"""The question-answering pipeline: read, retrieve, decide, compose, draft, verify.

`Tutor.ask_stream` yields, in order: one `Retrieved` (the numbered passages, known
within milliseconds, before the model has said anything), the guide lines chosen for the
answer (also known then, so the first cited words come right after retrieval), each
model `Sentence` that the verifier finds supported *and* that answers the question with
something not already shown, then the final `Answer`. Text is never shown before it is
verified: streaming is per verified sentence. If the model stops mid-reply (a model
server that dies or goes silent), the sentences verified so far stay and the answer ends
with a note that it was cut off; the unfinished sentence is never judged.

The stages live in their own modules: `question.py` reads the question (subject, answer
type, shape, parts), `retrieve.py` finds one passage per section (per part for compare
and multi-part questions), `relevance.py` scores every passage sentence and decides
whether the guide answers the question at all (with weights fitted on the calibration
split), `compose.py` lays the answer out by shape, `ground.py` verifies model drafts.
When the guide does not answer, the tutor says so and names the nearest sections instead
of letting the model answer from memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from tutor.compose import Composition, compose
from tutor.config import Settings
from tutor.conversation import Turn, standalone_query
from tutor.corpus import PATH_SEP
from tutor.embed import EmbeddingModel, model_vocab
from tutor.errors import TutorError
from tutor.generate import DraftCutOff, Drafter, Usage, drafter_for, prompt_text
from tutor.ground import Lexicon, Unit, Verifier, same_claim
from tutor.index import Index
from tutor.question import (
    UNPARTED,
    AnswerTyper,
    Question,
    ask_sentence,
    contrast_clauses,
    other_vendors,
    read_question,
    subject_stems,
    unknown_names,
)
from tutor.relevance import (
    Calibration,
    Candidate,
    add_relative,
    question_features,
    sentence_features,
    weighted_share,
)
from tutor.retrieve import Hit, Retriever
from tutor.text import SentenceStream, content_stems, sentences

PROMPT_CHARS = 900  # passage text in the prompt: keeps the first token fast


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
            n=n,
            chunk_id=c.id,
            section_id=c.section_id,
            section_path=c.section_path,
            file=c.file,
            start_line=c.start_line,
            end_line=c.end_line,
            text=c.text,
            score=round(hit.score, 5),
        )


@dataclass
class Sentence:
    text: str
    supported: bool
    citations: list[int]
    source: str  # "guide" (a chosen guide line), "model" (a verified draft) or "note"
    reason: str = ""
    evidence: str | None = None
    relevance: float | None = None  # probability that it answers the question
    side: int | None = None  # compare questions: which side it belongs to (0 or 1)

    @property
    def marked(self) -> str:
        if not self.supported or not self.citations:
            return self.text
        return f"{self.text} " + "".join(f"[{n}]" for n in self.citations)


@dataclass
class Retrieved:
    """The numbered passages, before anything is shown. `lines`: how many guide lines
    follow at once (before any model call). `waits` is True when the next event waits for
    the model (no guide line was chosen), False when a guide line or the abstention
    follows at once. A page can use both to send fewer updates: under load each one
    costs server time (Gradio) that delays other sessions' first lines."""

    question: str
    standalone: str
    passages: list[Citation]
    shape: str = "fact"
    sides: tuple[str, ...] = ()
    waits: bool = False
    lines: int = 0


@dataclass
class Timings:
    """Seconds from the start of the question (first_token_s: the model's first token)."""

    retrieve_s: float | None = None
    first_sentence_s: float | None = None
    first_token_s: float | None = None
    total_s: float | None = None
    completion_tokens: int = 0
    decode_tok_s: float | None = None


@dataclass
class Answer:
    question: str
    standalone_question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    sentences: list[Sentence]
    retrieved: list[Citation]
    timings: Timings
    model: str
    nearest_sections: list[str] = field(default_factory=list)
    abstain_reason: str = ""
    shape: str = "fact"
    answer_type: str = ""
    answerable_p: float | None = None
    sides: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["retrieved"] = [
            {k: c[k] for k in ("n", "chunk_id", "section_path", "start_line", "end_line", "score")}
            for c in d["retrieved"]
        ]
        return d


@dataclass
class Analysis:
    """Everything decided before the model is asked: the read question, the passages,
    every passage sentence with its relevance, and whether the guide answers at all."""

    question: Question
    hits: list[Hit]
    candidates: list[Candidate]
    features: dict[str, float]  # question-level signals
    answerable_p: float
    vectors: dict[int, Any]  # unit row -> its embedding, for near-duplicate checks
    retrieved_at: float = 0.0  # time.perf_counter() when the passages were known


def _one_blas_thread() -> None:
    """Keep NumPy's BLAS to one thread. Its products here are tiny (a question against
    ~1,400 sentence vectors), and OpenBLAS's idle threads spin on the cores after each
    one, starving the embedder that runs next: with two threads, retrieval p95 went from
    19 ms to 116 ms on these 2 cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


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
    """Holds the loaded index and models; one per process, shared by every session.

    Questions are embedded by `embedder`, by default the index's ONNX export (no torch);
    the generator loads its model on first use or in `warm_up`."""

    def __init__(
        self,
        settings: Settings,
        index: Index,
        embedder: EmbeddingModel | None = None,
        generator: Drafter | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        _one_blas_thread()
        self.embedder = embedder or index.query_embedder()
        self.calibration = calibration or Calibration.load(settings.calibration)
        cal = self.calibration
        self.retriever = Retriever(
            index, self.embedder, cal.rrf_k, cal.whole_section, cal.memory_cos, cal.memory_weight
        )
        self.generator: Drafter = generator or drafter_for(settings)
        self.lexicon = index.lexicon
        self.typer = AnswerTyper(self.calibration.typer)
        self.vocab = model_vocab()

    def warm_up(self) -> None:
        """Load the embedder and the model (or check the model server) now, so no
        question pays for them."""
        self.embedder.embed_one("warm up")
        self.generator.warm_up()

    # -- before the model: read, retrieve, score, decide ---------------------------------

    def read(self, standalone: str) -> tuple[Question, Any, list[Any]]:
        """The question read, its embedding, and its parts' embeddings (one model call)."""
        q = read_question(standalone, self.lexicon)
        # a described comparison's two sides ("one ... the other ...") are its parts when
        # the typer reads it as a comparison; embedded with the rest, in one call
        clauses = list(contrast_clauses(standalone) or ()) if q.shape in UNPARTED else []
        texts = [standalone, *q.parts, *clauses, ask_sentence(standalone)]
        unique = list(dict.fromkeys(texts))  # a one-sentence question is its own asking part
        embedded = self.embedder.embed(unique)
        vecs = embedded[[unique.index(t) for t in texts]]
        types, quantity = self.typer.types(vecs[-1], vecs[0])
        contrast = 1.0 if q.shape == "compare" else types.get("compare", 0.0)
        q = replace(q, types=types, quantity=quantity, contrast=contrast)
        n = len(q.parts)
        parts = list(vecs[1 : 1 + n])
        if clauses and contrast >= self.calibration.contrast:
            q = replace(q, parts=tuple(clauses))
            parts = list(vecs[1 + n : -1])
        return q, vecs[0], parts

    def retrieve(
        self,
        q: Question,
        qvec: Any,
        part_vecs: list[Any],
        k: int,
        within: str | None = None,
    ) -> list[Hit]:
        """Passages for the question, and per part for compare, multi-part and described
        comparisons (with the embeddings `read` made, so nothing is embedded twice)."""
        hits = self.retriever.search(q.text, k, within, qvec=qvec)
        if q.parts:
            hits = self.retriever.search_parts(list(q.parts), k, within, hits, part_vecs, q.sides)
        return hits

    def candidates(
        self, q: Question, hits: list[Hit], qvec: Any, part_vecs: list[Any]
    ) -> tuple[list[Candidate], dict[int, Any]]:
        """Every sentence of every passage, with its relevance signals (unscored)."""
        out: list[Candidate] = []
        units: list[tuple[int, Unit, Hit]] = []
        paths: dict[int, frozenset[str]] = {}
        for n, h in enumerate(hits, start=1):
            tail = " ".join(h.chunk.section_path.split(PATH_SEP)[-2:])
            paths[n] = frozenset(content_stems(tail))
            seen: set[str] = set()
            for cid in h.chunk_ids or (h.chunk.id,):
                for u in self.index.units.get(cid, []):
                    if u.text not in seen:
                        seen.add(u.text)
                        units.append((n, u, h))
        if not units:
            return out, {}
        vecs = self.index.unit_vectors[[u.row for _, u, _ in units]]
        cos_q = vecs @ qvec
        asked = self._asked_lines(qvec, [u.row for _, u, _ in units])
        cos_parts = np.stack([vecs @ v for v in part_vecs], axis=1) if part_vecs else None
        part_subjects = [subject_stems(p, self.lexicon) for p in q.parts]
        for i, (n, u, h) in enumerate(units):
            feats, part = sentence_features(
                q,
                u,
                float(cos_q[i]),
                [float(x) for x in cos_parts[i]] if cos_parts is not None else [],
                part_subjects,
                n,
                h.dense,
                paths[n],
                self.lexicon,
                asked.get(u.row, 0.0),
            )
            out.append(Candidate(u, n, feats, part=part, path=h.chunk.section_path))
        add_relative(out, q.contrast)
        return out, {u.row: vecs[i] for i, (_, u, _) in enumerate(units)}

    def question_signals(
        self, q: Question, hits: list[Hit], cands: list[Candidate], qvec: Any = None
    ) -> dict[str, float]:
        best_subject = max(
            (
                weighted_share(
                    q.subject, frozenset(content_stems(h.chunk.embedding_text())), self.lexicon
                )
                for h in hits
            ),
            default=0.0,
        )
        words = set(content_stems(q.text))
        known = len([w for w in words if w in self.lexicon.idf]) / len(words) if words else 0.0
        return question_features(
            q,
            cands,
            max((h.dense for h in hits), default=0.0),
            best_subject,
            known,
            unknown_names(q.text, self.lexicon, self.vocab),
            other_vendors(q.text),
            len(q.parts),
            self.lexicon,
            self._asked_before(qvec),
        )

    def _asked_before(self, qvec: Any) -> float:
        """How like the question the closest learner question is (they are all answered
        by the guide): the cosine of the nearest, 0 without the memory."""
        vectors = self.index.memory_vectors
        if qvec is None or vectors is None or not len(vectors):
            return 0.0
        return float(np.max(vectors @ qvec))

    def _asked_lines(self, qvec: Any, rows: list[int]) -> dict[int, float]:
        """For each sentence row of `rows` that answers a learner question, the cosine
        of the nearest learner question it answers.

        Every learner question counts, not only those nearest the question: with the
        nearest 20 only, an exam stem's distracting details ("keeps its data lake in
        Amazon S3, runs Athena queries ... has a small Amazon RDS database") took all
        20 once the learner questions doubled (720 -> 1,498), and the line that answers
        it ("AWS Transfer Family: For ingesting data using FTP/SFTP protocols.") read
        0. Counting all of them lifted writer-held-out calibration key facts from 0.771
        to 0.784 (scenarios 0.792 -> 0.821)."""
        vectors = self.index.memory_vectors
        if qvec is None or vectors is None or not len(vectors):
            return {}
        sims = vectors @ qvec
        by = self.index.asked_by
        return {row: float(sims[by[row]].max()) for row in rows if row in by}

    def analyse(self, standalone: str, k: int, within: str | None = None) -> Analysis:
        """Read, retrieve, score every passage sentence, and decide (no model call)."""
        q, qvec, part_vecs = self.read(standalone)
        hits = self.retrieve(q, qvec, part_vecs, k, within)
        retrieved_at = time.perf_counter()
        cands, vectors = self.candidates(q, hits, qvec, part_vecs)
        cal = self.calibration
        for c in cands:
            c.p = cal.relevance.prob(c.features)
        feats = self.question_signals(q, hits, cands, qvec)
        p = cal.answerable.prob(feats) if cal.on_topic(feats) else 0.0
        return Analysis(q, hits, cands, feats, p, vectors, retrieved_at)

    # -- the whole answer ---------------------------------------------------------------

    def ask_stream(
        self,
        question: str,
        history: list[Turn] | None = None,
        k: int | None = None,
        within: str | None = None,
        temperature: float | None = None,
        generator: Drafter | None = None,
    ) -> Iterator[Retrieved | Sentence | Answer]:
        """Answer `question`, yielding Retrieved, then verified Sentences, then the Answer.

        `history` lets a follow-up be understood; `within` limits retrieval to a section
        and its children; `generator` drafts with another model than the default."""
        gen = generator or self.generator
        cal = self.calibration
        t0 = time.perf_counter()
        q_text = validate_question(question, self.settings)
        standalone = standalone_query(q_text, history or [], self.lexicon)
        a = self.analyse(standalone, k or self.settings.k, within)
        q, hits = a.question, a.hits
        retrieved = [Citation.from_hit(n, h) for n, h in enumerate(hits, start=1)]
        # retrieval ends when the passages are known; scoring them is part of answering
        timings = Timings(retrieve_s=round(a.retrieved_at - t0, 4))
        abstain = not hits or a.answerable_p < cal.answer

        def similar(x: Candidate, y: Candidate) -> float:
            vx, vy = a.vectors.get(x.unit.row), a.vectors.get(y.unit.row)
            return float(vx @ vy) if vx is not None and vy is not None else 0.0

        comp: Composition | None = (
            None if abstain else compose(q, a.candidates, cal, self.lexicon, similar)
        )
        lines = len(comp.lines) if comp is not None else 0
        waits = comp is not None and not lines
        yield Retrieved(q_text, standalone, retrieved, q.shape, q.sides, waits, lines)

        def answer(**kw: Any) -> Answer:
            timings.total_s = round(time.perf_counter() - t0, 4)
            return Answer(
                question=q_text,
                standalone_question=standalone,
                retrieved=retrieved,
                timings=timings,
                model=gen.name,
                shape=q.shape,
                answer_type=q.answer_type,
                answerable_p=round(a.answerable_p, 4),
                sides=q.sides,
                **kw,
            )

        if comp is None:
            nearest = list(dict.fromkeys(c.section_path for c in retrieved))[:3]
            text = "The guide does not cover this."
            if nearest:
                text += " The nearest sections are: " + "; ".join(nearest) + "."
            yield answer(
                answer=text,
                abstained=True,
                citations=[],
                sentences=[],
                nearest_sections=nearest,
                abstain_reason=why_abstain(a, cal),
            )
            return
        shown: list[Sentence] = []

        def show(s: Sentence) -> Sentence:
            shown.append(s)
            if timings.first_sentence_s is None:
                timings.first_sentence_s = round(time.perf_counter() - t0, 4)
            return s

        for i, c in enumerate(comp.lines):
            yield show(
                Sentence(
                    c.unit.display,
                    True,
                    [c.n],
                    "guide",
                    "a guide line that answers the question",
                    c.unit.text,
                    round(c.p, 4),
                    comp.sides[i] if comp.sides and comp.sides[i] >= 0 else None,
                )
            )
        # The model drafts next; a draft is shown only when the verifier finds it in one
        # passage sentence that is itself relevant and not already shown.
        checked: list[Sentence] = []
        by_text = {(c.n, c.unit.text): c for c in a.candidates}
        verifier = Verifier(
            [h.chunk.text for h in hits],
            self.lexicon,
            cal.support,
            self.embedder,
            [h.chunk.title for h in hits],
        )
        usage = Usage()
        gen_start = time.perf_counter()
        stream = SentenceStream()

        def complete() -> bool:
            # drafts fill an answer up to `max_lines`; a comparison's extra line
            # (`compose.line_limit`) is only ever a guide line
            return len([x for x in shown if x.source != "note"]) >= cal.max_lines

        def judge(raw: str) -> Sentence | None:
            if complete():
                return None  # more would bury the answer
            c = verifier.check(raw)
            s = Sentence(c.text, c.supported, c.citations, "model", c.reason, c.evidence)
            if c.supported:
                cand = next(
                    (
                        by_text.get((n, c.evidence or ""))
                        for n in c.citations
                        if (n, c.evidence or "") in by_text
                    ),
                    None,
                )
                s.relevance = round(cand.p, 4) if cand else None
                top = max((x.p for x in a.candidates), default=0.0)
                if cand is None or not cal.shows(cand.p, top):
                    s.supported, s.reason = (
                        False,
                        "true to the guide but does not answer the question",
                    )
                elif any(
                    x.evidence == c.evidence or same_claim(c.text, x.text) for x in shown
                ) or any(similar(cand, y) >= cal.duplicate_cos for y in comp.lines):
                    return None  # says again what the answer already shows
            checked.append(s)
            return show(s) if s.supported else None

        # Once the answer is complete no draft can be shown: the model is not asked (nor
        # loaded) when the guide lines fill it, and stops as soon as the drafts do.
        pieces = (
            gen.stream(
                messages_for(standalone, hits, self.lexicon),
                self.settings.max_tokens,
                self.settings.temperature if temperature is None else temperature,
                usage,
            )
            if not complete()
            else iter(())
        )
        cut_off: DraftCutOff | None = None
        try:
            for piece in pieces:
                for sent in stream.feed(piece):
                    if (s := judge(sent)) is not None:
                        yield s
                if complete():
                    break
        except DraftCutOff as e:
            cut_off = e  # keep what was verified; an unfinished sentence is not judged
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends the model's call (and frees its lock) when stopped early
        if cut_off is None:
            for sent in stream.flush():
                if (s := judge(sent)) is not None:
                    yield s
        if usage.first_token_s is not None:
            timings.first_token_s = round(gen_start - t0 + usage.first_token_s, 4)
        timings.completion_tokens = usage.completion_tokens
        if usage.completion_tokens > 1 and usage.decode_s > 0:
            # measured as the tokens were consumed here, verification included
            timings.decode_tok_s = round((usage.completion_tokens - 1) / usage.decode_s, 2)
        for note in comp.not_covered:
            yield show(Sentence(note, True, [], "note", "what the guide does not state"))
        if cut_off is not None:
            yield show(
                Sentence(
                    "The model's answer was cut off, so this answer may be incomplete.",
                    True,
                    [],
                    "note",
                    f"cut off: {cut_off}",
                )
            )
        cited = sorted({n for s in shown for n in s.citations})
        yield answer(
            answer=" ".join(s.marked for s in shown),
            abstained=False,
            citations=[retrieved[n - 1] for n in cited],
            sentences=shown + [s for s in checked if not s.supported],
        )

    def ask(self, question: str, **kw: Any) -> Answer:
        final = None
        for ev in self.ask_stream(question, **kw):
            if isinstance(ev, Answer):
                final = ev
        assert final is not None
        return final


def why_abstain(a: Analysis, cal: Calibration) -> str:
    """A reader's account of the strongest reason the guide was judged not to answer."""
    f = a.features
    if f["other_vendor"] > 0:
        return "the question is about another vendor's product, which the guide does not cover"
    if not cal.on_topic(f):
        return "nothing in the guide is close to what the question asks"
    if f["quantity_unstated"] + f["default_unstated"] >= 0.5:
        return "the question asks for a figure or setting that no passage about it states"
    if f["ranking_unstated"]:
        return "the question asks which option ranks higher, and no passage ranks them on that"
    if f["yesno_unstated"] >= 0.5:
        return "the question asks whether something holds, and no passage about it says"
    if f["unknown_names"] > 0 or f["known_share"] < 0.5:
        return "the question is mostly about things the guide never mentions"
    if f["best_subject"] < 0.5:
        return "no passage is about what the question asks"
    return f"no passage sentence answers it (answerability {a.answerable_p:.2f} < {cal.answer:.2f})"
