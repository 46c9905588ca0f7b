"""Build, save and load the self-describing index under `index/`.

Files: `manifest.json` (format tag, embedding model and dimension, chunker parameters,
sha256 of every corpus file, chunk count, tutor version, build time, and the quiz bank's
count, sha256 and builder), `chunks.jsonl` (human-readable, one chunk per line, FAISS
row i = line i), `index.faiss` (normalised vectors, inner product), `bm25/` (the bm25s
lexical index over the same chunks, each with the learner questions its lines answer),
`quiz.jsonl` (the practice item bank, one item a line; see tutor/quiz/items.py), `embed/`
(the embedding model exported to ONNX with its tokenizer, which embeds questions without
torch; the manifest records its format, source package version and the sha256 of each
file), and `memory.jsonl` with `memory.npy`: the learner questions of
`data/learner_questions.jsonl` (each the everyday wording of a question a guide line
answers), embedded, with the chunks that hold their line and the rows of the sentences
that answer them (see `retrieve.py` and `relevance.py`). The manifest records the sha256
of both learner files: that one and `data/learner_vocabulary.jsonl`, whose questions
only join the BM25 documents. An index without a bank of the current builder, or built
from other learner questions, is stale and rebuilt.

A build writes into a temporary sibling folder and renames it into place, so an
interrupted build never leaves a half-written index. `load_index` refuses an index that
does not match the corpus, the embedding model, the chunker settings or this format,
and says which command fixes it.

Loading imports nothing of the build side (no torch, no sentence-transformers, no
LangChain, no SciPy): it is on the path of every `tutor ask`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tutor import __version__
from tutor.chunk import Chunk, chunk_sections
from tutor.config import Settings
from tutor.corpus import Section, corpus_files, load_corpus, sha256_file
from tutor.embed import (
    MODEL_NAME,
    QUERY_FORMAT,
    Embedder,
    EmbeddingModel,
    OnnxEmbedder,
    model_version,
)
from tutor.errors import IndexCorrupt, IndexMissing, IndexStale, TutorError
from tutor.ground import Lexicon, Unit, split_units
from tutor.quiz.items import BANK_FILE, BUILDER, build_bank, write_bank
from tutor.text import bm25_tokens, strip_markdown, words

FORMAT = "tutor-index/6"
REBUILD = "tutor index --rebuild"
FILES = (
    "manifest.json",
    "chunks.jsonl",
    "index.faiss",
    "sections.json",
    "units.jsonl",
    "units.npy",
    "quiz.jsonl",
    "memory.jsonl",
    "memory.npy",
    "embed/model.onnx",
    "embed/tokenizer.json",
)


@dataclass
class Index:
    """Everything retrieval needs, loaded from disk.

    `units[chunk_id]` are the chunk's sentences (with label and title context) and
    `unit_vectors[u.row]` their embeddings, computed at build time so that scoring every
    candidate sentence against a question costs one matrix product, not a model call."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    sections: list[dict[str, Any]]
    faiss: Any
    bm25: Any
    path: Path
    units: dict[str, list[Unit]] = field(default_factory=dict)
    unit_vectors: Any = None
    corpus_dir: Path | None = None  # the guide it was built from (the quiz bank reads it)
    # learner questions: each one's embedding, the ids of the chunks holding its line, and
    # the rows of the sentences that answer it
    memory_vectors: Any = None
    memory_chunks: list[tuple[str, ...]] = field(default_factory=list)
    memory_units: list[tuple[int, ...]] = field(default_factory=list)

    @cached_property
    def asked_by(self) -> dict[int, Any]:
        """For each sentence row that answers a learner question, the indices (into
        `memory_vectors`) of the learner questions it answers."""
        out: dict[int, list[int]] = {}
        for j, rows in enumerate(self.memory_units):
            for row in rows:
                out.setdefault(row, []).append(j)
        return {row: np.asarray(js) for row, js in out.items()}

    @cached_property
    def lexicon(self) -> Lexicon:
        return Lexicon.from_texts([c.embedding_text() for c in self.chunks])

    def query_embedder(self) -> OnnxEmbedder:
        """The light embedder for questions: the model exported into this index."""
        return OnnxEmbedder(self.path, self.manifest["embedding"]["query"]["files"])


