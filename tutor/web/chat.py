"""The Chat tab: streamed, verified answers whose citations open in the passage panel,
and the section browser ("ask about this section").

`build_chat_tab` lays the tab out inside the current Blocks context and wires its events;
`build_browser` does the same for the browser in the passage column. Limits: the
passage panel keeps the last ten entries; the model is chosen by name from the
operator's list (`Runtime.models`), never by a path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from tutor.answer import Answer, Retrieved, Sentence, validate_question
from tutor.config import Settings
from tutor.conversation import Turn
from tutor.errors import TutorError
from tutor.web.render import _e, passage_html, render_answer, render_body, section_html

if TYPE_CHECKING:
    from tutor.web.app import Runtime

EXAMPLES = [
    "When should I pick Amazon EMR over AWS Glue?",
    "What is the difference between RBAC and ABAC?",
    "How do I keep the Glue Data Catalog in sync with new S3 partitions?",
    "What does Kinesis Data Firehose do when it cannot deliver data?",
]
PANEL_LIMIT = 10


def shown_panel(panel: list[str] | None) -> str:
    """The passage panel's HTML: the latest entries first."""
    return "".join(reversed((panel or [])[-PANEL_LIMIT:]))


@dataclass
class ChatTab:
    """The chat tab's parts that other parts of the page drive."""

    question: gr.Textbox
    scope: gr.State
    scope_md: gr.Markdown
    respond: Callable[..., Iterator[tuple[Any, ...]]]
    inputs: list[Any]
    outputs: list[Any]
    scope_text: Callable[[str | None], str]
    model: gr.Dropdown  # its choices are the runtime's model names, filled once loaded


