"""Hybrid retrieval: dense (FAISS, cosine) and lexical (BM25) rankings fused by
reciprocal rank fusion.

Dense retrieval finds paraphrases; BM25 finds the exact AWS acronyms and service names
(DMS, MSK, PartiQL) that a small embedding model blurs. RRF needs no score calibration
between the two: score = sum over rankings of 1 / (RRF_K + rank).

Acronyms are expanded before searching, from the guide's own definitions ("AWS Database
Migration Service (DMS)"): the small embedding model has never learned what "DMS" means.

Each `Hit` keeps both raw scores; the cosine of the best dense hit is what the answer
stage compares with `min_relevance` to decide that the guide does not cover a question.
Limits: exhaustive search (fine for thousands of chunks, not millions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tutor.chunk import Chunk
from tutor.embed import Embedder
from tutor.index import Index
from tutor.text import bm25_tokens

RRF_K = 60
_DEFINED = re.compile(
    r"((?:[A-Z][A-Za-z-]*|for|of|and|the)(?:\s+(?:[A-Z][A-Za-z-]*|for|of|and|the)){1,7})"
    r"\s+\((?:Amazon\s+|AWS\s+)?([A-Z][A-Za-z0-9]{1,7})\)"
)
_SMALL = {"for", "of", "and", "the"}


def acronyms(texts: list[str]) -> dict[str, str]:
    """{"DMS": "Database Migration Service", ...} from "Full Name (ACR)" in the texts.

    The name is the shortest run of words before the brackets that starts with the
    acronym's first letter and whose initials hold its letters in order ("Managed
    Streaming for Apache Kafka" for MSK). One-letter acronyms ("S3") are skipped."""
    found: dict[str, str] = {}
    for t in texts:
        for m in _DEFINED.finditer(t):
            words, acr = m.group(1).split(), m.group(2)
            letters = [c for c in acr if c.isupper()]
            if len(letters) < 2:
                continue
            for start in range(len(words) - 1, -1, -1):
                run = words[start:]
                if run[0][0] != letters[0] or run[0] in _SMALL:
                    continue
                initials = iter(w[0] for w in run if w not in _SMALL)
                if all(c in initials for c in letters):
                    found.setdefault(acr, " ".join(run))
                    break
    return found


def expand(query: str, names: dict[str, str]) -> str:
    """The query with each defined acronym followed by its full name."""
    extra = [
        names[w]
        for w in dict.fromkeys(re.findall(r"\b[A-Z][A-Za-z0-9]{1,7}\b", query))
        if w in names and names[w].lower() not in query.lower()
    ]
    return f"{query} ({'; '.join(extra)})" if extra else query


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the evidence behind it."""

    chunk: Chunk
    score: float
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score
    dense_rank: int | None
    lexical_rank: int | None


class Retriever:
    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self._children: dict[str, set[str]] = {}
        for s in index.sections:
            self._children.setdefault(s["parent_id"] or "", set()).add(s["id"])
        self.acronyms = acronyms([c.text for c in index.chunks])

    def subtree(self, section_id: str) -> set[str]:
        out, todo = set(), [section_id]
        while todo:
            sid = todo.pop()
            out.add(sid)
            todo.extend(self._children.get(sid, ()))
        return out

    def search(self, query: str, k: int, within: str | None = None) -> list[Hit]:
        """Top-k chunks for the query; `within` restricts to a section and its children."""
        chunks = self.index.chunks
        n = len(chunks)
        allowed = None
        if within:
            ids = self.subtree(within)
            allowed = {i for i, c in enumerate(chunks) if c.section_id in ids}
        query = expand(query, self.acronyms)
        qv = self.embedder.embed_one(query).reshape(1, -1)
        dense_scores, dense_ids = self.index.faiss.search(qv, n)
        dense = {int(i): float(s) for i, s in zip(dense_ids[0], dense_scores[0], strict=True)}
        dense_order = [int(i) for i in dense_ids[0] if allowed is None or int(i) in allowed]

        tokens = bm25_tokens(query)
        lex = np.zeros(n, dtype=np.float32)
        if tokens:
            lex = np.asarray(self.index.bm25.get_scores(tokens), dtype=np.float32)
        lex_order = [
            int(i)
            for i in np.argsort(-lex, kind="stable")
            if lex[i] > 0 and (allowed is None or int(i) in allowed)
        ]

        fused: dict[int, float] = {}
        d_rank = {i: r for r, i in enumerate(dense_order, start=1)}
        l_rank = {i: r for r, i in enumerate(lex_order, start=1)}
        for ranks in (d_rank, l_rank):
            for i, r in ranks.items():
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r)
        best = sorted(fused, key=lambda i: (-fused[i], -dense[i]))[:k]
        return [
            Hit(chunks[i], fused[i], dense[i], float(lex[i]), d_rank.get(i), l_rank.get(i))
            for i in best
        ]
