"""Sentence embeddings: one protocol (`EmbeddingModel`), two backends of the same model.

* `Embedder` (`build.py`): sentence-transformers on torch; builds the index and exports
  the model to ONNX into it (`export_query_model`).
* `OnnxEmbedder` (`query.py`): that export on ONNX Runtime; embeds questions without
  importing torch, transformers, scikit-learn or scipy.

Importing this package is cheap: each backend imports its libraries on first use.
"""

from tutor.embed.base import (
    DIM,
    MODEL_NAME,
    MODEL_PACKAGE,
    EmbeddingModel,
    model_dir,
    model_version,
    model_vocab,
)
from tutor.embed.build import Embedder, export_query_model
from tutor.embed.query import QUERY_FORMAT, OnnxEmbedder

__all__ = [
    "DIM",
    "MODEL_NAME",
    "MODEL_PACKAGE",
    "QUERY_FORMAT",
    "EmbeddingModel",
    "Embedder",
    "OnnxEmbedder",
    "export_query_model",
    "model_dir",
    "model_version",
    "model_vocab",
]
