"""The Gradio web tutor: a Chat tab (streamed, verified answers with clickable
citations), a Practice tab (exam-style items, spaced repetition, progress), and beside
them the passage panel where every citation opens, highlighted inside its section.

`build_app` builds the page and never launches it; `launch` serves it (loopback by
default, no public share link unless asked). One `Runtime` per process loads the index,
the models and the item bank once, in a background thread, and is shared by every
session; the page shows what it is loading meanwhile. Chat answers run concurrently:
retrieval, the guide's lines, verification and rendering for every session at once, and
only the model call waits its turn (one at a time per in-process model, `concurrency`
at once for a server). The page offers models by name (`tutor.generate.models`), never
a path; each session may have `session_questions` questions in progress; `launch` can
put the page behind logins, and the CLI warns when it is served beyond loopback without.
The tabs are built by `chat.py` and `practice.py`; all HTML is made (and escaped) in
`render.py`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import gradio as gr

from tutor.answer import Tutor
from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import drafter_for
from tutor.generate.models import Models
from tutor.quiz.schedule import Schedule
from tutor.web.chat import build_browser, build_chat_tab
from tutor.web.practice import build_practice_tab, profile_store, scope_choices
from tutor.web.render import CSS, JS, _e

if TYPE_CHECKING:
    from tutor.corpus import Section
    from tutor.quiz.items import Item
    from tutor.quiz.session import Learner


class Runtime:
    """The process-wide tutor, loaded once in the background; the models the page offers
    by name (`Models`); the item bank and a `Learner` per profile for the Practice tab;
    and how many questions each browser session has in progress."""

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
        self.models: Models | None = None
        self.sessions = SessionLimit(settings.session_questions)
        self._corpus_lock = threading.Lock()
        if tutor:
            self.models = Models(settings, tutor.generator)
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
            models = Models(self.settings, drafter)  # a bad --models-dir fails here
            embedder = Embedder()  # builds the index if needed; questions use its ONNX export

            def say(msg: str) -> None:
                self.status = msg

            index, _ = ensure_index(self.settings, embedder, progress=say)
            self.status = "loading the embedding model and the language model…"
            tutor = Tutor(self.settings, index, generator=drafter)
            tutor.warm_up()
            self.models = models
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


class SessionLimit:
    """How many questions each browser session has in progress (answering, or waiting
    for the model); a session already at `most` is refused until one finishes, so one
    visitor cannot fill the model's queue for everyone else."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._n: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, session: str | None) -> bool:
        """Count a question in; False (and nothing counted) when the session is full.
        A question without a session (called from code, not a browser) is not limited."""
        if session is None:
            return True
        with self._lock:
            if self._n.get(session, 0) >= self.most:
                return False
            self._n[session] = self._n.get(session, 0) + 1
            return True

    def leave(self, session: str | None) -> None:
        if session is None:
            return
        with self._lock:
            n = self._n.get(session, 0) - 1
            if n > 0:
                self._n[session] = n
            else:
                self._n.pop(session, None)

    def in_progress(self, session: str) -> int:
        with self._lock:
            return self._n.get(session, 0)


def logins(settings: Settings) -> list[tuple[str, str]]:
    """The page's user:password pairs, from `auth` (TUTOR_AUTH) and `auth_file`. A
    malformed entry is an error that says where it is (never what the password is)."""
    entries: list[tuple[str, str]] = []
    if settings.auth:
        entries += [("TUTOR_AUTH", e) for e in settings.auth.split(",") if e.strip()]
    if settings.auth_file is not None:
        try:
            text = settings.auth_file.read_text(encoding="utf-8")
        except OSError as e:
            raise TutorError(
                f"Cannot read the logins file {settings.auth_file} ({e.strerror}): fix --auth-file."
            ) from None
        entries += [
            (f"{settings.auth_file} line {n}", line.strip())
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    out = []
    for where, entry in entries:
        user, sep, password = entry.strip().partition(":")
        if not sep or not user or not password:
            raise TutorError(f"A login in {where} is not user:password (both non-empty): fix it.")
        out.append((user, password))
    return out


def exposure_warning(host: str, share: bool, has_logins: bool) -> str | None:
    """A warning when the page is reachable beyond this machine and anyone may use it."""
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    if (loopback and not share) or has_logins:
        return None
    where = "through a public share link" if share else f"on {host}"
    return (
        f"Warning: serving {where} without logins, so anyone who can reach it can use this "
        "tutor and its model. Set TUTOR_AUTH=user:password or --auth-file FILE."
    )


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
        models = runtime.models.names() if runtime.models else None
        return (
            status_text(),
            gr.Timer(active=not done),
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=quiz) if quiz else gr.skip(),
            gr.Dropdown(choices=models) if models else gr.skip(),
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
            outputs=[status, timer, picker, practice.scope, chat.model],
            concurrency_limit=None,
            show_progress="hidden",
        )
    # Answers run side by side: only the model call is serialised (by the in-process
    # drafter's lock, or up to `concurrency` calls for a server), so every session's
    # guide lines appear as soon as its own retrieval is done. The practice events are
    # short and keep the one-at-a-time default.
    app.queue(default_concurrency_limit=1, max_size=256)
    return app


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
    auth: list[tuple[str, str]] | None = None,
) -> None:
    """Serve the app; never a public link unless `share`; behind a login page when
    `auth` lists user:password pairs."""
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth or None,
        prevent_thread_lock=not block,
        css=CSS,
        js=JS,
        quiet=not block,
        show_error=True,
    )
