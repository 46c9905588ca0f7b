"""The query backend (ONNX Runtime) gives the vectors the build backend
(sentence-transformers) gives: the same model, exported into the index at build time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tutor.embed.query import mean_pool
from tutor.evals.gold import load_gold
from tutor.index import unit_embedding_text

REPO = Path(__file__).resolve().parent.parent
SAME = 0.999  # least cosine between the two backends' vectors for one text


def test_mean_pool_leaves_padding_out_and_normalises():
    hidden = np.array([[[3.0, 4.0], [9.0, 9.0]], [[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)
    mask = np.array([[1, 0], [1, 1]])
    out = mean_pool(hidden, mask)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.5**0.5, 0.5**0.5]], rtol=1e-6)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.slow
def test_same_vectors_for_every_chunk_and_sentence_of_the_index(built_index):
    """The index's vectors were made by sentence-transformers; the ONNX export must
    reproduce them, since questions embedded one way are compared with the other."""
    query = built_index.query_embedder()
    stored = built_index.faiss.reconstruct_n(0, built_index.faiss.ntotal)
    chunks = query.embed([c.embedding_text() for c in built_index.chunks])
    cos = _cosines(stored, chunks)
    assert len(cos) == len(built_index.chunks) > 300
    assert cos.min() >= SAME, f"chunk {built_index.chunks[int(cos.argmin())].id}: {cos.min()}"
    np.testing.assert_allclose(np.linalg.norm(chunks, axis=1), 1.0, atol=1e-5)

    rows = sorted(
        ((c.title, u) for c in built_index.chunks for u in built_index.units[c.id]),
        key=lambda tu: tu[1].row,
    )
    units = query.embed([unit_embedding_text(t, u) for t, u in rows])
    cos = _cosines(built_index.unit_vectors, units)
    assert len(cos) == len(built_index.unit_vectors)
    assert cos.min() >= SAME, f"sentence row {int(cos.argmin())}: {cos.min()}"


@pytest.mark.slow
def test_same_vectors_for_every_gold_question(built_index, embedder):
    questions = [g.question for g in load_gold(REPO / "evals" / "gold.jsonl")]
    cos = _cosines(embedder.embed(questions), built_index.query_embedder().embed(questions))
    assert len(cos) == len(questions) > 400
    assert cos.min() >= SAME, f"{questions[int(cos.argmin())]!r}: {cos.min()}"


@pytest.mark.slow
def test_batching_does_not_change_a_vector(built_index):
    """Short and long texts share a padded batch; each must come out as it does alone."""
    query = built_index.query_embedder()
    texts = ["What is AWS Glue?", "word " * 400, "", "Ünïcödé café — résumé (S3)"]
    together = query.embed(texts, batch_size=4)
    alone = np.stack([query.embed_one(t) for t in texts])
    assert _cosines(together, alone).min() >= 0.99999
