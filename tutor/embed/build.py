"""The build backend: all-MiniLM-L6-v2 through sentence-transformers, and its export to ONNX.

`Embedder` embeds the guide's chunks and sentences when the index is built (and serves
wherever torch is loaded anyway, e.g. `tutor calibrate`). HF_HUB_OFFLINE is forced on
before sentence-transformers is imported; the model loads on first use, once per
`Embedder`.

`export_query_model` writes the same network as ONNX, with its tokenizer, into the index
(`index/embed/`), for `query.OnnxEmbedder`. It uses torch's TorchScript exporter (the
`dynamo=False` path of `torch.onnx.export`, which needs the `onnx` package; its
torch.export-based successor needs `onnxscript` as well) and takes ~10 s on 2 cores, so
one export is reused by every index built in the same process.

Limits: inputs longer than the model's 256 word pieces are truncated by the model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tutor.corpus import sha256_file
from tutor.embed.base import DIM, MODEL_DIST, MODEL_NAME, model_dir, model_version
from tutor.embed.query import MODEL_FILE, QUERY_DIR, QUERY_FORMAT, TOKENIZER_FILE
from tutor.errors import TutorError

if TYPE_CHECKING:
    from numpy.typing import NDArray


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class Embedder:
    """Encodes text to normalised float32 vectors with sentence-transformers (torch);
    the model loads lazily."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            _offline()
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


def _st_config() -> int:
    """The sentence-transformers configuration the export must reproduce: mean pooling
    over the word pieces, then normalisation; returns the longest input (word pieces)."""
    folder = model_dir()
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise TutorError(
            f"The model in {folder} is not Transformer → mean pooling → Normalize "
            f"({kinds}, {modes}); the ONNX query embedder cannot reproduce it."
        )
    config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config["max_seq_length"])


@cache
def _exported() -> tuple[Path, int]:
    """Export once per process into a temporary folder; (folder, max word pieces)."""
    _offline()
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    max_len = _st_config()
    folder = Path(tempfile.mkdtemp(prefix="tutor-onnx-"))
    # "eager" attention keeps the padding mask in the graph; the default SDPA path drops
    # the mask when a traced batch has no padding, which would break padded batches.
    model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.tensor([[101, 2054, 2003, 102], [101, 2054, 102, 0]])  # a padded batch
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))
    with warnings.catch_warnings(), torch.no_grad():
        # the legacy exporter's deprecation notice and the tracer's notes on shape checks
        # (the equivalence test is what vouches for the graph)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(),
            example,
            str(folder / MODEL_FILE),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
        )
    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_len)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")  # to the longest
    tok.save(str(folder / TOKENIZER_FILE))
    return folder, max_len


def export_query_model(index_dir: Path) -> dict[str, Any]:
    """Write the ONNX model and its tokenizer into `index_dir/embed/`; returns the
    manifest entry that describes them (with a sha256 per file)."""
    try:
        src, max_len = _exported()
    except ImportError as e:
        raise TutorError(
            f"Exporting the query embedder needs {e.name}: run `pip install -e .` "
            "(or `make index`)."
        ) from None
    dest = index_dir / QUERY_DIR
    dest.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in (MODEL_FILE, TOKENIZER_FILE):
        shutil.copyfile(src / name, dest / name)
        files[f"{QUERY_DIR}/{name}"] = sha256_file(dest / name)
    return {
        "format": QUERY_FORMAT,
        "runtime": "onnxruntime",
        "source": {"package": MODEL_DIST, "version": model_version()},
        "max_seq_length": max_len,
        "pooling": "mean, then L2 normalisation",
        "files": files,
    }
