"""The Gradio web tutor: chat with streaming, verified answers, clickable citations that
land on the cited passage highlighted inside its section, and a section browser.

`build_app` builds the page and never launches it; `launch` serves it (loopback by
default, no public share link unless asked). One `Runtime` per process loads the index
and the models once, in a background thread, and is shared by every session; the page
shows what it is loading meanwhile. Gradio's queue runs one answer at a time (llama.cpp
must not be called concurrently); others see their place in the queue.

Everything shown is escaped here before Gradio renders it, so a `<script>` in a question
or in the corpus is shown as text. Limits: the passage panel keeps the last ten answers;
a "model file" setting must be a path the server can read.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from tutor.answer import Answer, Citation, Retrieved, Sentence, Tutor, validate_question
from tutor.config import Settings
from tutor.conversation import Turn
from tutor.errors import TutorError
from tutor.generate import Drafter, drafter_for

EXAMPLES = [
    "When should I pick Amazon EMR over AWS Glue?",
    "What is the difference between RBAC and ABAC?",
    "How do I keep the Glue Data Catalog in sync with new S3 partitions?",
    "What does Kinesis Data Firehose do when it cannot deliver data?",
]
PANEL_LIMIT = 10

CSS = """
#passages { max-height: 72vh; overflow-y: auto !important; }
.passage { border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.passage.active { outline: 3px solid #e8a33d; }
.passage .path { font-weight: 600; font-size: 0.9em; }
.passage .body { white-space: pre-wrap; font-size: 0.9em; max-height: 22em; overflow-y: auto; }
.passage mark { background: #ffe58a; }
.turn-q { color: #555; font-style: italic; margin-top: 12px; }
table.compare { border-collapse: collapse; width: 100%; }
table.compare td, table.compare th {
  border: 1px solid #ccc; padding: 4px 8px; vertical-align: top;
}
"""

# Citation links are plain anchors (#cite-T-N); this delegated handler shows the target
# passage in the panel instead of letting the browser follow the link.
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="#cite-"], a[href^="#sec-"]');
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const el = document.getElementById(a.getAttribute('href').slice(1));
    if (!el) return;
    document.querySelectorAll('.passage.active').forEach((x) => x.classList.remove('active'));
    el.classList.add('active');
    // scroll the panel, not the page, so the chat stays where the student is reading
    const box = document.getElementById('passages');
    const target = el.querySelector('mark') || el;
    box.scrollIntoView({block: 'nearest'});
    box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - 60;
  }, true);
}
"""


class Runtime:
    """The process-wide tutor, loaded once in the background; extra GGUF models by path."""

    def __init__(self, settings: Settings, tutor: Tutor | None = None) -> None:
        self.settings = settings
        self.tutor = tutor
        self.error: str | None = None
        self.status = "ready" if tutor else "starting"
        self._done = threading.Event()
        self._generators: dict[str, Drafter] = {}
        self._lock = threading.Lock()
        if tutor:
            self._done.set()

    def start(self) -> None:
        if not self._done.is_set():
            threading.Thread(target=self._load, name="tutor-load", daemon=True).start()

    def _load(self) -> None:
        from tutor.embed import Embedder
        from tutor.index import ensure_index

        try:
            self.status = "checking the index…"
            drafter = drafter_for(self.settings)
            embedder = Embedder()

            def say(msg: str) -> None:
                self.status = msg

            index, _ = ensure_index(self.settings, embedder, progress=say)
            self.status = "loading the embedding model and the language model…"
            tutor = Tutor(self.settings, index, embedder, drafter)
            tutor.warm_up()
            self.tutor = tutor
            self.status = "ready"
        except TutorError as e:
            self.error = str(e)
        except Exception as e:  # shown in the page rather than lost in a thread
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self._done.set()

    def ready(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout) and self.tutor is not None

    def generator_for(self, path: str) -> Drafter | None:
        """None for the default model; otherwise a cached drafter for that GGUF path."""
        path = path.strip()
        default = getattr(self.tutor.generator, "path", None) if self.tutor else None
        if not path or self.tutor is None or Path(path) == default:
            return None
        with self._lock:
            if path not in self._generators:
                # a path always means a GGUF in this process, whatever the backend
                gen = drafter_for(self.settings.with_overrides(model=path, llm_url=""))
                gen.warm_up()
                self._generators[path] = gen
            return self._generators[path]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def cite_link(turn: int, n: int) -> str:
    return f'<a href="#cite-{turn}-{n}" class="cite">[{n}]</a>'


def render_sentence(turn: int, s: Sentence) -> str:
    return _e(s.text) + " " + "".join(cite_link(turn, n) for n in s.citations)


def render_body(turn: int, shown: list[Sentence], sides: tuple[str, ...] = ()) -> str:
    """The answer's sentences: a two-column table pairing the sides of a comparison,
    otherwise the lead sentence and the supporting lines as a list."""
    notes = [s for s in shown if s.source == "note"]
    lines = [s for s in shown if s.source != "note"]
    note_html = "".join(f"<p><i>{_e(s.text)}</i></p>" for s in notes)
    if len(sides) == 2 and any(s.side is not None for s in lines):
        cols: list[list[str]] = [[], []]
        rest: list[str] = []
        for s in lines:
            (cols[s.side] if s.side in (0, 1) else rest).append(render_sentence(turn, s))
        rows = "".join(
            f"<tr><td>{a}</td><td>{b}</td></tr>"
            for a, b in zip(
                cols[0] + [""] * (len(cols[1]) - len(cols[0])),
                cols[1] + [""] * (len(cols[0]) - len(cols[1])),
                strict=True,
            )
        )
        table = (
            f'<table class="compare"><tr><th>{_e(sides[0])}</th><th>{_e(sides[1])}</th></tr>'
            f"{rows}</table>"
        )
        extra = "".join(f"<li>{r}</li>" for r in rest)
        return table + (f"<ul>{extra}</ul>" if extra else "") + note_html
    if not lines:
        return note_html
    lead = f"<p>{render_sentence(turn, lines[0])}</p>"
    more = "".join(f"<li>{render_sentence(turn, s)}</li>" for s in lines[1:])
    return lead + (f"<ul>{more}</ul>" if more else "") + note_html


def render_answer(turn: int, ans: Answer) -> str:
    """The final assistant message: verified sentences, sources, what was left out."""
    if ans.abstained:
        links = "".join(
            f'<li><a href="#sec-{turn}-{i}">{_e(p)}</a></li>'
            for i, p in enumerate(ans.nearest_sections)
        )
        return f"<p><b>The guide does not cover this.</b> ({_e(ans.abstain_reason)})</p>" + (
            f"<p>Nearest sections:</p><ul>{links}</ul>" if links else ""
        )
    shown = [s for s in ans.sentences if s.supported]
    body = render_body(turn, shown, ans.sides if ans.shape == "compare" else ())
    sources = "".join(
        f"<li>{cite_link(turn, c.n)} {_e(c.section_path)} (lines {c.start_line}–{c.end_line})</li>"
        for c in ans.citations
    )
    dropped = len(ans.sentences) - len(shown)
    note = (
        f"<p><small>{dropped} draft sentence(s) not shown: the cited passages do not "
        "support them, or they do not answer the question.</small></p>"
        if dropped
        else ""
    )
    return f"{body}<p>Sources:</p><ul>{sources}</ul>{note}"


def passage_html(turn: int, c: Citation, section_text: str | None) -> str:
    """The cited chunk highlighted inside its section's text, with the section path."""
    text = section_text or c.text
    at = text.find(c.text)
    if at < 0:
        body = f"<mark>{_e(c.text)}</mark>"
    else:
        body = _e(text[:at]) + f"<mark>{_e(c.text)}</mark>" + _e(text[at + len(c.text) :])
    return (
        f'<div class="passage" id="cite-{turn}-{c.n}"><div class="path">[{c.n}] '
        f"{_e(c.section_path)} <small>({_e(c.file)} lines {c.start_line}–{c.end_line})"
        f'</small></div><div class="body">{body}</div></div>'
    )


def section_html(anchor: str, section: dict[str, Any]) -> str:
    return (
        f'<div class="passage" id="{anchor}"><div class="path">{_e(section["path"])} '
        f"<small>(lines {section['start_line']}–{section['end_line']})</small></div>"
        f'<div class="body">{_e(section["text"] or "(this heading has no text of its own)")}'
        "</div></div>"
    )


def build_app(settings: Settings, tutor: Tutor | None = None) -> gr.Blocks:
    """The page, wired to one shared Runtime (loading starts now, in the background)."""
    runtime = Runtime(settings, tutor)
    runtime.start()

    def sections() -> list[dict[str, Any]]:
        return runtime.tutor.index.sections if runtime.tutor else []

    def section_by(key: str, value: str) -> dict[str, Any] | None:
        return next((s for s in sections() if s[key] == value), None)

    def status_text() -> str:
        if runtime.error:
            return f"**Could not start:** {_e(runtime.error)}"
        if runtime.tutor is None:
            return f"⏳ Starting: {_e(runtime.status)} The page will answer once this is done."
        n = len(sections())
        return f"Ready: {n} sections of the DEA-C01 guide indexed. Answers cite their sections."

    def tick() -> tuple[str, Any, Any]:
        done = runtime.error is not None or runtime.tutor is not None
        choices = [("— " * s["depth"] + s["title"], s["id"]) for s in sections()]
        return status_text(), gr.Timer(active=not done), gr.Dropdown(choices=choices)

    def respond(
        question: str,
        chat: list[dict[str, Any]],
        turns: list[Turn],
        scope: str | None,
        panel: list[str],
        k: float,
        model: str,
        temperature: float,
    ) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        turns = list(turns or [])
        panel = list(panel or [])

        def out(q_box: str = "") -> tuple[Any, ...]:
            return (
                chat,
                turns,
                scope,
                panel,
                "".join(reversed(panel[-PANEL_LIMIT:])),
                q_box,
                scope_text(scope),
            )

        try:
            q = validate_question(question, settings)
        except TutorError as e:
            chat.append({"role": "assistant", "content": f"⚠️ {_e(str(e))}"})
            yield out(question)
            return
        turn = len(turns) + 1
        chat.append({"role": "user", "content": _e(q)})
        chat.append({"role": "assistant", "content": "⏳ searching the guide…"})
        yield out()
        while not runtime.ready(timeout=0.5):
            if runtime.error:
                chat[-1]["content"] = f"⚠️ The tutor could not start: {_e(runtime.error)}"
                yield out()
                return
            chat[-1]["content"] = f"⏳ The tutor is starting ({_e(runtime.status)})…"
            yield out()
        assert runtime.tutor is not None
        try:
            gen = runtime.generator_for(model or "")
            shown: list[Sentence] = []
            sides: tuple[str, ...] = ()
            prefix = ""
            for ev in runtime.tutor.ask_stream(
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
                                turn, c, (section_by("id", c.section_id) or {}).get("text")
                            )
                            for c in ev.passages
                        )
                    )
                    prefix = understood
                    sides = ev.sides if ev.shape == "compare" else ()
                elif isinstance(ev, Sentence):
                    shown.append(ev)
                    chat[-1]["content"] = prefix + render_body(turn, shown, sides) + " ⏳"
                elif isinstance(ev, Answer):
                    if ev.abstained:
                        panel[-1] = f'<div class="turn-q">Q{turn}: {_e(q)} (not covered)</div>' + (
                            "".join(
                                section_html(f"sec-{turn}-{i}", s)
                                for i, p in enumerate(ev.nearest_sections)
                                if (s := section_by("path", p)) is not None
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
        scope = None  # a section scope applies to one question
        yield out()

    def scope_text(scope: str | None) -> str:
        s = section_by("id", scope) if scope else None
        return f"🔎 Next question is limited to **{_e(s['path'])}**" if s else ""

    def show_section(section_id: str | None, panel: list[str]) -> str:
        s = section_by("id", section_id) if section_id else None
        if s is None:
            return "".join(reversed((panel or [])[-PANEL_LIMIT:]))
        return section_html("sec-browse", s) + "".join(reversed((panel or [])[-PANEL_LIMIT:]))

    with gr.Blocks(title="DEA-C01 tutor", fill_width=True, analytics_enabled=False) as app:
        status = gr.Markdown(status_text(), elem_id="status")
        turns = gr.State([])
        scope = gr.State(None)
        panel_state = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
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
                    model = gr.Textbox(
                        label="Model file (a GGUF path on the server; empty = default)",
                        placeholder=str(settings.model or "the packaged SmolLM2 GGUF"),
                        elem_id="model",
                    )
                    temperature = gr.Slider(
                        0.0, 1.5, value=settings.temperature, step=0.05, label="Temperature"
                    )
            with gr.Column(scale=2):
                gr.Markdown(
                    "### Passages\nClick a citation such as [1] to see it here, "
                    "highlighted inside its section."
                )
                panel = gr.HTML("", elem_id="passages")
                with gr.Accordion("Browse the guide", open=False):
                    picker = gr.Dropdown(choices=[], label="Section", elem_id="section-picker")
                    ask_here = gr.Button("Ask about this section", elem_id="ask-section")
        timer = gr.Timer(0.5)
        timer.tick(
            tick, outputs=[status, timer, picker], concurrency_limit=None, show_progress="hidden"
        )
        outputs = [chat, turns, scope, panel_state, panel, question, scope_md]
        inputs = [question, chat, turns, scope, panel_state, k, model, temperature]
        send.click(respond, inputs, outputs, api_name="ask")
        question.submit(respond, inputs, outputs, api_visibility="private")
        new.click(
            lambda: ([], [], None, [], "", "", ""),
            outputs=outputs[:5] + [question, scope_md],
            api_name="new",
            concurrency_limit=None,
        )
        picker.change(
            show_section,
            [picker, panel_state],
            panel,
            api_visibility="private",
            concurrency_limit=None,
        )
        ask_here.click(
            lambda sid: (sid, scope_text(sid)),
            picker,
            [scope, scope_md],
            api_visibility="private",
            concurrency_limit=None,
        )
        unscope.click(
            lambda: (None, ""),
            outputs=[scope, scope_md],
            api_visibility="private",
            concurrency_limit=None,
        )
    app.queue(default_concurrency_limit=1, max_size=128)
    return app


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
) -> None:
    """Serve the app; never a public link unless `share`."""
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        css=CSS,
        js=JS,
        quiet=not block,
        show_error=True,
    )
