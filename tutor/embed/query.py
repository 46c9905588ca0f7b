"""The query backend: all-MiniLM-L6-v2 through ONNX Runtime, without torch.

A question needs one small forward pass, yet importing sentence-transformers (torch,
transformers, scikit-learn, scipy) took 9-12 s of a cold `tutor ask` on 2 cores.
`OnnxEmbedder` runs the same network, exported to ONNX when the index was built
(`build.export_query_model`, into `index/embed/`), with the `tokenizers` library's
WordPiece tokenizer saved beside it. Mean pooling over the attention mask and L2
normalisation are done here in NumPy, as sentence-transformers does them.

The files are checked against the sha256 the manifest records when they are loaded
(first use), so a damaged export fails with the command that fixes it. Thread-safe: an
ONNX Runtime session and a tokenizer serve concurrent callers.

Limits: inputs longer than 256 word pieces are truncated, as in sentence-transformers;
float32 on CPU only.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tutor.embed.base import DIM, MODEL_NAME
from tutor.errors import IndexCorrupt

if TYPE_CHECKING:
    from numpy.typing import NDArray

QUERY_DIR = "embed"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# names what the export and this module agree on (inputs, output, pooling done here);
# change it whenever either side changes, and older indexes are rebuilt
QUERY_FORMAT = "minilm-onnx/1"
REBUILD = "tutor index --rebuild"


class OnnxEmbedder:
    """Encodes text to normalised float32 vectors with ONNX Runtime; loads lazily."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, index_dir: Path, files: dict[str, str]) -> None:
        """`files`: path relative to `index_dir` -> sha256, from the index manifest."""
        self.index_dir = index_dir
        self.files = files
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _read(self, name: str) -> bytes:
        rel = f"{QUERY_DIR}/{name}"
        try:
            data = (self.index_dir / rel).read_bytes()
        except OSError:
            data = b""
        if rel not in self.files or hashlib.sha256(data).hexdigest() != self.files[rel]:
            raise IndexCorrupt(
                f"The query embedder {self.index_dir}/{rel} is missing or does not match "
                f"the index manifest: run `{REBUILD}`."
            )
        return data

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                opts = ort.SessionOptions()
                opts.log_severity_level = 3  # errors only
                # idle pool threads would spin on the cores the language model needs next
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(
                    self._read(MODEL_FILE), opts, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_str(self._read(TOKENIZER_FILE).decode("utf-8"))
                self._loaded = (session, tokenizer)
        return self._loaded

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> NDArray[Any]:
        """One normalised row per text. Texts are batched by length, as
        sentence-transformers does, so that padding stays short; `progress` is ignored."""
        session, tokenizer = self._load()
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            enc = tokenizer.encode_batch([texts[i] for i in rows])
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            (hidden,) = session.run(
                ["last_hidden_state"],
                {
                    "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": mask,
                    "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
                },
            )
            out[rows] = mean_pool(hidden, mask)
        return out

    def embed_one(self, text: str) -> NDArray[Any]:
        return self.embed([text])[0]


def mean_pool(hidden: NDArray[Any], mask: NDArray[Any]) -> NDArray[Any]:
    """sentence-transformers' mean pooling then `Normalize`: the average of the token
    vectors the mask keeps (padding left out), scaled to unit length."""
    m = mask[..., None].astype(np.float32)
    summed = (hidden * m).sum(axis=1)
    vecs = summed / np.clip(m.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return (vecs / np.clip(norms, 1e-12, None)).astype(np.float32)
