"""The web app driven through gradio_client, with the real models."""

from __future__ import annotations

import pytest
from gradio_client import Client

from tutor.config import Settings
from tutor.web.app import Runtime

pytestmark = pytest.mark.slow


def text_of(message) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def ask(client: Client, question: str, chat=None):
    job = client.submit(question, chat or [], 5, "", 0.0, api_name="/ask")
    updates = list(job)
    chat, panel, box, scope = job.result()
    return chat, panel, updates


def test_a_question_streams_an_answer_with_citations(web_url):
    chat, panel, updates = ask(Client(web_url, verbose=False), "What is key salting?")
    # streaming: an update shows a cited sentence while the answer is still being made
    # (it ends in the ⏳ marker), before the final message with its sources
    partial = [text_of(u[0][-1]) for u in updates if u and u[0]]
    in_progress = [t for t in partial if 'href="#cite-1-' in t and "⏳" in t]
    assert in_progress, partial
    assert "Sources:" not in in_progress[0]
    answer = text_of(chat[-1])
    assert 'href="#cite-1-1"' in answer and "Sources:" in answer
    assert "Key Salting" in answer  # the section path of the cited passage
    assert 'id="cite-1-1"' in panel and "<mark>" in panel
    assert "Salting involves adding random data to a password" in panel


def test_a_follow_up_resolves_against_the_previous_turn(web_url):
    client = Client(web_url, verbose=False)
    chat, _, _ = ask(client, "When should I use AWS Glue?")
    chat, panel, _ = ask(client, "and what is its data catalog for?", chat)
    answer = text_of(chat[-1])
    assert "Understood as:" in answer and "Glue" in answer.split("Understood as:")[1][:120]
    assert 'id="cite-2-1"' in panel  # the second turn's passages are in the panel


def test_an_out_of_guide_question_abstains_with_nearest_sections(web_url):
    chat, panel, _ = ask(
        Client(web_url, verbose=False), "How much does an Amazon Redshift node cost per hour?"
    )
    answer = text_of(chat[-1])
    assert "The guide does not cover this." in answer and "cite-1-" not in answer
    assert 'href="#sec-1-0"' in answer and 'id="sec-1-0"' in panel


def test_html_in_a_question_is_shown_as_text(web_url):
    chat, _, _ = ask(
        Client(web_url, verbose=False),
        '<script>alert("x")</script><img src=x onerror=alert(1)> What is key salting?',
    )
    user = text_of(chat[-2])
    assert "<script>" not in user and "<img" not in user
    assert "&lt;script&gt;" in user


@pytest.mark.parametrize(
    ("question", "needle"), [("   ", "The question is empty"), ("why " * 400, "the limit is 1000")]
)
def test_bad_questions_get_a_message_in_the_page(web_url, question, needle):
    chat, _, _ = ask(Client(web_url, verbose=False), question)
    assert needle in text_of(chat[-1])


def test_a_broken_model_setting_is_reported_not_raised(tmp_path):
    bogus = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "ix", model=tmp_path / "no.gguf")
    rt = Runtime(bogus)
    rt.start()
    assert rt.ready(timeout=60) is False
    assert rt.error and "no.gguf does not exist" in rt.error


def test_html_in_the_corpus_is_shown_as_text():
    from tutor.answer import Citation
    from tutor.web.render import passage_html, render_answer

    c = Citation(
        n=1,
        chunk_id="x#0",
        section_id="x",
        section_path="Guide › <b>Evil</b>",
        file="g.md",
        start_line=3,
        end_line=4,
        text="<script>alert(1)</script> DynamoDB is fast.",
        score=0.1,
    )
    html_out = passage_html(1, c, "Intro. <script>alert(1)</script> DynamoDB is fast. End.")
    assert "<script>" not in html_out and "&lt;script&gt;" in html_out
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt; DynamoDB is fast.</mark>" in html_out
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html_out
    from tutor.answer import Answer, Sentence, Timings

    ans = Answer(
        question="q",
        standalone_question="q",
        answer="",
        abstained=False,
        citations=[c],
        sentences=[Sentence("<i>x</i> y z w v", True, [1], "guide")],
        retrieved=[c],
        timings=Timings(),
        model="m",
    )
    rendered = render_answer(1, ans)
    assert "<i>" not in rendered and "&lt;i&gt;x&lt;/i&gt;" in rendered
    # a comparison is laid out as a two-column table, escaped too
    ans.shape, ans.sides = "compare", ("<b>A</b>", "B")
    ans.sentences = [
        Sentence("A is fast and cheap.", True, [1], "guide", side=0),
        Sentence("B is slow but flexible.", True, [1], "guide", side=1),
    ]
    table = render_answer(1, ans)
    assert '<table class="compare">' in table and "<th>&lt;b&gt;A&lt;/b&gt;</th><th>B</th>" in table
    assert table.index("A is fast") < table.index("B is slow")
