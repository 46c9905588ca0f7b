"""Hybrid retrieval with the real embedder: the right section is in the top 5."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

CASES = [
    ("When should I pick EMR over Glue?", "6. Choosing Between AWS Glue and Amazon EMR"),
    (
        "Which service migrates databases to AWS with minimal downtime?",
        "Comparing data storage methods",
    ),
    (
        "How do I give another AWS account access to my S3 bucket?",
        "Example of Cross-Account Access",
    ),
    ("What is the difference between RBAC and ABAC?", "Authorisation Models in AWS: RBAC and ABAC"),
    (
        "How can I hide sensitive columns from some Redshift users?",
        "1. Dynamic Data Masking (DDM) in Amazon Redshift",
    ),
    ("What does MSK stand for and what is it used for?", "Data streams services on AWS"),
    (
        "How do I keep Glue Data Catalog partitions in sync with S3?",
        "3. Synchronising Partitions with Data Catalog",
    ),
    ("What is PartiQL used for?", "Running SQL Queries on AWS Database Services"),
    ("Why is columnar storage better for analytics?", "Row-based and columnar data storage"),
    (
        "How should a Lambda function retry failed records?",
        "7. Handling Failures and Retry Strategies",
    ),
    ("How do I detect and fix data skew?", "Addressing Data Skew"),
    ("What is key salting?", "3. Key Salting"),
    ("How does CloudTrail Lake centralise logs?", "Centralised Logging with CloudTrail Lake"),
]


@pytest.mark.parametrize(("question", "section"), CASES)
def test_right_section_in_top_5(tutor, question, section):
    hits = tutor.retriever.search(question, 5)
    paths = [h.chunk.section_path for h in hits]
    assert any(p.split(" › ")[-1] == section or f"› {section} ›" in p for p in paths), paths


def test_scoped_search_stays_inside_the_section(tutor, built_index):
    task = next(s for s in built_index.sections if s["title"].startswith("4.3 "))
    hits = tutor.retriever.search("How are keys managed?", 4, within=task["id"])
    assert hits and all(h.chunk.section_path.startswith(task["path"]) for h in hits)


def test_a_short_section_is_retrieved_whole_and_sections_never_repeat(tutor, built_index):
    from tutor.retrieve import Retriever

    rows: dict[str, list[str]] = {}
    for c in built_index.chunks:
        rows.setdefault(c.section_id, []).append(c.id)
    two = {sid for sid, ids in rows.items() if len(ids) == 2}
    question = "Why is columnar storage better for analytics?"
    for whole in (0, 2):
        r = Retriever(built_index, tutor.embedder, tutor.retriever.rrf_k, whole)
        hits = r.search(question, 5)
        assert len({h.chunk.section_id for h in hits}) == len(hits) == 5
        for h in hits:
            if whole and h.chunk.section_id in two:
                assert list(h.chunk_ids) == rows[h.chunk.section_id]  # both chunks, in order
    # the tutor retrieves whole short sections (the calibration's `whole_section`)
    assert tutor.retriever.whole == tutor.calibration.whole_section == 2
    hits = tutor.retriever.search(question, 5)
    assert any(h.chunk.section_id in two and len(h.chunk_ids) == 2 for h in hits)


def test_learner_questions_bring_in_the_passage_their_words_point_at(tutor, built_index):
    from tutor.index import learner_questions
    from tutor.retrieve import Retriever

    plain = Retriever(built_index, tutor.embedder, tutor.calibration.rrf_k)
    remembering = Retriever(built_index, tutor.embedder, tutor.calibration.rrf_k, memory_cos=0.5)
    asked, _ = learner_questions()
    found = {True: 0, False: 0}
    for r, ids in list(zip(asked, built_index.memory_chunks, strict=True))[::10]:
        want = {i.rsplit("#", 1)[0] for i in ids}
        for retriever, key in ((plain, False), (remembering, True)):
            hits = retriever.search(r["question"], 5)
            found[key] += bool(want & {h.chunk.section_id for h in hits})
    # a question worded like a stored one finds the section that answers it more often
    assert found[True] > found[False]


def test_learner_words_let_bm25_find_the_passage_they_point_at(built_index):
    """The second round of learner questions is only in the BM25 documents: searched with
    BM25 alone, its questions find their chunk more often than in the chunks' own text."""
    from tutor.index import _bm25s, learner_vocabulary, memory_rows
    from tutor.text import bm25_tokens

    chunks = built_index.chunks
    plain = _bm25s().BM25()
    plain.index([bm25_tokens(c.embedding_text()) for c in chunks], show_progress=False)
    rows = learner_vocabulary()[::10]
    found = {"plain": 0, "expanded": 0}
    for r, ids in zip(rows, memory_rows(chunks, rows), strict=True):
        for name, bm25 in (("plain", plain), ("expanded", built_index.bm25)):
            scores = bm25.get_scores(bm25_tokens(r["question"]))
            top = sorted(range(len(chunks)), key=lambda i: -scores[i])[:5]
            found[name] += bool(set(ids) & {chunks[i].id for i in top})
    assert found["expanded"] > found["plain"] + len(rows) // 4, found


def test_a_question_like_a_learner_question_is_marked_as_asked_before(tutor):
    from tutor.index import learner_questions

    asked, _ = learner_questions()
    stored = tutor.embedder.embed_one(asked[0]["question"])
    elsewhere = tutor.embedder.embed_one("How long should I proof a sourdough loaf?")
    # the stored question itself (embedded by the ONNX export, not the build's model)
    assert tutor._asked_before(stored) > 0.99
    assert tutor._asked_before(elsewhere) < 0.6
    assert tutor._asked_before(None) == 0.0


def test_the_sentence_a_learner_question_points_at_is_marked_as_asked(tutor, built_index):
    from tutor.index import learner_questions

    asked, _ = learner_questions()
    i = next(i for i, rows in enumerate(built_index.memory_units) if rows)
    q = tutor.embedder.embed_one(asked[i]["question"])
    rows = list(range(len(built_index.unit_vectors)))
    lines = tutor._asked_lines(q, rows)
    # the stored question's own sentence, at (nearly) cosine 1; others lower or absent
    assert all(lines[row] > 0.99 for row in built_index.memory_units[i])
    others = [v for row, v in lines.items() if row not in built_index.memory_units[i]]
    assert others and all(v < 0.99 for v in others)
    # only the rows asked for, and only those some learner question asks about
    asked_rows = {row for rs in built_index.memory_units for row in rs}
    assert set(lines) == asked_rows
    assert tutor._asked_lines(None, rows) == {}


def test_a_compared_thing_that_is_a_sections_title_gets_that_section(tutor):
    q, qvec, part_vecs = tutor.read("data lake vs data warehouse")
    assert q.sides == ("data lake", "data warehouse")
    titles = [h.chunk.section_path.split(" › ")[-1] for h in tutor.retrieve(q, qvec, part_vecs, 5)]
    # without the title, the lake side retrieved Lake Formation sections only
    plain = tutor.retriever.search_parts(list(q.parts), 5, None, None, part_vecs)
    assert "Data Lake" not in [h.chunk.section_path.split(" › ")[-1] for h in plain]
    assert "Data Lake" in titles and "Data Warehouse" in titles
