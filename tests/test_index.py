"""Index build, manifest, staleness and atomic writes (real embedder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tutor import __version__
from tutor.config import Settings
from tutor.corpus import sha256_file
from tutor.embed import QUERY_FORMAT, model_version
from tutor.errors import IndexCorrupt, IndexMissing, IndexStale, TutorError
from tutor.index import (
    build_index,
    check_index,
    ensure_index,
    learner_questions,
    learner_vocabulary,
    lexical_documents,
    load_index,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def small(tmp_path: Path, session_settings: Settings) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    guide = next(session_settings.corpus_dir.iterdir()).read_text(encoding="utf-8")
    # a slice of the guide keeps these tests quick
    (corpus / "guide.md").write_text("\n".join(guide.splitlines()[620:760]), encoding="utf-8")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index")


def test_manifest_describes_the_index(small, embedder):
    idx = build_index(small, embedder)
    m = json.loads((small.index_dir / "manifest.json").read_text())
    assert m["format"] == "tutor-index/6" and m["tutor_version"] == __version__
    query = m["embedding"].pop("query")
    assert m["embedding"] == {"model": embedder.name, "dim": 384, "normalized": True}
    # the question embedder's files, each with the hash of what lies on disk
    assert query["format"] == QUERY_FORMAT and query["source"]["version"] == model_version()
    assert sorted(query["files"]) == ["embed/model.onnx", "embed/tokenizer.json"]
    for rel, digest in query["files"].items():
        assert sha256_file(small.index_dir / rel) == digest
    assert m["chunker"]["chunk_size"] == small.chunk_size
    assert list(m["corpus"]) == ["guide.md"] and len(m["corpus"]["guide.md"]) == 64
    assert m["chunk_count"] == len(idx.chunks) == idx.faiss.ntotal
    lines = (small.index_dir / "chunks.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [c.id for c in idx.chunks]
    # every sentence of every chunk is embedded once, and the store says which is which
    n_units = sum(len(us) for us in idx.units.values())
    assert m["units"]["count"] == n_units == len(idx.unit_vectors)
    rows = [json.loads(x) for x in (small.index_dir / "units.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rows] == list(range(n_units))
    assert {r["chunk_id"] for r in rows} <= {c.id for c in idx.chunks}
    # the learner questions, one vector each, from the packaged file the manifest names
    asked, digest = learner_questions()
    assert m["memory"] == {
        "file": "tutor/data/learner_questions.jsonl",
        "sha256": digest,
        "count": len(asked),
        "vocabulary": {
            "file": "tutor/data/learner_vocabulary.jsonl",
            "count": len(learner_vocabulary()),
        },
    }
    assert len(idx.memory_vectors) == len(idx.memory_chunks) == len(asked) > 0


def test_learner_questions_point_at_the_chunks_holding_their_line(built_index):
    asked, _ = learner_questions()
    chunks = {c.id: c for c in built_index.chunks}
    assert all(ids for ids in built_index.memory_chunks)  # every line is in some chunk
    for r, ids in zip(asked, built_index.memory_chunks, strict=True):
        assert all(chunks[i].start_line <= r["line"] <= chunks[i].end_line for i in ids)


def test_learner_questions_point_at_the_sentences_that_answer_them(built_index):
    from tutor.text import strip_markdown

    asked, _ = learner_questions()
    text = {u.row: u.text for us in built_index.units.values() for u in us}
    assert len(built_index.memory_units) == len(asked)
    # nearly every learner question finds its sentence (an evidence span cut mid-word
    # may find none); each found sentence shares the evidence's words
    assert sum(bool(rows) for rows in built_index.memory_units) >= 0.98 * len(asked)
    for r, rows in zip(asked, built_index.memory_units, strict=True):
        ev = strip_markdown(r["evidence"]).lower()
        for row in rows:
            sentence = text[row].lower()
            assert sentence[:20] in ev or ev[:20] in sentence, (r["question"], text[row])


def test_a_chunks_lexical_document_holds_the_learner_questions_of_its_lines():
    from tutor.chunk import Chunk

    def chunk(n: int, start: int, end: int) -> Chunk:
        return Chunk(f"s#{n}", "s", "Guide › Lambda", "Lambda", "g.md", start, end, "Cold starts.")

    chunks = [chunk(0, 1, 4), chunk(1, 4, 9)]
    asked = [
        {"question": "sluggish after a quiet spell", "file": "g.md", "line": 2},
        {"question": "first call is slow", "file": "g.md", "line": 4},  # in both chunks
        {"question": "elsewhere", "file": "other.md", "line": 2},
    ]
    first, second = lexical_documents(chunks, asked)
    assert first.startswith(chunks[0].embedding_text())
    assert "sluggish after a quiet spell" in first and "first call is slow" in first
    assert "sluggish" not in second and "first call is slow" in second
    assert "elsewhere" not in first + second


def test_other_learner_questions_make_the_index_stale(small, embedder, monkeypatch):
    build_index(small, embedder)
    import tutor.index as index_module

    # the packaged file as if a line had been added since the build
    changed = index_module._learner_bytes() + b'{"question": "new", "file": "x", "line": 1}\n'
    monkeypatch.setattr(index_module, "_learner_bytes", lambda: changed)
    with pytest.raises(IndexStale, match=r"learner questions.*tutor index --rebuild"):
        check_index(small)


def test_a_learner_question_moved_between_the_two_files_makes_the_index_stale(
    small, embedder, monkeypatch
):
    build_index(small, embedder)
    import tutor.index as index_module

    files = {
        index_module.MEMORY_FILE: index_module._data_bytes(index_module.MEMORY_FILE),
        index_module.VOCABULARY_FILE: index_module._data_bytes(index_module.VOCABULARY_FILE),
    }
    first, _, rest = files[index_module.VOCABULARY_FILE].partition(b"\n")
    # the vocabulary's first question moved into the stored learner questions: the two
    # files together hold the same bytes, in the same order
    files[index_module.MEMORY_FILE] += first + b"\n"
    files[index_module.VOCABULARY_FILE] = rest
    monkeypatch.setattr(index_module, "_data_bytes", files.__getitem__)
    with pytest.raises(IndexStale, match=r"learner questions.*tutor index --rebuild"):
        check_index(small)


def test_changed_corpus_is_detected_and_rebuilt(small, embedder):
    build_index(small, embedder)
    with open(small.corpus_dir / "guide.md", "a", encoding="utf-8") as fh:
        fh.write("\n## New heading\nAmazon Foo is new.\n")
    with pytest.raises(IndexStale, match=r"corpus changed.*guide.md.*tutor index --rebuild"):
        check_index(small)
    said: list[str] = []
    idx, rebuilt = ensure_index(small, embedder, progress=said.append)
    assert rebuilt and any("rebuilding" in s for s in said)
    assert any("Amazon Foo" in c.text for c in idx.chunks)


def test_other_chunker_settings_are_detected(small, embedder):
    build_index(small, embedder)
    with pytest.raises(IndexStale, match="chunked with"):
        check_index(
            Settings(corpus_dir=small.corpus_dir, index_dir=small.index_dir, chunk_size=800)
        )


def test_missing_and_corrupt_index(small, embedder):
    with pytest.raises(IndexMissing, match="tutor index --rebuild"):
        load_index(small)
    build_index(small, embedder)
    (small.index_dir / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="unreadable.*tutor index --rebuild"):
        load_index(small)
    (small.index_dir / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="corrupt"):
        ensure_index(small, embedder)


def test_a_damaged_stale_or_missing_question_embedder_is_detected(small, embedder):
    build_index(small, embedder)
    tok = small.index_dir / "embed" / "tokenizer.json"
    tok.write_text(tok.read_text(encoding="utf-8") + " ", encoding="utf-8")
    query = load_index(small).query_embedder()  # files are checked when first used
    with pytest.raises(IndexCorrupt, match=r"embed/tokenizer.json .*tutor index --rebuild"):
        query.embed_one("What is AWS Glue?")

    mpath = small.index_dir / "manifest.json"
    m = json.loads(mpath.read_text())
    m["embedding"]["query"]["source"]["version"] = "0.0.0"  # another model package
    mpath.write_text(json.dumps(m))
    with pytest.raises(IndexStale, match="question embedder.*tutor index --rebuild"):
        check_index(small)

    build_index(small, embedder)
    (small.index_dir / "embed" / "model.onnx").unlink()
    with pytest.raises(IndexCorrupt, match=r"embed/model.onnx.*tutor index --rebuild"):
        load_index(small)


def test_failed_build_leaves_the_old_index_whole(small, embedder, monkeypatch):
    build_index(small, embedder)
    before = {p.name: p.read_bytes() for p in small.index_dir.iterdir() if p.is_file()}
    (small.corpus_dir / "bad.md").write_bytes(b"# Title\n\xff\xfe not utf-8\n")
    with pytest.raises(TutorError, match=r"bad.md is not UTF-8"):
        build_index(small, embedder)
    (small.corpus_dir / "bad.md").unlink()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("faiss.write_index", boom)
    with pytest.raises(RuntimeError):
        build_index(small, embedder)
    after = {p.name: p.read_bytes() for p in small.index_dir.iterdir() if p.is_file()}
    assert after == before
    leftovers = [p.name for p in small.index_dir.parent.iterdir() if p.name.startswith(".index")]
    assert leftovers == []
    shutil.rmtree(small.index_dir)