class Chat:
    """The chat's event handlers over the shared `Runtime`; the conversation itself
    (turns, section scope, passage panel) travels in the page's state."""

    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings

    def respond(
        self,
        question: str,
        chat: list[dict[str, Any]],
        turns: list[Turn],
        scope: str | None,
        panel: list[str],
        k: float,
        model: str,
        temperature: float,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        turns = list(turns or [])
        panel = list(panel or [])

        def out(q_box: str = "", clear_scope: bool = False) -> tuple[Any, ...]:
            sc = None if clear_scope else scope
            return (chat, turns, sc, panel, shown_panel(panel), q_box, self.scope_text(sc))

        try:
            q = validate_question(question, self.settings)
        except TutorError as e:
            chat.append({"role": "assistant", "content": f"⚠️ {_e(str(e))}"})
            yield out(question)
            return
        session = request.session_hash if request is not None else None
        if not self.runtime.sessions.enter(session):
            most = self.runtime.sessions.most
            chat.append(
                {
                    "role": "assistant",
                    "content": "⚠️ Your previous question is still being answered; ask this "
                    f"one when it is done (at most {most} at a time per page).",
                }
            )
            yield out(question)
            return
        try:
            yield from self._answer(q, chat, turns, scope, panel, k, model, temperature, out)
        finally:
            self.runtime.sessions.leave(session)

    def _answer(
        self,
        q: str,
        chat: list[dict[str, Any]],
        turns: list[Turn],
        scope: str | None,
        panel: list[str],
        k: float,
        model: str,
        temperature: float,
        out: Callable[..., tuple[Any, ...]],
    ) -> Iterator[tuple[Any, ...]]:
        turn = len(turns) + 1
        chat.append({"role": "user", "content": _e(q)})
        chat.append({"role": "assistant", "content": "⏳ searching the guide…"})
        yield out()
        while not self.runtime.ready(timeout=0.5):
            if self.runtime.error:
                chat[-1]["content"] = f"⚠️ The tutor could not start: {_e(self.runtime.error)}"
                yield out()
                return
            chat[-1]["content"] = f"⏳ The tutor is starting ({_e(self.runtime.status)})…"
            yield out()
        assert self.runtime.tutor is not None and self.runtime.models is not None
        try:
            gen = self.runtime.models.get(model)
            shown: list[Sentence] = []
            sides: tuple[str, ...] = ()
            prefix = ""
            together = 0
            for ev in self.runtime.tutor.ask_stream(
                q,
                history=turns,
                k=int(k),
                within=scope,
                temperature=float(temperature),
                generator=gen,
            ):
                if isinstance(ev, Retrieved):
                    understood = (
                        f"<p><small>Understood as: {_e(ev.standalone)}</small></p>"
                        if ev.standalone != ev.question
                        else ""
                    )
                    chat[-1]["content"] = (
                        understood + f"⏳ found {len(ev.passages)} passages; "
                        "checking the answer against them…"
                    )
                    panel.append(
                        f'<div class="turn-q">Q{turn}: {_e(q)}</div>'
                        + "".join(
                            passage_html(
                                turn,
                                c,
                                (self.runtime.section_by("id", c.section_id) or {}).get("text"),
                            )
                            for c in ev.passages
                        )
                    )
                    prefix = understood
                    sides = ev.sides if ev.shape == "compare" else ()
                    together = ev.lines  # the guide lines, sent as one update
                    if not ev.waits:
                        continue  # the first line or the abstention follows at once
                elif isinstance(ev, Sentence):
                    shown.append(ev)
                    chat[-1]["content"] = prefix + render_body(turn, shown, sides) + " ⏳"
                    if ev.source == "guide" and len(shown) < together:
                        continue
                elif isinstance(ev, Answer):
                    if ev.abstained:
                        panel[-1] = f'<div class="turn-q">Q{turn}: {_e(q)} (not covered)</div>' + (
                            "".join(
                                section_html(f"sec-{turn}-{i}", s)
                                for i, p in enumerate(ev.nearest_sections)
                                if (s := self.runtime.section_by("path", p)) is not None
                            )
                        )
                    chat[-1]["content"] = prefix + render_answer(turn, ev)
                    turns.append(
                        Turn(
                            q,
                            ev.standalone_question,
                            ev.answer,
                            [c.section_id for c in ev.citations],
                        )
                    )
                yield out()
        except TutorError as e:
            chat[-1]["content"] = f"⚠️ {_e(str(e))}"
            yield out()
            return
        yield out(clear_scope=True)  # a section scope applies to one question

    def scope_text(self, scope: str | None) -> str:
        s = self.runtime.section_by("id", scope) if scope else None
        return f"🔎 Next question is limited to **{_e(s['path'])}**" if s else ""


def build_chat_tab(
    runtime: Runtime, settings: Settings, panel_state: gr.State, panel: gr.HTML
) -> ChatTab:
    """The chat column; its answers add their passages to `panel_state` / `panel`."""
    h = Chat(runtime, settings)
    turns = gr.State([])
    scope = gr.State(None)
    chat = gr.Chatbot(
        label="Tutor",
        elem_id="chat",
        height=560,
        buttons=["copy"],
        sanitize_html=True,
        render_markdown=True,
    )
    scope_md = gr.Markdown("", elem_id="scope")
    with gr.Row():
        question = gr.Textbox(
            placeholder="Ask about the DEA-C01 guide…",
            show_label=False,
            scale=5,
            max_lines=4,
            elem_id="question",
        )
        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
    with gr.Row():
        new = gr.Button("New conversation", elem_id="new")
        unscope = gr.Button("Clear section scope", elem_id="unscope")
    gr.Examples(EXAMPLES, inputs=question, label="Try")
    with gr.Accordion("Settings", open=False):
        k = gr.Slider(1, 10, value=settings.k, step=1, label="Passages (k)")
        model = gr.Dropdown(
            choices=[],
            value=None,
            label="Model (empty = the default)",
            allow_custom_value=True,  # checked against the list when asked, by name only
            elem_id="model",
        )
        temperature = gr.Slider(
            0.0, 1.5, value=settings.temperature, step=0.05, label="Temperature"
        )
    outputs = [chat, turns, scope, panel_state, panel, question, scope_md]
    inputs = [question, chat, turns, scope, panel_state, k, model, temperature]
    # concurrent: only the model call inside waits its turn (see tutor/web/app.py)
    send.click(h.respond, inputs, outputs, api_name="ask", concurrency_limit=None)
    question.submit(h.respond, inputs, outputs, api_visibility="private", concurrency_limit=None)
    new.click(
        lambda: ([], [], None, [], "", "", ""),
        outputs=outputs[:5] + [question, scope_md],
        api_name="new",
        concurrency_limit=None,
    )
    unscope.click(
        lambda: (None, ""),
        outputs=[scope, scope_md],
        api_visibility="private",
        concurrency_limit=None,
    )
    return ChatTab(question, scope, scope_md, h.respond, inputs, outputs, h.scope_text, model)


def build_browser(
    runtime: Runtime, chat: ChatTab, panel_state: gr.State, panel: gr.HTML
) -> gr.Dropdown:
    """ "Browse the guide": show a section in the panel, or scope the next question to it.
    Returns the section picker, whose choices the page fills once the index is loaded."""

    def show_section(section_id: str | None, panel_list: list[str]) -> str:
        s = runtime.section_by("id", section_id) if section_id else None
        if s is None:
            return shown_panel(panel_list)
        return section_html("sec-browse", s) + shown_panel(panel_list)

    with gr.Accordion("Browse the guide", open=False):
        picker = gr.Dropdown(choices=[], label="Section", elem_id="section-picker")
        ask_here = gr.Button("Ask about this section", elem_id="ask-section")
    picker.change(
        show_section,
        [picker, panel_state],
        panel,
        api_visibility="private",
        concurrency_limit=None,
    )
    ask_here.click(
        lambda sid: (sid, chat.scope_text(sid)),
        picker,
        [chat.scope, chat.scope_md],
        api_visibility="private",
        concurrency_limit=None,
    )
    return picker
