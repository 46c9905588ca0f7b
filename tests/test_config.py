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


def test_text_settings_stay_text_and_paths_become_paths(tmp_path: Path):
    (tmp_path / "tutor.toml").write_text('llm_model = "~/models/qwen"\nmodel = "~/m.gguf"\n')
    s = load_settings(env={"TUTOR_LLM_URL": "http://127.0.0.1:8080/v1"})
    assert s.llm_model == "~/models/qwen" and s.llm_url == "http://127.0.0.1:8080/v1"
    assert s.model == Path("~/m.gguf").expanduser()
    (tmp_path / "tutor.toml").write_text("llm_model = 3\n")
    with pytest.raises(TutorError, match="'llm_model' must be a str, got 3"):
        load_settings(env={})


def test_the_cli_flag_types_come_from_the_settings():
    from tutor.cli import cli

    params = {p.name: p for p in cli.commands["ask"].params}
    assert params["llm_model"].type.name == "text"
    assert params["llm_read_timeout"].type.name == "float"
    assert params["model"].type.name == "path"


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "http://", "ftp://example.org/v1"])
def test_a_server_url_must_be_http_with_a_host(url):
    with pytest.raises(TutorError, match="is not an http"):
        load_settings(env={"TUTOR_LLM_URL": url})


def test_the_api_key_is_a_setting_that_reports_leave_out():
    s = load_settings(env={"TUTOR_LLM_API_KEY": "sk-secret"})
    assert s.llm_api_key == "sk-secret"
    assert "sk-secret" not in repr(s) and "sk-secret" not in str(s.public())
    assert "llm_api_key" not in s.public() and s.public()["k"] == 5
