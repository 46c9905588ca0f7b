"""Serving a class: models by name (never a path), a cap on loaded models, logins, a
per-session limit on questions in progress, a warning when exposed without logins, and
answers that do not wait for another session's model call."""

from __future__ import annotations

import html
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client

from tests.test_web import text_of
from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate.llama_server import free_port
from tutor.generate.models import Models
from tutor.web.app import SessionLimit, exposure_warning, logins


class Named:
    """A stand-in drafter: a name and a warm-up that may fail (no model is run here)."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.warmed = name, fail, 0

    def warm_up(self) -> None:
        if self.fail:
            raise TutorError(f"llama.cpp could not load /srv/secret/{self.name}")
        self.warmed += 1


def folder_of_models(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    for n in names:
        (d / n).write_bytes(b"GGUF" + bytes(16))
    (d / "notes.txt").write_text("not a model")
    return d


def make_from_path(made: list[str], broken: tuple[str, ...] = ()):
    def make(s: Settings) -> Named:
        assert s.model is not None and s.llm_url is None  # a folder GGUF runs in-process
        made.append(s.model.name)
        return Named(s.model.name, fail=s.model.name in broken)

    return make


def test_the_page_offers_the_default_and_the_folders_gguf_files_by_name(tmp_path):
    d = folder_of_models(tmp_path, "b.gguf", "a.gguf", "default.gguf")
    models = Models(Settings(models_dir=d), Named("default.gguf"), make_from_path([]))
    assert models.names() == ["default.gguf", "a.gguf", "b.gguf"]  # the default once, first
    assert models.get("").name == "default.gguf" and models.get(None).name == "default.gguf"
    assert Models(Settings(), Named("x.gguf")).names() == ["x.gguf"]


def test_no_message_reveals_whether_a_server_path_exists(tmp_path):
    d = folder_of_models(tmp_path, "a.gguf")
    models = Models(Settings(models_dir=d), Named("default.gguf"), make_from_path([]))
    real, missing = str(d / "a.gguf"), str(tmp_path / "nothing-here.gguf")
    messages = []
    for asked in (real, missing, "/etc/passwd", "../models/a.gguf", "nope"):
        with pytest.raises(TutorError) as e:
            models.get(asked)
        messages.append(str(e.value).replace(repr(asked[:80]), "NAME"))
    assert len(set(messages)) == 1, messages  # the same words whatever the path
    assert "is not one of this tutor's models" in messages[0]
    assert not any(w in messages[0] for w in ("exist", "not a file", "cannot be read", "GGUF"))


def test_a_model_that_fails_to_load_does_not_leak_its_path(tmp_path):
    d = folder_of_models(tmp_path, "bad.gguf")
    models = Models(
        Settings(models_dir=d), Named("default.gguf"), make_from_path([], broken=("bad.gguf",))
    )
    with pytest.raises(TutorError) as e:
        models.get("bad.gguf")
    assert "could not be loaded" in str(e.value) and "/srv" not in str(e.value)
    assert str(d) not in str(e.value)


def test_loaded_models_are_capped_least_recently_used_first(tmp_path):
    d = folder_of_models(tmp_path, "a.gguf", "b.gguf", "c.gguf")
    made: list[str] = []
    models = Models(
        Settings(models_dir=d, max_loaded_models=2), Named("default.gguf"), make_from_path(made)
    )
    a = models.get("a.gguf")
    models.get("b.gguf")
    assert models.get("a.gguf") is a and made == ["a.gguf", "b.gguf"]  # reused, not reloaded
    models.get("c.gguf")  # b is now the least recently used
    assert models.loaded() == ["a.gguf", "c.gguf"]
    models.get("b.gguf")
    assert made == ["a.gguf", "b.gguf", "c.gguf", "b.gguf"] and models.loaded() == [
        "c.gguf",
        "b.gguf",
    ]


def test_a_models_dir_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(TutorError, match="is not a folder"):
        Models(Settings(models_dir=tmp_path / "none"), Named("d.gguf"))


def test_a_session_may_have_only_so_many_questions_in_progress():
    limit = SessionLimit(1)
    assert limit.enter("s1") and not limit.enter("s1")  # the second waits for the first
    assert limit.enter("s2")  # another session is not affected
    limit.leave("s1")
    assert limit.enter("s1") and limit.in_progress("s1") == 1
    assert all(limit.enter(None) for _ in range(5))  # code, not a browser: not limited


def test_logins_come_from_the_environment_setting_and_a_file(tmp_path):
    f = tmp_path / "logins"
    f.write_text("# the class\nana:s3cret\n\nben:pa:ss\n")
    s = Settings(auth="tea:cher", auth_file=f)
    assert logins(s) == [("tea", "cher"), ("ana", "s3cret"), ("ben", "pa:ss")]
    assert logins(Settings()) == []
    f.write_text("ana:s3cret\njustaname\n")
    with pytest.raises(TutorError) as e:
        logins(Settings(auth_file=f))
    assert "line 2" in str(e.value) and "s3cret" not in str(e.value)
    with pytest.raises(TutorError, match="Cannot read the logins file"):
        logins(Settings(auth_file=tmp_path / "missing"))


def test_serving_beyond_loopback_without_logins_is_warned_about():
    assert exposure_warning("127.0.0.1", False, False) is None
    assert exposure_warning("localhost", False, False) is None
    assert "without logins" in (exposure_warning("0.0.0.0", False, False) or "")
    assert "share link" in (exposure_warning("127.0.0.1", True, False) or "")
    assert exposure_warning("0.0.0.0", True, True) is None


def test_serve_refuses_a_malformed_logins_file_before_serving(tmp_path):
    from tutor.cli import cli

    bad = tmp_path / "logins"
    bad.write_text("nopassword\n")
    r = CliRunner().invoke(cli, ["serve", "--auth-file", str(bad), "--port", "1"])
    assert r.exit_code != 0 and "is not user:password" in r.output
    assert "Traceback" not in r.output


# -- the real page ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_path_typed_into_the_page_is_refused_by_name(web_url, tmp_path):
    client = Client(web_url, verbose=False)
    real = tmp_path / "real.gguf"
    real.write_bytes(b"GGUF" + bytes(16))
    said = []
    for path in (str(real), str(tmp_path / "missing.gguf")):
        job = client.submit("What is key salting?", [], 5, path, 0.0, api_name="/ask")
        chat, _, _, _ = job.result()
        said.append(html.unescape(text_of(chat[-1])))
    for msg in said:
        assert "is not one of this tutor's models" in msg and "exist" not in msg


@pytest.mark.slow
def test_guide_lines_appear_while_another_answer_holds_the_model(web_url, tutor):
    """Three sessions ask while the model is busy (its lock held here, as a long answer
    would): each must show a cited guide sentence before the model is free again."""
    lock = tutor.generator.lock
    calibration = tutor.calibration
    tutor.calibration = replace(calibration, max_lines=99)  # every answer wants the model
    lock.acquire()
    try:
        jobs = [
            Client(web_url, verbose=False).submit(q, [], 5, "", 0.0, api_name="/ask")
            for q in ("What is key salting?", "What does AWS DMS do?", "What is PartiQL?")
        ]
        seen = [False] * len(jobs)
        deadline = time.monotonic() + 120
        while not all(seen) and time.monotonic() < deadline:
            for i, job in enumerate(jobs):
                for out in job.outputs():
                    if out and out[0] and 'href="#cite-1-' in text_of(out[0][-1]):
                        seen[i] = True
            time.sleep(0.1)
        assert all(seen), seen
        assert not any(job.done() for job in jobs)  # they are waiting for the model
    finally:
        lock.release()
        tutor.calibration = calibration
    for job in jobs:
        chat, _, _, _ = job.result()
        assert "Sources:" in text_of(chat[-1])


@pytest.mark.slow
def test_the_page_can_require_a_login(session_settings, tutor):
    from tutor.web.app import build_app, launch

    app = build_app(session_settings, tutor=tutor)
    port = free_port()
    launch(app, port=port, block=False, auth=[("ana", "s3cret")])
    url = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's own error types vary
            Client(url, verbose=False)
        client = Client(url, verbose=False, auth=("ana", "s3cret"))
        chat, _, _, _ = client.predict("What is key salting?", [], 5, "", 0.0, api_name="/ask")
        assert "Sources:" in text_of(chat[-1])
    finally:
        app.close()


@pytest.mark.slow
def test_a_second_question_from_one_session_waits_for_the_first(web_url, tutor):
    """A session that already has a question in progress gets a message, not a place in
    line (the limit is per browser session; here one gradio_client is one session)."""
    lock = tutor.generator.lock
    calibration = tutor.calibration
    tutor.calibration = replace(calibration, max_lines=99)
    client = Client(web_url, verbose=False)
    lock.acquire()
    try:
        first = client.submit("What is key salting?", [], 5, "", 0.0, api_name="/ask")
        deadline = time.monotonic() + 60
        while not first.outputs() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = client.submit("What is PartiQL?", [], 5, "", 0.0, api_name="/ask")
        chat, _, _, _ = second.result(timeout=60)
        assert "still being answered" in text_of(chat[-1])
    finally:
        lock.release()
        tutor.calibration = calibration
    chat, _, _, _ = first.result()
    assert "Sources:" in text_of(chat[-1])
