"""Hybrid retrieval: dense (FAISS, cosine) and lexical (BM25) rankings fused by
reciprocal rank fusion.

Dense retrieval finds paraphrases; BM25 finds the exact AWS acronyms and service names
(DMS, MSK, PartiQL) that a small embedding model blurs, and, since each chunk's BM25
document also holds the learner questions its lines answer (`index.lexical_documents`),
the everyday words learners use for it. RRF needs no score calibration
between the two: score = sum over rankings of 1 / (rrf_k + rank), with `rrf_k` from the
calibration file (30: recall@5 0.935 on the calibration split, against 0.923 at 60).

Acronyms are expanded before searching, from the guide's own definitions ("AWS Database
Migration Service (DMS)"): the small embedding model has never learned what "DMS" means.

No two passages share a section: chunks of a section already in the top k are merged
into its passage (the section's text from its first to its last retrieved chunk), so
the k passages show k different parts of the guide. A section of at most `whole` chunks
is retrieved whole (the calibration file's `whole_section`: 2 raised recall@5 on the
calibration split from 0.940 to 0.948, as did 3 and 5; 2 keeps prompts shortest), so a
short section's answer is not cut off at a chunk boundary. `search_parts` retrieves per
sub-question (each side of a comparison, each ask of a multi-part question) and
interleaves the results, so that every part has its own passage. A compared thing that
is a section's whole title ("data lake" and the section "Data Lake") gets that section
first among its side's passages.

A fourth ranking, when the caller gives `memory_cos`, comes from the learner questions
stored in the index (`data/learner_questions.jsonl`: everyday wordings of what a guide
line answers, written from the guide, apart from the gold questions): the questions at
least `memory_cos` similar to the asked one, most similar first, rank the chunks that
hold their lines, its votes weighted by `memory_weight`. It maps a learner's words
("sluggish on the first call after a quiet spell") onto the guide's ("cold start"),
which neither the embedding nor BM25 does.

Each `Hit` keeps both raw scores of its best chunk. Limits: exhaustive search (fine for
thousands of chunks, not millions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutor.chunk import Chunk
from tutor.embed import EmbeddingModel
from tutor.index import Index
from tutor.text import bm25_tokens, content_stems

RRF_K = 30  # the default; the calibration file's `rrf_k` is what the tutor uses
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
    """A retrieved passage (one section's chunks, merged) with the scores of its best
    chunk and the evidence behind them."""

    chunk: Chunk  # the passage: merged when several chunks of one section were retrieved
    score: float
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score
    dense_rank: int | None
    lexical_rank: int | None
    chunk_ids: tuple[str, ...] = ()  # the index chunks the passage is made of
    query: str = ""  # the (sub-)question that retrieved it


def _overlap(a: str, b: str, most: int = 400) -> int:
    """Length of the longest suffix of `a` that starts `b` (the chunker's overlap)."""
    for n in range(min(len(a), len(b), most), 0, -1):
        if a.endswith(b[:n]):
            return n
    return 0


def merge_chunks(chunks: list[Chunk]) -> Chunk:
    """One passage from chunks of one section, in order, without the repeated overlap.
    Chunks between two retrieved ones are included, so the text reads continuously."""
    chunks = sorted(chunks, key=lambda c: int(c.id.rsplit("#", 1)[1]))
    text = chunks[0].text
    for c in chunks[1:]:
        text += ("\n" if not text.endswith("\n") else "") + c.text[_overlap(text, c.text) :]
    first = chunks[0]
    ordinals = "+".join(c.id.rsplit("#", 1)[1] for c in chunks)
    return Chunk(
        id=f"{first.section_id}#{ordinals}",
        section_id=first.section_id,
        section_path=first.section_path,
        title=first.title,
        file=first.file,
        start_line=first.start_line,
        end_line=max(c.end_line for c in chunks),
        text=text,
    )


class Retriever:
    def __init__(
        self,
        index: Index,
        embedder: EmbeddingModel,
        rrf_k: int = RRF_K,
        whole: int = 0,
        memory_cos: float | None = None,
        memory_weight: float = 1.0,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.whole = whole
        self.memory_cos = memory_cos
        self.memory_weight = memory_weight
        self._rows: dict[str, list[int]] = {}  # each section's chunks, in order
        for i, c in enumerate(index.chunks):
            self._rows.setdefault(c.section_id, []).append(i)
        self._children: dict[str, set[str]] = {}
        titled: dict[frozenset[str], list[str]] = {}
        for s in index.sections:
            self._children.setdefault(s["parent_id"] or "", set()).add(s["id"])
            titled.setdefault(frozenset(content_stems(s["title"])), []).append(s["id"])
        # each section by its title's words, when no other section has the same ones
        self._titled = {words: ids[0] for words, ids in titled.items() if words and len(ids) == 1}
        self.acronyms = acronyms([c.text for c in index.chunks])
        # which chunk each embedded sentence belongs to (row -> chunk position)
        position = {c.id: i for i, c in enumerate(index.chunks)}
        rows = [(u.row, position[cid]) for cid, us in index.units.items() for u in us]
        # each learner question's chunks, as positions in the index
        self._memory = [[position[c] for c in ids if c in position] for ids in index.memory_chunks]
        self._unit_chunk = np.zeros(len(rows), dtype=np.int64)
        for row, i in rows:
            self._unit_chunk[row] = i

    def subtree(self, section_id: str) -> set[str]:
        out, todo = set(), [section_id]
        while todo:
            sid = todo.pop()
            out.add(sid)
            todo.extend(self._children.get(sid, ()))
        return out

    def search(
        self, query: str, k: int, within: str | None = None, qvec: Any | None = None
    ) -> list[Hit]:
        """Top-k passages for the query, one per section; `within` restricts to a section
        and its children. `qvec` is the query's embedding when the caller has it."""
        chunks = self.index.chunks
        n = len(chunks)
        allowed = None
        if within:
            ids = self.subtree(within)
            allowed = {i for i, c in enumerate(chunks) if c.section_id in ids}
        expanded = expand(query, self.acronyms)
        if qvec is None or expanded != query:
            qvec = self.embedder.embed_one(expanded)
        query = expanded
        qv = np.asarray(qvec, dtype=np.float32).reshape(1, -1)
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
        rankings = [d_rank, l_rank]
        if self.index.unit_vectors is not None and len(self._unit_chunk):
            # a third ranking: each chunk by its single best sentence (embedded with its
            # label and section title), which matches a question worded unlike the
            # chunk as a whole but like one of its lines
            sims = self.index.unit_vectors @ qv[0]
            best = np.full(n, -1.0, dtype=np.float32)
            np.maximum.at(best, self._unit_chunk, sims)
            s_order = [
                int(i)
                for i in np.argsort(-best, kind="stable")
                if best[i] > -1 and (allowed is None or int(i) in allowed)
            ]
            rankings.append({i: r for r, i in enumerate(s_order, start=1)})
        weights = [1.0] * len(rankings)
        if self.memory_cos is not None and self._memory:
            rankings.append(self._memory_ranks(qv[0], allowed))
            weights.append(self.memory_weight)
        for weight, ranks in zip(weights, rankings, strict=True):
            for i, r in ranks.items():
                fused[i] = fused.get(i, 0.0) + weight / (self.rrf_k + r)
        ranked = sorted(fused, key=lambda i: (-fused[i], -dense[i]))
        # one passage per section: the best chunk leads, and the section's other chunks
        # among the top 3k join it (merged) instead of taking a place of their own
        by_section: dict[str, list[int]] = {}
        for i in ranked[: 3 * k]:
            sid = chunks[i].section_id
            if sid in by_section or len(by_section) < k:
                by_section.setdefault(sid, []).append(i)
        for i in ranked[3 * k :]:
            if len(by_section) >= k:
                break
            by_section.setdefault(chunks[i].section_id, []).append(i)
        hits = []
        for members in by_section.values():
            i = members[0]
            rows = self._rows[chunks[i].section_id]
            if len(rows) <= self.whole:
                members = [i, *(j for j in rows if j != i)]
            passage = chunks[i] if len(members) == 1 else merge_chunks(self._span(members))
            hits.append(
                Hit(
                    passage,
                    fused[i],
                    dense[i],
                    float(lex[i]),
                    d_rank.get(i),
                    l_rank.get(i),
                    tuple(chunks[j].id for j in self._span(members, ids=True)),
                    query,
                )
            )
        return hits

    def _memory_ranks(self, qv: Any, allowed: set[int] | None, most: int = 15) -> dict[int, int]:
        """Chunks ranked by the learner questions like the asked one: the most similar
        question's chunks first, down to `memory_cos`, at most `most` chunks."""
        sims = self.index.memory_vectors @ qv
        ranks: dict[int, int] = {}
        for j in np.argsort(-sims, kind="stable"):
            if sims[j] < self.memory_cos or len(ranks) >= most:
                break
            for i in self._memory[j]:
                if i not in ranks and (allowed is None or i in allowed):
                    ranks[i] = len(ranks) + 1
        return ranks

    def _span(self, members: list[int], ids: bool = False) -> list[Any]:
        """The chunks of one section from the first to the last of `members`."""
        chunks = self.index.chunks
        lo, hi = min(members), max(members)
        # chunks of a section are consecutive in the index, in order
        span = list(range(lo, hi + 1))
        return span if ids else [chunks[j] for j in span]

    def search_parts(
        self,
        parts: list[str],
        k: int,
        within: str | None = None,
        first: list[Hit] | None = None,
        vecs: list[Any] | None = None,
        names: tuple[str, ...] = (),
    ) -> list[Hit]:
        """Passages for the whole question (`first`) and each sub-question, interleaved
        (the whole question's best, part 1's best, part 2's best, then the second best of
        each, ...), one per section, k in all. `vecs` are the parts' embeddings, when the
        caller has them. `names` are what each part is about (a comparison's sides): a
        part whose name is a section's whole title gets that section first. Fixes "data
        lake vs data warehouse", whose data-lake side retrieved four Lake Formation
        sections (the learner questions about them say "data lake") and never the
        section "Data Lake" that defines it."""
        vecs = vecs if vecs is not None and len(vecs) == len(parts) else [None] * len(parts)
        per = [self.search(p, k, within, qvec=v) for p, v in zip(parts, vecs, strict=True)]
        for i, name in enumerate(names[: len(parts)]):
            sid = self._titled.get(frozenset(content_stems(name)))
            if sid is None or (within and sid not in self.subtree(within)):
                continue
            if not per[i] or per[i][0].chunk.section_id != sid:
                own = self.search(parts[i], 1, sid, qvec=vecs[i])
                per[i] = own + [h for h in per[i] if h.chunk.section_id != sid]
        out: list[Hit] = []
        seen: set[str] = set()
        for rank in range(k):
            for hits in [first or [], *per]:
                if rank < len(hits) and hits[rank].chunk.section_id not in seen:
                    seen.add(hits[rank].chunk.section_id)
                    out.append(hits[rank])
        return out[:k]
