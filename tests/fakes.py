"""Deterministic stand-ins for the two models, for unit tests of the pipeline's logic
(abstention, splitting, relevance, composition). End-to-end tests use the real models."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tutor.embed import DIM, MODEL_NAME
from tutor.generate import Usage
from tutor.text import content_stems


class FakeEmbedder:
    """Bag of stems hashed into 384 dimensions, normalised: texts that share words are
    similar, others are not. Same name as the real model, so an index built with it
    loads."""

    name = MODEL_NAME
    dim = DIM

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> Any:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for s in content_stems(t):
                h = int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "big")
                out[i, h % DIM] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out

    def embed_one(self, text: str) -> Any:
        return self.embed([text])[0]


class FakeGenerator:
    """Streams a scripted reply, a few characters at a time, like a model would."""

    name = "fake.gguf"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls = 0
        self.pieces = 0  # pieces taken by the caller
        self.closed = False  # the caller stopped before the end of the reply

    def load(self) -> None:
        return None

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        self.calls += 1
        if usage is not None:
            usage.first_token_s = 0.001
        try:
            for i in range(0, len(self.reply), 7):
                if usage is not None:
                    usage.completion_tokens += 1
                self.pieces += 1
                yield self.reply[i : i + 7]
        except GeneratorExit:
            self.closed = True
            raise
