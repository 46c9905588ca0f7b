"""Run gold questions through the same pipeline as `tutor ask` and score them.

`score_question` turns one `Answer` into per-question metrics; `summarise` aggregates
them (overall and by kind). Citation precision and the grounding rate are micro-averages
over all citations / shown sentences; the other rates are means over questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tutor.answer import Answer, Tutor
from tutor.conversation import Turn
from tutor.evals.gold import Corpus, GoldItem, Span
from tutor.evals.metrics import (
    COSINE_SUPPORT,
    LCS_SUPPORT,
    abstention_prf,
    key_fact_found,
    lcs_precision,
    mean,
    ndcg_at_k,
    overlaps,
    percentile,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)
from tutor.text import sentences

SUMMARY_KEYS = {
    "retrieval": ("recall_at_k", "mrr", "ndcg_at_k"),
    "citation": ("precision", "recall"),
    "grounding": ("supported_rate", "answers_fully_supported"),
    "answer": ("key_fact_recall", "token_f1"),
    "abstention": ("precision", "recall", "f1"),
    "latency": ("first_token_p50_s", "total_p50_s"),
}


@dataclass
class Scorer:
    """What scoring needs besides the answer: evidence locations and an embedder."""

    corpus: Corpus
    chunk_lines: dict[str, tuple[str, int, int]]  # chunk id -> file, start, end
    embed: Callable[[list[str]], Any] | None = None

    def relevant_chunks(self, spans: list[Span]) -> int:
        return sum(
            any(overlaps(s, f, a, b) for s in spans) for f, a, b in self.chunk_lines.values()
        )

    def supported(self, sentence: str, passages: list[str]) -> tuple[bool, float, float]:
        """Independent check: ROUGE-L precision, else embedding similarity."""
        lcs = max((lcs_precision(sentence, p) for p in passages), default=0.0)
        cos = 0.0
        if lcs < LCS_SUPPORT and self.embed is not None and passages:
            units = [u for p in passages for u in sentences(p)] or passages
            vecs = self.embed([sentence, *units])
            cos = float(np.max(vecs[1:] @ vecs[0]))
        return lcs >= LCS_SUPPORT or cos >= COSINE_SUPPORT, round(lcs, 3), round(cos, 3)


def score_question(g: GoldItem, ans: Answer, scorer: Scorer, k: int) -> dict[str, Any]:
    by_evidence = [scorer.corpus.locate(e) for e in g.evidence]
    spans = [s for found in by_evidence for s in found]
    retrieved = ans.retrieved[:k]

    def covers(c: Any, evidence_spans: list[Span]) -> bool:
        return any(overlaps(s, c.file, c.start_line, c.end_line) for s in evidence_spans)

    rel = [covers(c, spans) for c in retrieved]
    rec: dict[str, Any] = {
        "id": g.id,
        "kind": g.kind,
        "style": g.style,
        "batch": g.batch,
        "split": g.split,
        "history": list(g.history),
        "shape": ans.shape,
        "answer_type": ans.answer_type,
        "answerable_p": ans.answerable_p,
        "question": g.question,
        "reference": g.answer,
        "answer": ans.answer,
        "abstained": ans.abstained,
        "abstain_reason": ans.abstain_reason,
        "standalone_question": ans.standalone_question,
        "retrieved": [c.chunk_id for c in ans.retrieved],
        "retrieved_sections": [c.section_path for c in ans.retrieved],
        "citations": [
            {
                "n": c.n,
                "chunk_id": c.chunk_id,
                "section_path": c.section_path,
                "start_line": c.start_line,
                "end_line": c.end_line,
            }
            for c in ans.citations
        ],
        "gold_section": g.section,
        "gold_evidence": g.evidence,
        "timings": asdict(ans.timings),
    }
    m: dict[str, Any] = {}
    if g.answerable:
        m["recall_at_k"] = recall_at_k([[covers(c, sp) for c in retrieved] for sp in by_evidence])
        m["rr"] = reciprocal_rank(rel)
        m["ndcg_at_k"] = ndcg_at_k(rel, scorer.relevant_chunks(spans))
        m["first_relevant_rank"] = next((i + 1 for i, r in enumerate(rel) if r), None)
        m["key_fact_recall"] = (
            sum(key_fact_found(f, ans.answer) for f in g.key_facts) / len(g.key_facts)
            if not ans.abstained
            else 0.0
        )
        m["token_f1"] = token_f1(ans.answer, g.answer) if not ans.abstained else 0.0
        m["evidence_cited"] = sum(any(covers(c, sp) for c in ans.citations) for sp in by_evidence)
        m["evidence_total"] = len(by_evidence)
    by_n = {c.n: c for c in ans.citations}
    # notes ("The guide does not say: ...") cite nothing and claim nothing about the
    # guide's text: they are counted apart, not judged for support
    shown = [s for s in ans.sentences if s.supported and s.source != "note"]
    rec["notes"] = [s.text for s in ans.sentences if s.source == "note"]
    judged = []
    cite_total = cite_ok = 0
    for s in shown:
        cited = [by_n[n] for n in s.citations if n in by_n]
        ok, lcs, cos = scorer.supported(s.text, [c.text for c in cited])
        judged.append(
            {
                "text": s.text,
                "source": s.source,
                "citations": s.citations,
                "eval_supported": ok,
                "lcs": lcs,
                "cos": cos,
            }
        )
        for c in cited:
            cite_total += 1
            cite_ok += covers(c, spans) or scorer.supported(s.text, [c.text])[0]
    rec["sentences"] = judged
    rec["dropped"] = [
        {"text": s.text, "reason": s.reason} for s in ans.sentences if not s.supported
    ]
    m["shown"] = len(judged)
    m["shown_supported"] = sum(j["eval_supported"] for j in judged)
    m["citations"] = cite_total
    m["citations_ok"] = cite_ok
    m["abstention_correct"] = ans.abstained == (not g.answerable)
    rec["metrics"] = m
    return rec


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary block: exactly the keys of SUMMARY_KEYS, plus n_questions."""
    ans = [r for r in records if r["kind"] != "unanswerable"]
    answered = [r for r in records if not r["abstained"]]

    def avg(key: str, rows: list[dict[str, Any]]) -> float | None:
        v = mean([r["metrics"][key] for r in rows if r["metrics"].get(key) is not None])
        return None if v is None else round(v, 4)

    def ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    p, r, f = abstention_prf(
        [x["abstained"] for x in records], [x["kind"] == "unanswerable" for x in records]
    )
    firsts = [
        x["timings"]["first_token_s"]
        for x in records
        if x["timings"].get("first_token_s") is not None
    ]
    totals = [x["timings"]["total_s"] for x in records if x["timings"].get("total_s") is not None]
    shown = sum(x["metrics"]["shown"] for x in answered)
    return {
        "n_questions": len(records),
        "retrieval": {
            "recall_at_k": avg("recall_at_k", ans),
            "mrr": avg("rr", ans),
            "ndcg_at_k": avg("ndcg_at_k", ans),
        },
        "citation": {
            "precision": ratio(
                sum(x["metrics"]["citations_ok"] for x in records),
                sum(x["metrics"]["citations"] for x in records),
            ),
            "recall": ratio(
                sum(x["metrics"].get("evidence_cited", 0) for x in ans),
                sum(x["metrics"].get("evidence_total", 0) for x in ans),
            ),
        },
        "grounding": {
            "supported_rate": ratio(sum(x["metrics"]["shown_supported"] for x in answered), shown),
            "answers_fully_supported": ratio(
                sum(x["metrics"]["shown_supported"] == x["metrics"]["shown"] for x in answered),
                len(answered),
            ),
        },
        "answer": {
            "key_fact_recall": avg("key_fact_recall", ans),
            "token_f1": avg("token_f1", ans),
        },
        "abstention": {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)},
        "latency": {
            "first_token_p50_s": _round(percentile(firsts, 0.5)),
            "total_p50_s": _round(percentile(totals, 0.5)),
        },
    }