def _bm25s() -> Any:
    """bm25s, imported without SciPy. bm25s imports scipy.sparse only if it can, to
    offer a second way of building its matrix; the tutor uses its NumPy way (the default,
    `csc_backend="numpy"`), and SciPy cost ~1 s of a cold `tutor ask`. A `None` entry in
    `sys.modules` makes that one import fail; it is removed right after."""
    if "bm25s" not in sys.modules and "scipy.sparse" not in sys.modules:
        sys.modules["scipy.sparse"] = None  # type: ignore[assignment]
        try:
            import bm25s
        finally:
            del sys.modules["scipy.sparse"]
    import bm25s

    return bm25s


def chunk_units(chunks: list[Chunk], lexicon: Lexicon) -> dict[str, list[Unit]]:
    """Each chunk's sentences as verifier units, numbered by row in the vector store."""
    out: dict[str, list[Unit]] = {}
    row = 0
    for c in chunks:
        units = split_units([c.text], [c.title], lexicon)
        out[c.id] = [replace(u, row=row + i) for i, u in enumerate(units)]
        row += len(units)
    return out


def unit_embedding_text(title: str, u: Unit) -> str:
    """What a sentence is embedded as: its section title and the sentence with its label."""
    return f"{title}: {u.shown}"


MEMORY_FILE = "learner_questions.jsonl"
VOCABULARY_FILE = "learner_vocabulary.jsonl"


def _data_bytes(name: str) -> bytes:
    return resources.files("tutor").joinpath("data", name).read_bytes()


def _learner_bytes() -> bytes:
    """Both learner question files, as the index digests them: each file's own digest,
    so a question moved from one file to the other (from BM25 words only into the
    stored learner questions) makes the index stale, as the plain concatenation of the
    two files did not."""
    return b"".join(hashlib.sha256(_data_bytes(f)).digest() for f in (MEMORY_FILE, VOCABULARY_FILE))


def _rows(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in raw.decode("utf-8").splitlines() if x.strip()]


def learner_questions() -> tuple[list[dict[str, Any]], str]:
    """The packaged learner questions ({"question", "file", "line", "evidence"} rows) and
    the sha256 of both learner files. Written apart from the gold questions, by hand, from
    the guide: 720 by four writers, section by section, then 778 by eight more for the
    lines that had fewer than two questions (one or two each, one of them setting the
    line against its other side). The second part lowered the calibration writers the
    pipeline was designed on (writer-held-out key facts 0.818 -> 0.799) and lifted the
    four newest writers' (fresh set 8, never used before: 0.692 -> 0.731, comparisons
    0.620 -> 0.696); it is kept because it generalises."""
    return _rows(_data_bytes(MEMORY_FILE)), learner_digest()


def learner_vocabulary() -> list[dict[str, Any]]:
    """A second round of learner questions, by four more writers, in the same rows. They
    are only words: each is added to the BM25 document of the chunk holding its line, as
    the first round's are. As stored questions of their own (the memory ranking) they
    did not help: calibration recall@5 0.959 with both rounds against 0.962 with the
    first; as BM25 words beside the first round's, 0.942 -> 0.960."""
    return _rows(_data_bytes(VOCABULARY_FILE))


def learner_digest() -> str:
    """The sha256 of the packaged learner questions, without parsing them (`check_index`
    runs before every answer)."""
    return hashlib.sha256(_learner_bytes()).hexdigest()


def lexical_documents(chunks: list[Chunk], asked: list[dict[str, Any]]) -> list[str]:
    """Each chunk's BM25 document: its text and the learner questions its lines answer.

    The learners' words for a passage ("sluggish on the first hit after a quiet spell")
    are not in its text ("cold start"); indexed with it, they let BM25 match a question
    worded like them (document expansion, as in doc2query). Calibration recall@5
    0.942 -> 0.960, conversational questions 0.916 -> 0.957. Limit: a chunk is found by
    the learners' words only if some learner question was written for one of its lines."""
    extra: dict[str, list[str]] = {}
    for r, ids in zip(asked, memory_rows(chunks, asked), strict=True):
        for cid in ids:
            extra.setdefault(cid, []).append(r["question"])
    return [" ".join([c.embedding_text(), *extra.get(c.id, [])]) for c in chunks]


