"""Drafting text with a language model: one protocol, two backends.

A `Drafter` has a name (the model's, as the JSON output reports it), a warm-up, and
`stream(messages, max_tokens, temperature, usage)`, which yields the reply piece by piece
and fills a `Usage` with token counts and timings. `drafter_for(settings)` is the only
place that knows the backends:

- `llama_cpp.py`: llama-cpp-python in this process, with a GGUF file (the default; it
  needs nothing but the packaged SmolLM2 model);
- `openai.py`: any server that speaks the OpenAI chat-completions API (llama.cpp's
  `llama-server`, vLLM, Ollama, LM Studio), chosen with `--llm-url`.

A backend that cannot draft at all raises a `TutorError` that names the cause (a missing
GGUF, a server that cannot be reached, an HTTP error with the server's own message). One
that stops after text has arrived raises `DraftCutOff`: the pipeline keeps the sentences it
has verified so far and says the answer was cut off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from tutor.config import Settings
from tutor.errors import TutorError


def prompt_text(name: str) -> str:
    return resources.files("tutor").joinpath("prompts", name).read_text(encoding="utf-8")


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_s: float | None = None  # from the start of the call
    decode_s: float = 0.0  # from the first token to the last


def timed(pieces: Iterable[str], usage: Usage, t0: float | None = None) -> Iterator[str]:
    """The non-empty pieces, counted into `usage` with the time to the first (from `t0`,
    default now) and from the first to the last."""
    t0 = time.perf_counter() if t0 is None else t0
    first = None
    for piece in pieces:
        if not piece:
            continue
        if first is None:
            first = time.perf_counter()
            usage.first_token_s = first - t0
        usage.completion_tokens += 1
        yield piece
    if first is not None:
        usage.decode_s = time.perf_counter() - first


class DraftCutOff(TutorError):
    """The model stopped in the middle of its reply (the server died, the connection
    broke, or it went silent for longer than the read timeout)."""


class Drafter(Protocol):
    """What the pipeline needs from a model: a name, a warm-up, and streamed text."""

    @property
    def name(self) -> str: ...

    def check(self) -> None:
        """Fail now, cheaply, if drafting cannot work (a server that is down or does not
        serve the model asked for); loads nothing big."""
        ...

    def warm_up(self) -> None:
        """Make the first question fast: load the model, or check the server answers."""
        ...

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        """Yield the reply text piece by piece; fill `usage` as it goes."""
        ...


def drafter_for(settings: Settings) -> Drafter:
    """The backend the settings ask for: a server when `llm_url` is set, else the GGUF.

    Cheap: it checks the settings (a GGUF that is missing or not a GGUF fails here) but
    loads nothing and calls no server; `warm_up` does that."""
    if settings.llm_url:
        from tutor.generate.openai import ServerDrafter

        return ServerDrafter(settings)
    from tutor.generate.llama_cpp import LlamaCppDrafter

    return LlamaCppDrafter(settings)
