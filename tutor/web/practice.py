"""The Practice tab: exam-style items from the guide, graded with the cited lines.

A scope (all, one domain or one task), the item with its options as radio buttons, and
on submitting: right or wrong, the guide's line, and a citation link that opens the
highlighted lines in the passage panel, exactly as a chat citation does. "Ask the tutor
about this" puts a question about the item into the chat and asks it. Below, a bar
chart of mastery per domain and task, with the number of items due.

The profile belongs to the browser: a name is made up on the first visit and kept in the
browser's storage (`gr.BrowserState`), so a reload keeps it; typing another name (the
one used with `tutor quiz --profile`, say) switches to it. Every event reads the
progress database afresh, so two tabs on one profile agree; what each tab remembers for
itself is only its session (the items already asked, the current item).

Practice events do not wait behind a chat answer: they use no model and run outside the
one-at-a-time queue the chat needs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from tutor.errors import TutorError
from tutor.quiz.items import LETTERS, Item
from tutor.quiz.progress import valid_profile
from tutor.quiz.schedule import DOMAIN_NAMES, DOMAIN_WEIGHTS, Scope, task_order
from tutor.quiz.session import Learner
from tutor.web.chat import ChatTab, shown_panel
from tutor.web.render import _e, feedback_html, item_html, lines_passage_html, progress_html

if TYPE_CHECKING:
    from tutor.web.app import Runtime

ALL = "all"


def scope_choices(items: list[Item], task_titles: dict[str, str]) -> list[tuple[str, str]]:
    """Dropdown choices: everything, each domain, each task (with the guide's title)."""
    choices = [("All domains (exam weights)", ALL)]
    for d in sorted({it.domain for it in items}):
        choices.append((f"Domain {d}: {DOMAIN_NAMES.get(d, '')}", f"domain:{d}"))
    tasks = sorted({it.task for it in items if it.task}, key=task_order)
    for t in tasks:
        choices.append((task_titles.get(t, f"Task {t}"), f"task:{t}"))
    return choices


def parse_scope(learner: Learner, key: str | None) -> Scope:
    kind, _, value = (key or ALL).partition(":")
    if kind == "domain" and value.isdigit():
        return learner.scope(domain=int(value))
    if kind == "task":
        return learner.scope(task=value)
    if kind != ALL:
        raise TutorError(f"Unknown scope {key!r}: pick one from the list.")
    return learner.scope()


def question_about(item: Item) -> str:
    """What "Ask the tutor about this" asks: the item's stem as a question to the guide
    (a true/false statement as "Is it true that …?")."""
    stem = item.stem.strip()
    if item.kind == "truefalse":
        statement = re.sub(r"(?i)^true or false\s*[?:.]?\s*", "", stem).rstrip(".?! ")
        return f"Is it true that {statement}?"
    return stem


def new_profile_name() -> str:
    return f"browser-{secrets.token_hex(3)}"


@dataclass
class PracticeTab:
    scope: gr.Dropdown


def profile_store(runtime: Runtime) -> gr.BrowserState:
    """The browser's profile name in its local storage. Made at the page's top level, not
    inside a tab: a tab's contents mount only when shown, too late for the page's load."""
    # a stable secret, so the name survives a server restart (it only names a profile)
    secret = hashlib.sha256(f"tutor-profile:{runtime.settings.progress_path()}".encode())
    return gr.BrowserState(None, storage_key="tutor-profile", secret=secret.hexdigest())


class Practice:
    """The Practice tab's event handlers, over the shared `Runtime`. Per-page state (the
    current item, the ids asked in this session, the passage panel) comes in and goes out
    through the events; nothing about a learner is kept here."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def learner(self, profile: str) -> Learner:
        if not self.runtime.ready(timeout=0):
            raise TutorError(
                self.runtime.error
                or f"The tutor is still starting ({self.runtime.status}); try again soon."
            )
        return self.runtime.learner(valid_profile(profile or ""))

    def progress_view(self, profile: str) -> str:
        try:
            report = self.learner(profile).report()
        except TutorError as e:
            return f"<p>⚠️ {_e(str(e))}</p>"
        return progress_html(report, DOMAIN_NAMES, DOMAIN_WEIGHTS)

    def show_next(self, scope_key: str, profile: str, seen: list[str]) -> tuple[Any, ...]:
        """(current, item, options, feedback, progress) for the next item in scope."""
        try:
            who = self.learner(profile)
            pick = who.next(parse_scope(who, scope_key), set(seen or []))
        except TutorError as e:
            return None, "", gr.Radio(choices=[], value=None), f"⚠️ {_e(str(e))}", ""
        if pick is None:
            report = who.report()
            return (
                None,
                "",
                gr.Radio(choices=[], value=None),
                "<p>Nothing more to practise in this scope now: every item has been met "
                f"and none is due (due across the guide: {report.due}). Pick another "
                "scope, or come back later.</p>",
                progress_html(report, DOMAIN_NAMES, DOMAIN_WEIGHTS),
            )
        item = pick.item
        task = f" · task {item.task}" if item.task else ""
        where = (
            f"{'Review' if pick.reason == 'due' else 'New'} · domain {item.domain}{task} · "
            f"{item.kind} · item {item.id}"
        )
        options = [
            (f"{letter}) {opt}", letter) for letter, opt in zip(LETTERS, item.options, strict=False)
        ]
        return (
            {"id": item.id, "answered": False},
            item_html(item.stem, where),
            gr.Radio(choices=options, value=None),
            "",
            self.progress_view(profile),
        )

    def submit(
        self,
        choice: str | None,
        profile: str,
        current: dict[str, Any] | None,
        seen: list[str],
        panel_list: list[str],
    ) -> tuple[Any, ...]:
        """(current, feedback, seen, panel state, panel, progress) after one answer."""
        seen, panel_list = list(seen or []), list(panel_list or [])

        def out(message: str) -> tuple[Any, ...]:
            return current, message, seen, panel_list, shown_panel(panel_list), gr.skip()

        if not current:
            return out("⚠️ No question yet: press <b>Next question</b>.")
        if current.get("answered"):
            return out("⚠️ Already answered: press <b>Next question</b> for another.")
        if not choice:
            return out("⚠️ Choose one of the options first.")
        try:
            graded = self.learner(profile).answer(current["id"], choice)
        except TutorError as e:
            return out(f"⚠️ {_e(str(e))}")
        seen.append(graded.item.id)
        anchor = f"cite-quiz-{len(seen)}"
        c = graded.item.citation
        panel_list.append(
            f'<div class="turn-q">Practice: {_e(graded.item.stem)}</div>'
            + lines_passage_html(
                anchor,
                self.runtime.guide_section(c.section_path, c.start_line),
                c.start_line,
                c.end_line,
                graded.item.explanation,
                c.section_path,
            )
        )
        current = {**current, "answered": True}
        return (
            current,
            feedback_html(graded, anchor),
            seen,
            panel_list,
            shown_panel(panel_list),
            self.progress_view(profile),
        )

    def ask_tutor(self, current: dict[str, Any] | None) -> tuple[Any, Any]:
        item = self.runtime.item(current["id"]) if current else None
        if item is None:
            return gr.skip(), gr.skip()
        return question_about(item), gr.Tabs(selected="chat")

    @staticmethod
    def remember(stored: str | None) -> tuple[str, str]:
        """On page load: the browser's profile, made up on the first visit."""
        name = stored or new_profile_name()
        return name, name

    @staticmethod
    def rename(name: str, stored: str | None) -> tuple[str, str]:
        try:
            name = valid_profile(name)
        except TutorError:
            name = stored or new_profile_name()
        return name, name

    def first_item(
        self, scope_key: str, profile: str, seen: list[str], current: Any
    ) -> tuple[Any, ...]:
        """On opening the tab, and once the browser's profile is known: the next item,
        unless one is already on screen. Before the page load has filled in the profile
        there is nothing to show yet (the tab can be opened first)."""
        if not (profile or "").strip():
            return (gr.skip(),) * 5
        if current:
            return (gr.skip(),) * 4 + (self.progress_view(profile),)
        return self.show_next(scope_key, profile, seen)


def build_practice_tab(
    app: gr.Blocks,
    tab: gr.Tab,
    stored: gr.BrowserState,
    runtime: Runtime,
    chat: ChatTab,
    tabs: gr.Tabs,
    panel_state: gr.State,
    panel: gr.HTML,
) -> PracticeTab:
    """The Practice tab's contents, inside `tab` (the current context) of `app`; the
    profile name is kept in `stored` (see `profile_store`)."""
    h = Practice(runtime)
    current = gr.State(None)
    seen = gr.State([])
    gr.Markdown(
        "Exam-style questions made from the guide's own lines. A wrong answer shows the "
        "line to reread; items come back when they are due (spaced repetition)."
    )
    with gr.Row():
        scope = gr.Dropdown(
            choices=[("All domains (exam weights)", ALL)],
            value=ALL,
            label="Practise",
            elem_id="quiz-scope",
            # the choices arrive once the bank is loaded; parse_scope checks the value
            allow_custom_value=True,
            scale=3,
        )
        profile = gr.Textbox(
            label="Profile (optional: a name keeps your progress under it)",
            elem_id="quiz-profile",
            scale=2,
        )
    stem = gr.HTML("<p>Press <b>Next question</b> to start.</p>", elem_id="quiz-stem")
    options = gr.Radio(choices=[], label="Your answer", elem_id="quiz-options")
    with gr.Row():
        submit_btn = gr.Button("Submit", variant="primary", elem_id="quiz-submit")
        next_btn = gr.Button("Next question", elem_id="quiz-next")
        ask_btn = gr.Button("Ask the tutor about this", elem_id="quiz-ask")
    feedback = gr.HTML("", elem_id="quiz-feedback")
    with gr.Accordion("Your progress", open=True):
        progress = gr.HTML("", elem_id="quiz-progress")
        refresh = gr.Button("Refresh", size="sm", elem_id="quiz-refresh")

    nxt = (h.show_next, [scope, profile, seen], [current, stem, options, feedback, progress])
    next_btn.click(*nxt, api_name="quiz_next", concurrency_limit=None)
    scope.change(*nxt, api_visibility="private", concurrency_limit=None)
    submit_btn.click(
        h.submit,
        [options, profile, current, seen, panel_state],
        [current, feedback, seen, panel_state, panel, progress],
        api_name="quiz_answer",
        concurrency_limit=None,
    )
    refresh.click(
        h.progress_view, profile, progress, api_name="quiz_progress", concurrency_limit=None
    )
    ask_btn.click(
        h.ask_tutor,
        current,
        [chat.question, tabs],
        api_visibility="private",
        concurrency_limit=None,
    ).then(
        chat.respond,
        chat.inputs,
        chat.outputs,
        api_visibility="private",
        concurrency_limit=None,
    )
    gr.on(
        [profile.blur, profile.submit],
        h.rename,
        [profile, stored],
        [profile, stored],
        api_visibility="private",
        concurrency_limit=None,
    ).then(h.progress_view, profile, progress, api_visibility="private", concurrency_limit=None)
    first = (
        h.first_item,
        [scope, profile, seen, current],
        [current, stem, options, feedback, progress],
    )
    # the profile arrives with the page load; the tab may be opened before it does
    app.load(
        h.remember, stored, [profile, stored], api_visibility="private", concurrency_limit=None
    ).then(*first, api_visibility="private", concurrency_limit=None)
    tab.select(*first, api_visibility="private", concurrency_limit=None)
    return PracticeTab(scope)