def memory_rows(chunks: list[Chunk], rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """For each learner question, the ids of the chunks that hold its guide line."""
    return [
        tuple(
            c.id for c in chunks if c.file == r["file"] and c.start_line <= r["line"] <= c.end_line
        )
        for r in rows
    ]


def _tokens(text: str) -> str:
    return " " + " ".join(words(strip_markdown(text))) + " "


def memory_units(
    units: dict[str, list[Unit]], asked_chunks: list[tuple[str, ...]], rows: list[dict[str, Any]]
) -> list[tuple[int, ...]]:
    """For each learner question, the rows of the sentences that answer it: the
    sentences of its chunks that hold its evidence, or that its evidence holds (an
    evidence span may run over two sentences)."""
    out = []
    for r, ids in zip(rows, asked_chunks, strict=True):
        ev = _tokens(r.get("evidence", ""))
        found = []
        if len(ev.split()) >= 3:  # a shorter evidence span would match by chance
            for u in (u for cid in ids for u in units.get(cid, [])):
                text = _tokens(u.text)
                if ev in text or (len(text.split()) >= 4 and text in ev):
                    found.append(u.row)
        out.append(tuple(dict.fromkeys(found)))
    return out


def _manifest(
    settings: Settings,
    embedder: EmbeddingModel,
    chunks: list[Chunk],
    n_units: int,
    query: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "tutor_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedding": {
            "model": embedder.name,
            "dim": embedder.dim,
            "normalized": True,
            "query": query,
        },
        "chunker": _chunker(settings),
        "lexical": {
            "library": "bm25s",
            "tokenizer": "tutor.text.bm25_tokens",
            "documents": "chunk text and the learner questions its lines answer",
        },
        "corpus": {p.name: sha256_file(p) for p in corpus_files(settings.corpus_dir)},
        "chunk_count": len(chunks),
        "units": {
            "count": n_units,
            "splitter": "tutor.text.sentences",
            "embedded_as": "title: label: sentence",
        },
    }


def _chunker(settings: Settings) -> dict[str, Any]:
    return {
        "splitter": "RecursiveCharacterTextSplitter",
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }


def _section_json(s: Section) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "path": s.path_str,
        "file": s.file,
        "depth": s.depth,
        "parent_id": s.parent_id,
        "start_line": s.start_line,
        "end_line": s.end_line,
        "text": s.text,
    }


