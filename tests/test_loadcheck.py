"""The load check's own logic: its summary figures, its backend guard, and its reading of
the page's real streamed output (one session, one question each; no timings asserted)."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from tutor import loadcheck
from tutor.loadcheck import Backend, BackendRun, Request


def test_summary_counts_outcomes_and_takes_percentiles_of_what_was_measured():
    run = BackendRun(Backend("in-process", {}), sessions=2, questions_per_session=3)
    run.wall_s = 10.0
    run.requests = [
        Request(0, "a", "answered", first_sentence_s=0.1, total_s=1.0),
        Request(0, "b", "answered", first_sentence_s=0.3, total_s=3.0),
        Request(0, "c", "abstained", total_s=2.0),
        Request(1, "a", "answered", first_sentence_s=0.2, total_s=4.0),
        Request(1, "b", "error", detail="AppError"),
        # the session's third question never came back at all: lost
    ]
    s = run.summary()
    assert s["load_sessions"] == 2 and s["load_questions"] == 6
    assert s["first_sentence_measured"] == 3  # the abstention has no cited sentence
    assert s["load_first_sentence_p50_s"] == 0.2
    assert s["load_first_sentence_p95_s"] == 0.3
    assert s["load_total_p50_s"] in (2.0, 3.0) and s["load_total_p95_s"] == 4.0
    assert (s["answered"], s["abstained"], s["errors"], s["lost"]) == (3, 1, 1, 1)
    assert s["throughput_qps"] == 0.4  # 4 final answers in 10 s
    json.dumps(s)  # JSON-ready


def test_a_run_with_nothing_measured_has_no_percentiles():
    s = BackendRun(Backend("server", {"llm_url": "x"}), 1, 1, skipped="no").summary()
    assert s["load_first_sentence_p95_s"] is None and s["throughput_qps"] is None
    assert s["lost"] is None and "skipped" in loadcheck.table([s])


def test_settings_that_reject_a_backend_skip_it_with_their_message():
    reason = loadcheck.check_backend(Backend("odd", {"no_such_setting": 1}), env={})
    assert reason is not None and "no_such_setting" in reason
    assert loadcheck.check_backend(Backend("in-process", {}), env={}) is None


def test_the_server_backend_is_configured_only_with_a_url():
    assert [b.name for b in loadcheck.backends(None, "m")] == ["in-process"]
    server = loadcheck.backends("http://127.0.0.1:8080/v1", "qwen")[1]
    assert server.overrides == {"llm_url": "http://127.0.0.1:8080/v1", "llm_model": "qwen"}


def test_sizes_come_from_flags_or_the_environment():
    args = loadcheck.parse_args([], {"LOADCHECK_SESSIONS": "4", "TUTOR_LLM_URL": "http://h/v1"})
    assert (args.sessions, args.questions, args.llm_url) == (4, 3, "http://h/v1")
    assert loadcheck.parse_args(["--sessions", "2"], {}).sessions == 2
    with pytest.raises(SystemExit):
        loadcheck.parse_args([], {"LOADCHECK_SESSIONS": "0"})


@pytest.mark.slow
def test_the_first_cited_sentence_is_found_in_the_pages_streamed_updates(web_url):
    client = Client(web_url, verbose=False)
    req, chat = loadcheck.ask(client, 0, "What is key salting?", [], k=5)
    assert req.outcome == "answered", req
    assert req.first_sentence_s is not None and req.total_s is not None
    assert req.first_sentence_s <= req.total_s
    final = loadcheck.message_text(chat[-1])
    assert loadcheck.has_cited_sentence(final) and "Sources:" in final
    # a follow-up in the same session reuses the returned chat
    req2, chat2 = loadcheck.ask(client, 0, "and how is it different from data masking?", chat, k=5)
    assert req2.outcome in ("answered", "abstained") and len(chat2) == len(chat) + 2


@pytest.mark.slow
def test_an_abstention_is_a_final_answer_without_a_cited_sentence(web_url):
    client = Client(web_url, verbose=False)
    req, chat = loadcheck.ask(
        client, 0, "How much does an Amazon Redshift node cost per hour?", [], k=5
    )
    assert req.outcome == "abstained" and req.first_sentence_s is None
    assert not loadcheck.has_cited_sentence(loadcheck.message_text(chat[-1]))


@pytest.mark.slow
def test_an_error_message_in_the_page_counts_as_an_error(web_url):
    req, _ = loadcheck.ask(Client(web_url, verbose=False), 0, "   ", [], k=5)
    assert req.outcome == "error" and "empty" in req.detail


@pytest.mark.slow
def test_the_detector_fires_on_a_streamed_sentence_not_on_the_status_lines(web_url):
    job = Client(web_url, verbose=False).submit(
        "What is key salting?", [], 5, "", 0.0, api_name="/ask"
    )
    shown = [loadcheck.message_text(u[0][-1]) for u in job if u and u[0]]
    status = [t for t in shown if t.startswith("⏳")]
    streaming = [t for t in shown if t.endswith("⏳") and not t.startswith("⏳")]
    assert status and not any(loadcheck.has_cited_sentence(t) for t in status)
    assert streaming and all(loadcheck.has_cited_sentence(t) for t in streaming)
    assert "Sources:" not in streaming[0]
