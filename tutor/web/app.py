"""The Gradio web tutor: a Chat tab (streamed, verified answers with clickable
citations), a Practice tab (exam-style items, spaced repetition, progress), and beside
them the passage panel where every citation opens, highlighted inside its section.

`build_app` builds the page and never launches it; `launch` serves it (loopback by
default, no public share link unless asked). One `Runtime` per process loads the index,
the models and the item bank once, in a background thread, and is shared by every
session; the page shows what it is loading meanwhile. Gradio's queue runs one chat
answer at a time (llama.cpp must not be called concurrently); others see their place in
the queue. The tabs are built by `chat.py` and `practice.py`; all HTML is made (and
escaped) in `render.py`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from tutor.answer import Tutor
from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import Drafter, drafter_for
from tutor.quiz.schedule import Schedule
from tutor.web.chat import build_browser, build_chat_tab
from tutor.web.practice import build_practice_tab, profile_store, scope_choices
from tutor.web.render import CSS, JS, _e

if TYPE_CHECKING:
    from tutor.corpus import Section
    from tutor.quiz.items import Item
    from tutor.quiz.session import Learner


class Runtime:
    """The process-wide tutor, loaded once in the background; extra GGUF models by path;
    the item bank and a `Learner` per profile for the Practice tab."""

    def __init__(
        self, settings: Settings, tutor: Tutor | None = None, schedule: Schedule | None = None
    ) -> None:
        self.settings = settings
        self.schedule = schedule or Schedule()
        self._bank: list[Item] | None = None
        self._corpus: list[Section] | None = None
        self.tutor = tutor
        self.error: str | None = None
        self.status = "ready" if tutor else "starting"
        self._done = threading.Event()
        self._generators: dict[str, Drafter] = {}
        self._lock = threading.Lock()
        self._corpus_lock = threading.Lock()
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

    def sections(self) -> list[dict[str, Any]]:
        return self.tutor.index.sections if self.tutor else []

    def section_by(self, key: str, value: str) -> dict[str, Any] | None:
        return next((s for s in self.sections() if s[key] == value), None)

    # -- practice -----------------------------------------------------------------------

    def bank(self) -> list[Item]:
        """The item bank beside the loaded index (read once)."""
        from tutor.quiz.items import load_bank

        if self._bank is None:
            if self.tutor is None:
                raise TutorError(f"The tutor is still starting ({self.status}); try again soon.")
            self._bank = load_bank(self.tutor.index.path)
        return self._bank

    def item(self, item_id: str) -> Item | None:
        return next((it for it in self.bank() if it.id == item_id), None)

    def learner(self, profile: str) -> Learner:
        from tutor.quiz.session import Learner

        return Learner(self.bank(), self.settings.progress_path(), profile, self.schedule)

    def task_titles(self) -> dict[str, str]:
        """Task number → the guide's heading for it ("1.2 Transform and process data")."""
        out: dict[str, str] = {}
        for s in self.sections():
            number = s["title"].split(" ", 1)[0]
            if number.count(".") == 1 and number.replace(".", "").isdigit():
                out.setdefault(number, s["title"])
        return out

    def guide_section(self, path: str, line: int) -> Section | None:
        """The parsed section (with its numbered lines) at `path` that holds `line`."""
        from tutor.corpus import load_corpus

        with self._corpus_lock:
            if self._corpus is None:
                self._corpus = [
                    s for f in load_corpus(self.settings.corpus_dir) for s in f.sections
                ]
        return next(
            (s for s in self._corpus if s.path_str == path and s.start_line <= line <= s.end_line),
            None,
        )

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


def build_app(
    settings: Settings, tutor: Tutor | None = None, schedule: Schedule | None = None
) -> gr.Blocks:
    """The page, wired to one shared Runtime (loading starts now, in the background)."""
    runtime = Runtime(settings, tutor, schedule)
    runtime.start()

    def status_text() -> str:
        if runtime.error:
            return f"**Could not start:** {_e(runtime.error)}"
        if runtime.tutor is None:
            return f"⏳ Starting: {_e(runtime.status)} The page will answer once this is done."
        n = len(runtime.sections())
        return f"Ready: {n} sections of the DEA-C01 guide indexed. Answers cite their sections."

    def tick() -> tuple[Any, ...]:
        done = runtime.error is not None or runtime.tutor is not None
        choices = [("— " * s["depth"] + s["title"], s["id"]) for s in runtime.sections()]
        try:
            quiz = scope_choices(runtime.bank(), runtime.task_titles()) if done else None
        except TutorError:
            quiz = None
        return (
            status_text(),
            gr.Timer(active=not done),
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=quiz) if quiz else gr.skip(),
        )

    with gr.Blocks(title="DEA-C01 tutor", fill_width=True, analytics_enabled=False) as app:
        status = gr.Markdown(status_text(), elem_id="status")
        panel_state = gr.State([])
        panel = gr.HTML("", elem_id="passages", render=False)
        stored_profile = profile_store(runtime)
        with gr.Row():
            with gr.Column(scale=3), gr.Tabs(elem_id="tabs") as tabs:
                with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
                    chat = build_chat_tab(runtime, settings, panel_state, panel)
                with gr.Tab("Practice", id="practice", elem_id="tab-practice") as tab:
                    practice = build_practice_tab(
                        app, tab, stored_profile, runtime, chat, tabs, panel_state, panel
                    )
            with gr.Column(scale=2):
                gr.Markdown(
                    "### Passages\nClick a citation such as [1] to see it here, "
                    "highlighted inside its section."
                )
                panel.render()
                picker = build_browser(runtime, chat, panel_state, panel)
        timer = gr.Timer(0.5)
        timer.tick(
            tick,
            outputs=[status, timer, picker, practice.scope],
            concurrency_limit=None,
            show_progress="hidden",
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