def risk_coverage(records: list[dict[str, Any]]) -> dict[str, Any]:
    """How the answerability score behaves at every threshold, not just the chosen one.

    Questions are sorted by `answerable_p`, highest first; answering the top n gives a
    coverage (n / all) and a precision (the share of those n the guide does answer).
    Reported: the area under precision-vs-coverage, the coverage reachable at precision
    0.9, and the curve at tenths of coverage."""
    scored = sorted(
        (r for r in records if r.get("answerable_p") is not None),
        key=lambda r: -r["answerable_p"],
    )
    if not scored:
        return {}
    good = 0
    points = []
    for n, r in enumerate(scored, start=1):
        good += r["kind"] != "unanswerable"
        points.append((n / len(scored), good / n))
    area = sum(p for _, p in points) / len(points)
    at_90 = max((c for c, p in points if p >= 0.9), default=0.0)
    curve = {
        f"{t / 10:.1f}": round(next(p for c, p in points if c >= t / 10 - 1e-9), 3)
        for t in range(1, 11)
    }
    return {
        "area": round(area, 4),
        "coverage_at_precision_0.9": round(at_90, 4),
        "precision_at_coverage": curve,
    }


def latency_detail(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """p50/p95 of every timing the answers carry (beyond the summary's two)."""
    out: dict[str, float | None] = {}
    for key in ("retrieve_s", "first_token_s", "first_sentence_s", "total_s"):
        xs = [r["timings"][key] for r in records if r["timings"].get(key) is not None]
        out[f"{key[:-2]}_p50_s"] = _round(percentile(xs, 0.5))
        out[f"{key[:-2]}_p95_s"] = _round(percentile(xs, 0.95))
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def by_kind(records: list[dict[str, Any]]) -> dict[str, Any]:
    return by_field(records, "kind")


def by_field(records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The summary for each value of `key` ("kind", "style", "split", "batch")."""
    values = sorted({r[key] for r in records})
    return {v: summarise([r for r in records if r[key] == v]) for v in values}


def run_eval(
    tutor: Tutor,
    gold: list[GoldItem],
    corpus: Corpus,
    k: int,
    progress: Callable[[GoldItem], None] | None = None,
) -> list[dict[str, Any]]:
    scorer = Scorer(
        corpus,
        {c.id: (c.file, c.start_line, c.end_line) for c in tutor.index.chunks},
        lambda texts: tutor.embedder.embed(texts),
    )
    records = []
    for g in gold:
        ans = tutor.ask(g.question, k=k, history=[Turn(h, h) for h in g.history])
        records.append(score_question(g, ans, scorer, k))
        if progress:
            progress(g)
    return records
