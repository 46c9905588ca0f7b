"""The server backend against a real OpenAI-compatible server: llama.cpp's llama-server,
started by the tests on 127.0.0.1 with the packaged SmolLM2 GGUF. The faults a real
server cannot produce on cue (HTTP 500, silence, dying mid-answer) use the small fake
server in tests/fakes.py; a server that is not running is a closed port."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.fakes import FakeModelServer
from tutor.cli import cli
from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import DraftCutOff, Usage, drafter_for
from tutor.generate.llama_server import free_port
from tutor.generate.openai import ServerDrafter

QUESTIONS = ["What is AWS Lake Formation used for?", "When should I pick EMR over Glue?"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def guide_part(answer: dict[str, Any]) -> dict[str, Any]:
    """What an answer shows from the guide itself, whatever model drafted beside it."""
    guide = [s for s in answer["sentences"] if s["source"] == "guide"]
    return {
        "question": answer["question"],
        "retrieved": answer.get("retrieved"),
        "guide": guide,
        "guide_citations": sorted({n for s in guide for n in s["citations"]}),
    }


@pytest.fixture
def fake():
    servers: list[FakeModelServer] = []

    def start(mode: str, **kw: Any) -> FakeModelServer:
        servers.append(FakeModelServer(mode, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def workdir(tmp_path: Path, session_settings: Settings, built_index) -> Path:
    """The working folder holds the guide and its built index, as `tutor ask` expects."""
    shutil.copytree(session_settings.index_dir, tmp_path / "index")
    shutil.copytree(session_settings.corpus_dir, tmp_path / "corpus")
    return tmp_path


# -- the real server ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_server_backend_answers_through_the_same_pipeline(tutor, llm_server):
    server = drafter_for(tutor.settings.with_overrides(llm_url=llm_server))
    server.warm_up()
    served = httpx.get(llm_server + "/models").json()["data"][0]["id"]
    calibration = tutor.calibration
    tutor.calibration = replace(calibration, max_lines=99)  # so that the model always drafts
    try:
        for q in QUESTIONS:
            here = tutor.ask(q).to_json()
            there_answer = tutor.ask(q, generator=server)
            there = there_answer.to_json()
            assert not there["abstained"] and there_answer.timings.first_token_s is not None
            assert there["model"] == served and here["model"] == tutor.generator.name
            # the same JSON, the same guide lines with the same citations; the drafts are
            # the model's (two llama.cpp front ends need not sample the very same text)
            assert there.keys() == here.keys()
            assert guide_part(there) == guide_part(here), q
            # and the server's drafts went through the same verifier
            drafts = [s for s in there["sentences"] if s["source"] == "model"]
            assert drafts, q
            for d in drafts:
                assert (d["supported"] and d["citations"]) or (
                    not d["supported"] and d["reason"]
                ), d
    finally:
        tutor.calibration = calibration


@pytest.mark.slow
def test_usage_and_timings_come_back_from_the_server(session_settings, llm_server):
    server = drafter_for(session_settings.with_overrides(llm_url=llm_server))
    usage = Usage()
    messages = [{"role": "user", "content": "Say hello."}]
    pieces = list(server.stream(messages, 16, 0.0, usage))
    assert "".join(pieces).strip() and 0 < usage.completion_tokens <= 16
    # counted as they came, or as the server reported them (some servers report usage)
    assert usage.completion_tokens in (len(pieces), 16) and usage.prompt_tokens >= 0
    assert usage.first_token_s is not None and usage.first_token_s > 0 and usage.decode_s > 0


@pytest.mark.slow
def test_ask_json_through_the_server_matches_the_in_process_json(workdir, llm_server):
    q = "What does Amazon Kinesis Data Firehose do?"
    here = run("ask", q, "--json")
    there = run("ask", q, "--json", "--llm-url", llm_server)
    assert here.exit_code == 0 and there.exit_code == 0, there.output
    a, b = json.loads(here.output), json.loads(there.output)
    assert a.keys() == b.keys() and guide_part(a) == guide_part(b)
    assert b["model"] == httpx.get(llm_server + "/models").json()["data"][0]["id"]


@pytest.mark.slow
def test_a_wrong_model_name_shows_what_the_server_serves(workdir, llm_server):
    r = run("ask", "What is Amazon MSK?", "--llm-url", llm_server, "--llm-model", "nope-7b")
    served = httpx.get(llm_server + "/models").json()["data"][0]["id"]
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "does not serve 'nope-7b'" in r.output and served in r.output


@pytest.mark.slow
def test_chat_and_eval_accept_the_server_backend(workdir, llm_server):
    r = CliRunner().invoke(
        cli, ["chat", "--llm-url", llm_server], input="What is Amazon MSK?\n/quit\n"
    )
    assert r.exit_code == 0 and "Sources:" in r.output, r.output
    gold = workdir / "gold.jsonl"
    shutil.copy(Path(__file__).resolve().parent.parent / "evals" / "gold.jsonl", gold)
    out = workdir / "report"
    r = run("eval", "--gold", str(gold), "--limit", "2", "--out", str(out), "--llm-url", llm_server)
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "report.json").read_text())["meta"]
    assert meta["model"] == httpx.get(llm_server + "/models").json()["data"][0]["id"]
    assert meta["settings"]["llm_url"] == llm_server


# -- faults --------------------------------------------------------------------------------


def test_a_server_that_is_not_running_is_named_and_exits_non_zero():
    url = f"http://127.0.0.1:{free_port()}/v1"
    r = run("ask", "What is Amazon MSK?", "--llm-url", url)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"Cannot reach the model server at {url}" in r.output


def test_http_500_shows_the_servers_message(fake):
    server = fake("http500")
    drafter = ServerDrafter(Settings(llm_url=server.url, llm_model="fake-model"))
    with pytest.raises(TutorError, match="answered HTTP 500: fake failure: the GPU caught fire"):
        list(drafter.stream([{"role": "user", "content": "hi"}], 8, 0.0))


def test_a_model_the_server_does_not_have_shows_the_servers_error(fake):
    server = fake("no-model")
    drafter = ServerDrafter(Settings(llm_url=server.url, llm_model="nope"))
    with pytest.raises(TutorError, match="HTTP 404: The model `nope` does not exist."):
        list(drafter.stream([{"role": "user", "content": "hi"}], 8, 0.0))


def test_a_silent_server_times_out_with_a_clear_message(fake):
    server = fake("silent", delay=3.0)
    settings = Settings(llm_url=server.url, llm_model="fake-model", llm_read_timeout=0.5)
    with pytest.raises(TutorError, match=r"sent nothing for 0.5 s \(read timeout\)") as e:
        list(ServerDrafter(settings).stream([{"role": "user", "content": "hi"}], 8, 0.0))
    assert server.url in str(e.value) and not isinstance(e.value, DraftCutOff)


def test_a_server_that_dies_mid_reply_raises_cut_off_after_its_text(fake):
    server = fake("dies", pieces=("Amazon MSK is ", "managed Kafka."))
    drafter = ServerDrafter(Settings(llm_url=server.url, llm_model="fake-model"))
    got: list[str] = []
    with pytest.raises(DraftCutOff, match="closed the connection"):
        for piece in drafter.stream([{"role": "user", "content": "hi"}], 8, 0.0):
            got.append(piece)
    assert got == ["Amazon MSK is ", "managed Kafka."]


@pytest.mark.slow
def test_an_answer_cut_off_by_a_dying_server_keeps_its_verified_sentences(fake, workdir):
    server = fake("dies", pieces=("MSK runs Kafka for you. It also", " rebalances brokers"))
    r = run("ask", "What is Amazon MSK?", "--llm-url", server.url, "--json")
    assert r.exit_code == 0, r.output
    ans = json.loads(r.output)
    shown = [s for s in ans["sentences"] if s["supported"]]
    # the guide lines verified before the model was asked are all still there
    assert shown[0]["source"] == "guide" and shown[0]["citations"]
    assert shown[-1]["source"] == "note" and "cut off" in shown[-1]["text"]
    assert "closed the connection" in shown[-1]["reason"]
    # the unfinished sentence was never judged, let alone shown
    assert not any("rebalances" in s["text"] for s in ans["sentences"])
    assert ans["citations"] and not ans["abstained"]
