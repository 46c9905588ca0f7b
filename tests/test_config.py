from __future__ import annotations

from pathlib import Path

import pytest

from tutor.config import Settings, load_settings
from tutor.errors import TutorError


def test_precedence_defaults_toml_env_cli(tmp_path: Path):
    (tmp_path / "tutor.toml").write_text("k = 6\ntemperature = 0.3\n")
    s = load_settings(env={"TUTOR_K": "7"})
    assert (s.k, s.temperature) == (7, 0.3)
    assert load_settings(env={"TUTOR_K": "7"}, k=2).k == 2


def test_defaults_without_file_or_env():
    s = load_settings(env={})
    assert s == Settings()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TUTOR_COLOUR": "red"}, "Unknown setting 'colour'"),
        ({"TUTOR_K": "many"}, "must be a int"),
        ({"TUTOR_K": "0"}, "out of range"),
        ({"TUTOR_CHUNK_OVERLAP": "900"}, "chunk_overlap must be smaller"),
    ],
)
def test_bad_settings_are_named(env, needle):
    with pytest.raises(TutorError, match=needle):
        load_settings(env=env)


def test_bad_toml_is_named(tmp_path: Path):
    (tmp_path / "tutor.toml").write_text("k = = 3")
    with pytest.raises(TutorError, match="not valid TOML"):
        load_settings(env={})


def test_model_setting_overrides_packaged_default(tmp_path: Path):
    assert load_settings(env={"TUTOR_MODEL": str(tmp_path / "m.gguf")}).gguf_path() == (
        tmp_path / "m.gguf"
    )
