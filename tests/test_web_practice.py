"""The Practice tab: its HTML and helpers (fast), then the tab driven through
gradio_client on the real guide's item bank (slow)."""

from __future__ import annotations

import html
import re

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.quiz_fixtures import FixedClock, make_bank, make_item
from tutor.quiz.items import load_bank
from tutor.quiz.mastery import mastery_report
from tutor.quiz.schedule import DOMAIN_NAMES, DOMAIN_WEIGHTS, Schedule
from tutor.quiz.session import Graded
from tutor.web.practice import question_about, scope_choices
from tutor.web.render import feedback_html, lines_passage_html, progress_html


def test_scope_choices_list_domains_and_tasks_in_order():
    choices = scope_choices(make_bank(), {"1.1": "1.1 Performing Data Ingestion"})
    values = [v for _, v in choices]
    assert values[:6] == ["all", "domain:0", "domain:1", "domain:2", "domain:3", "domain:4"]
    assert values[6:] == [
        f"task:{d}.{t}" for d, n in ((1, 4), (2, 4), (3, 4), (4, 5)) for t in range(1, n + 1)
    ]
    assert ("1.1 Performing Data Ingestion", "task:1.1") in choices


def test_ask_the_tutor_turns_the_item_into_a_question():
    term = make_item(1, 1, "1.1")
    assert question_about(term) == term.stem
    tf = make_item(2, 1, "1.1", "truefalse")
    tf = tf.__class__(
        **{**tf.__dict__, "stem": "True or false? Amazon Redshift: A data warehouse."}
    )
    assert question_about(tf) == "Is it true that Amazon Redshift: A data warehouse?"


def test_feedback_and_passage_are_escaped_and_linked():
    item = make_item(3, 2, "2.1")
    item = item.__class__(**{**item.__dict__, "explanation": "<script>x</script> line"})
    g = Graded(item, "B", False, FixedClock()())
    out = feedback_html(g, "cite-quiz-7")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="#cite-quiz-7"' in out and "Not quite" in out and "A) opt3a." in out
    from tutor.corpus import Line, Section

    sec = Section("s", "T", ("Domain 2", "<b>T</b>"), "g.md", 10, 13, 1, None)
    sec.lines = [Line(11, "first"), Line(12, "<i>cited</i>"), Line(13, "last")]
    html_out = lines_passage_html("cite-quiz-7", sec, 12, 12, "fallback", "p")
    assert 'id="cite-quiz-7"' in html_out and "<mark>&lt;i&gt;cited&lt;/i&gt;</mark>" in html_out
    assert (
        "first" in html_out and "<mark>first" not in html_out and "&lt;b&gt;T&lt;/b&gt;" in html_out
    )
    missing = lines_passage_html("cite-quiz-8", None, 5, 5, "the <line>", "a › b")
    assert "<mark>the &lt;line&gt;</mark>" in missing


def test_the_progress_chart_has_a_bar_per_domain_and_task():
    items = make_bank()
    report = mastery_report("<me>", items, [], {}, Schedule(FixedClock(), fuzz=False))
    chart = progress_html(report, DOMAIN_NAMES, DOMAIN_WEIGHTS)
    assert chart.count('class="bar-row domain"') == 5 and chart.count('class="bar-row task"') == 17
    assert "&lt;me&gt;" in chart and "34% of the exam" in chart and "width:0%" in chart


@pytest.fixture(scope="module")
def bank(session_settings, built_index):
    return {it.id: it for it in load_bank(session_settings.index_dir)}


def next_item(client: Client, scope: str, profile: str):
    stem, _options, feedback, progress = client.predict(scope, profile, api_name="/quiz_next")
    found = re.search(r"item ([\w.-]+)</small>", stem)
    return (found.group(1) if found else None), stem, feedback, progress


def seen(progress: str, label: str) -> int:
    """Items seen, read from the chart's bar whose label starts with `label`."""
    for row in progress.split('class="bar-row')[1:]:
        if f'class="bar-label">{label}' in row:
            return int(re.search(r"· (\d+)/\d+ seen", row).group(1))
    raise AssertionError(f"no bar for {label!r}")


def answer(client: Client, letter: str | None, profile: str):
    feedback, panel, progress = client.predict(letter, profile, api_name="/quiz_answer")
    return feedback, panel, progress


@pytest.mark.slow
def test_answer_an_item_and_get_the_cited_lines(web_url, bank):
    client = Client(web_url, verbose=False)
    item_id, stem, feedback, progress = next_item(client, "task:2.1", "gc-one")
    assert item_id in bank, stem
    item = bank[item_id]
    assert item.task == "2.1" and feedback == ""
    assert "&lt;" not in item.stem and item.stem.split()[0] in stem
    assert "Readiness estimate: 0%" in progress and "gc-one" in progress
    feedback, _, _ = answer(client, None, "gc-one")
    assert "Choose one of the options first" in feedback
    wrong = next(x for x in "ABCD"[: len(item.options)] if x != item.answer)
    feedback, panel, progress = answer(client, wrong, "gc-one")
    key = item.options["ABCD".index(item.answer)]
    assert "Not quite" in feedback and key.split()[0] in feedback
    title = item.citation.section_path.split(" › ")[-1]
    assert 'href="#cite-quiz-1"' in feedback and html.escape(title) in feedback
    # the passage panel holds the cited lines, highlighted inside their section
    assert 'id="cite-quiz-1"' in panel and "<mark>" in panel
    assert f"lines {item.citation.start_line}–{item.citation.end_line}" in panel
    assert seen(progress, "Task 2.1") == 1 and seen(progress, "Domain 2:") == 1
    feedback, _, _ = answer(client, item.answer, "gc-one")
    assert "Already answered" in feedback
    again, *_ = next_item(client, "task:2.1", "gc-one")
    assert again != item_id and bank[again].task == "2.1"


@pytest.mark.slow
def test_bad_input_is_shown_in_the_page(web_url, bank):
    client = Client(web_url, verbose=False)
    item_id, *_ = next_item(client, "all", "gc-bad")
    # the radio buttons offer only the item's letters; Gradio refuses any other
    with pytest.raises(AppError, match="not in the list of choices"):
        answer(client, "E", "gc-bad")
    progress = client.predict("gc-bad", api_name="/quiz_progress")
    assert "· 0/" in progress and not re.search(r"· [1-9]\d*/\d+ seen", progress)
    _, _, feedback, _ = next_item(client, "task:9.9", "gc-bad")
    assert "Unknown task" in feedback
    _, _, feedback, _ = next_item(client, "all", "   ")
    assert "Profile name" in feedback and "not valid" in feedback


@pytest.mark.slow
def test_two_tabs_on_one_profile_agree(web_url, bank):
    one, two = Client(web_url, verbose=False), Client(web_url, verbose=False)
    first, *_ = next_item(one, "domain:3", "gc-shared")
    shown_in_two, *_ = next_item(two, "domain:3", "gc-shared")
    assert first == shown_in_two  # nothing answered yet: the same first choice
    answer(one, bank[first].answer, "gc-shared")
    progress = two.predict("gc-shared", api_name="/quiz_progress")
    assert seen(progress, "Domain 3:") == 1
    # the second tab answers the item it still shows: both answers are kept
    answer(two, bank[first].answer, "gc-shared")
    later, *_ = next_item(two, "domain:3", "gc-shared")
    assert later != first
    progress = one.predict("gc-shared", api_name="/quiz_progress")
    assert seen(progress, f"Task {bank[first].task}") == 1 and seen(progress, "Domain 3:") == 1
