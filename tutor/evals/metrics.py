"""Metric functions, pure and separately testable.

Retrieval relevance is binary: a chunk is relevant when its line range overlaps a gold
evidence span. The grounding score here is deliberately *not* the pipeline's verifier:
it judges a sentence by the longest common token subsequence (ROUGE-L precision,
unstemmed) against the passages it cites, or a high embedding similarity, so the
pipeline does not grade itself.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter

from tutor.evals.gold import Span
from tutor.text import STOPWORDS, stem

LCS_SUPPORT = 0.6  # share of a sentence's tokens found, in order, in a cited passage
COSINE_SUPPORT = 0.85


def overlaps(span: Span, file: str, start_line: int, end_line: int) -> bool:
    return span.file == file and span.start_line <= end_line and start_line <= span.end_line


def recall_at_k(relevant_flags: list[list[bool]]) -> float:
    """relevant_flags[e][r]: does retrieved chunk r cover evidence e. Share covered."""
    if not relevant_flags:
        return 0.0
    return sum(any(row) for row in relevant_flags) / len(relevant_flags)


def reciprocal_rank(rel: list[bool]) -> float:
    return next((1.0 / (i + 1) for i, r in enumerate(rel) if r), 0.0)


def ndcg_at_k(rel: list[bool], n_relevant: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(rel) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), n_relevant)))
    return dcg / ideal if ideal else 0.0


def normalise_tokens(text: str) -> list[str]:
    text = text.lower().translate(str.maketrans("", "", string.punctuation.replace("-", "")))
    return [t for t in re.split(r"[\s-]+", text) if t and t not in {"a", "an", "the"}]


def token_f1(prediction: str, reference: str) -> float:
    p, r = normalise_tokens(prediction), normalise_tokens(reference)
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if not p or not r or not same:
        return 0.0
    precision, recall = same / len(p), same / len(r)
    return 2 * precision * recall / (precision + recall)


def _stems(text: str) -> list[str]:
    return [stem(t) for t in normalise_tokens(text) if t not in STOPWORDS]


def key_fact_found(fact: str, answer: str, threshold: float = 0.8) -> bool:
    """A key fact counts when most of its content stems appear in the answer."""
    want = set(_stems(fact)) or set(normalise_tokens(fact))
    have = set(_stems(answer)) | set(normalise_tokens(answer))
    return bool(want) and len(want & have) / len(want) >= threshold


def lcs_precision(sentence: str, passage: str) -> float:
    """Share of the sentence's tokens that appear, in order, in the passage."""
    a, b = normalise_tokens(sentence), normalise_tokens(passage)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1] / len(a)


def abstention_prf(pred: list[bool], truth: list[bool]) -> tuple[float, float, float]:
    """Precision, recall, F1 of predicting 'not covered' (True) against the truth."""
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum(t and not p for p, t in zip(pred, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None