def build_index(
    settings: Settings,
    embedder: EmbeddingModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> Index:
    """Parse, chunk, embed and write the index atomically; returns it loaded.

    The query embedder is always the real model's ONNX export (see `tutor.embed.build`),
    whichever `embedder` embeds the chunks: tests pass a fake one."""
    import faiss

    from tutor.embed import export_query_model

    bm25s = _bm25s()
    say = progress or (lambda _msg: None)
    embedder = embedder or Embedder()
    files = load_corpus(settings.corpus_dir)
    sections = [s for f in files for s in f.sections]
    chunks = chunk_sections(sections, settings.chunk_size, settings.chunk_overlap)
    say(f"parsed {len(files)} file(s): {len(sections)} sections, {len(chunks)} chunks")
    vectors = embedder.embed([c.embedding_text() for c in chunks], progress=progress is not None)
    if vectors.shape[1] != embedder.dim:
        raise TutorError(f"Embedding model gave dimension {vectors.shape[1]}, not {embedder.dim}.")
    flat = faiss.IndexFlatIP(embedder.dim)
    flat.add(vectors)
    asked, asked_sha = learner_questions()
    vocabulary = learner_vocabulary()
    documents = lexical_documents(chunks, asked + vocabulary)
    lexical = bm25s.BM25()
    lexical.index([bm25_tokens(d) for d in documents], show_progress=False)
    lexicon = Lexicon.from_texts([c.embedding_text() for c in chunks])
    units = chunk_units(chunks, lexicon)
    by_id = {c.id: c for c in chunks}
    unit_rows = [(cid, u) for cid, us in units.items() for u in us]
    say(f"embedding {len(unit_rows)} guide sentences")
    unit_vecs = embedder.embed([unit_embedding_text(by_id[cid].title, u) for cid, u in unit_rows])
    asked_chunks = memory_rows(chunks, asked)
    asked_units = memory_units(units, asked_chunks, asked)
    say(f"embedding {len(asked)} learner questions")
    asked_vecs = (
        embedder.embed([r["question"] for r in asked])
        if asked
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    manifest = _manifest(settings, embedder, chunks, len(unit_rows), {})
    manifest["memory"] = {
        "file": f"tutor/data/{MEMORY_FILE}",
        "sha256": asked_sha,
        "count": len(asked),
        "vocabulary": {"file": f"tutor/data/{VOCABULARY_FILE}", "count": len(vocabulary)},
    }
    section_rows = [_section_json(s) for s in sections]
    built = Index(
        manifest,
        chunks,
        section_rows,
        flat,
        lexical,
        settings.index_dir,
        units,
        unit_vecs,
        settings.corpus_dir,
    )
    bank = build_bank(built, embedder)
    say(f"built the quiz item bank: {len(bank)} items")

    target = settings.index_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; an index is ordinary data
        faiss.write_index(flat, str(tmp / "index.faiss"))
        lexical.save(str(tmp / "bm25"))
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
        with open(tmp / "units.jsonl", "w", encoding="utf-8") as fh:
            for cid, u in unit_rows:
                fh.write(json.dumps({"chunk_id": cid, "row": u.row, "text": u.text}) + "\n")
        np.save(tmp / "units.npy", unit_vecs.astype(np.float32))
        with open(tmp / "memory.jsonl", "w", encoding="utf-8") as fh:
            for r, ids, rows in zip(asked, asked_chunks, asked_units, strict=True):
                row = {"question": r["question"], "chunks": ids, "units": rows}
                fh.write(json.dumps(row) + "\n")
        np.save(tmp / "memory.npy", np.asarray(asked_vecs, dtype=np.float32))
        say("exporting the embedding model for questions (ONNX)")
        query = export_query_model(tmp)
        (tmp / "sections.json").write_text(
            json.dumps(section_rows, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        manifest["embedding"]["query"] = query
        manifest["quiz"] = write_bank(bank, tmp / BANK_FILE)
        # the manifest goes last: a folder without it is never taken for an index
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"wrote {target}/")
    return load_index(settings)


def check_index(settings: Settings) -> dict[str, Any]:
    """The manifest, if the index on disk matches the corpus and settings; else raise."""
    where = settings.index_dir
    mpath = where / "manifest.json"
    if not mpath.exists():
        raise IndexMissing(f"No index in {where}/: build it with `{REBUILD}` (or `make run`).")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexCorrupt(f"{mpath} is corrupt: rebuild with `{REBUILD}`.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexStale(
            f"Index format {got!r} is not {FORMAT!r} (built by another tutor version): "
            f"rebuild with `{REBUILD}`."
        )
    if manifest.get("embedding", {}).get("model") != MODEL_NAME:
        raise IndexStale(
            f"Index was embedded with {manifest.get('embedding', {}).get('model')!r}, "
            f"not {MODEL_NAME!r}: rebuild with `{REBUILD}`."
        )
    query = manifest["embedding"].get("query") or {}
    source = query.get("source", {}).get("version")
    if query.get("format") != QUERY_FORMAT or source != model_version():
        raise IndexStale(
            f"The index's question embedder ({query.get('format')!r}, model package "
            f"{source!r}) is not {QUERY_FORMAT!r} for the installed model package "
            f"{model_version()!r}: rebuild with `{REBUILD}`."
        )
    if manifest.get("chunker") != _chunker(settings):
        raise IndexStale(
            f"Index was chunked with {manifest.get('chunker')}, settings ask for "
            f"{_chunker(settings)}: rebuild with `{REBUILD}`."
        )
    current = {p.name: sha256_file(p) for p in corpus_files(settings.corpus_dir)}
    if manifest.get("corpus") != current:
        was = set(manifest.get("corpus", {}))
        changed = sorted(
            n for n in set(current) | was if current.get(n) != manifest.get("corpus", {}).get(n)
        )
        raise IndexStale(
            f"The corpus changed since the index was built ({', '.join(changed)}): "
            f"rebuild with `{REBUILD}`."
        )
    if manifest.get("memory", {}).get("sha256") != learner_digest():
        raise IndexStale(
            f"The learner questions ({MEMORY_FILE}) changed since the index was built: "
            f"rebuild with `{REBUILD}`."
        )
    if not isinstance(manifest.get("quiz"), dict) or manifest["quiz"].get("builder") != BUILDER:
        raise IndexStale(
            f"The index has no quiz item bank of builder {BUILDER!r}: rebuild with `{REBUILD}`."
        )
    missing = [f for f in FILES if not (where / f).exists()] + (
        [] if (where / "bm25").is_dir() else ["bm25/"]
    )
    if missing:
        raise IndexCorrupt(
            f"Index files missing in {where}/: {', '.join(missing)}; run `{REBUILD}`."
        )
    return manifest


def load_index(settings: Settings) -> Index:
    import faiss

    bm25s = _bm25s()
    manifest = check_index(settings)
    where = settings.index_dir
    try:
        with open(where / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [Chunk(**json.loads(line)) for line in fh if line.strip()]
        sections = json.loads((where / "sections.json").read_text(encoding="utf-8"))
        vectors = faiss.read_index(str(where / "index.faiss"))
        lexical = bm25s.BM25.load(str(where / "bm25"))
        unit_vectors = np.load(where / "units.npy")
        memory_vectors = np.load(where / "memory.npy")
        with open(where / "memory.jsonl", encoding="utf-8") as fh:
            memory = [json.loads(x) for x in fh if x.strip()]
        memory_chunks = [tuple(m["chunks"]) for m in memory]
        memory_units = [tuple(m["units"]) for m in memory]
    except Exception as e:  # any unreadable file means the same thing to the user
        raise IndexCorrupt(
            f"Index in {where}/ is unreadable ({type(e).__name__}): run `{REBUILD}`."
        ) from None
    if len(chunks) != manifest.get("chunk_count") or vectors.ntotal != len(chunks):
        raise IndexCorrupt(
            f"Index in {where}/ is inconsistent ({len(chunks)} chunks, {vectors.ntotal} "
            f"vectors, manifest says {manifest.get('chunk_count')}): run `{REBUILD}`."
        )
    index = Index(
        manifest, chunks, sections, vectors, lexical, where, corpus_dir=settings.corpus_dir
    )
    # units are rebuilt from the chunk text (deterministic), and checked against the store
    index.units = chunk_units(chunks, index.lexicon)
    n_units = sum(len(us) for us in index.units.values())
    if n_units != manifest.get("units", {}).get("count") or len(unit_vectors) != n_units:
        raise IndexCorrupt(
            f"Index in {where}/ has {len(unit_vectors)} sentence vectors for {n_units} "
            f"sentences: run `{REBUILD}`."
        )
    index.unit_vectors = unit_vectors
    if len(memory_chunks) != manifest["memory"].get("count") or len(memory_vectors) != len(
        memory_chunks
    ):
        raise IndexCorrupt(
            f"Index in {where}/ has {len(memory_vectors)} learner question vectors for "
            f"{len(memory_chunks)} questions: run `{REBUILD}`."
        )
    index.memory_vectors = memory_vectors
    index.memory_chunks = memory_chunks
    index.memory_units = memory_units
    return index


def ensure_index(
    settings: Settings,
    embedder: EmbeddingModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Index, bool]:
    """Load the index, rebuilding it when it was never built or is stale; (index, rebuilt).

    A damaged index (manifest present, files missing or unreadable) is not rebuilt
    silently: `IndexCorrupt` propagates with the command that fixes it.
    """
    try:
        return load_index(settings), False
    except (IndexMissing, IndexStale) as why:
        if progress:
            progress(f"{why.args[0].split(':')[0]}; rebuilding the index")
        return build_index(settings, embedder, progress), True
