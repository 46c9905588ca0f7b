"""Load check: many concurrent browser-like sessions against the real web app, per backend.

Run with `make loadcheck` (or `python -m tutor.loadcheck`). For every configured backend
(a dict of `Settings` overrides: `{}` is the in-process GGUF model; `--llm-url URL` adds an
OpenAI-compatible server), the web app is built with `build_app` and served on a free
loopback port in a child process, warmed up with one question, and then N sessions (32
by default, each its own `gradio_client.Client`, so its own server-side state) each ask
their questions one after another while the others do the same. Every question is sent
with `client.submit` and its streamed updates are read as they arrive, to time:

- **first cited sentence**: submit → the first update whose assistant message carries a
  citation link (`[n]`), i.e. a verified guide sentence the learner can read;
- **whole answer**: submit → the update that shows the final answer (its sources, or
  "the guide does not cover this").

Backends run one after another (never at once: they would share the same cores) and are
printed side by side in one table; the figures are also written as JSON (`--json`).

Each session opens its server-side state (a call to `/new`) before the asking starts,
as a browser's page load would, and the sessions then ask at once: a burst, the worst
case for first-sentence time.

Limits: figures, not assertions. The clients run in this process and the server in a
child process on the same machine, so both share its cores: the report gives each
one's CPU seconds during the run ("web app CPU", which includes the in-process model's
decoding but not a model server's; "load generator CPU"), since real learners' browsers
would not take the server's cores. Timings include queue waits and are only as precise
as the poll interval (`POLL_S`). Abstentions have no cited sentence and are left out of
the first-sentence figures (they are counted). Without `--llm-url`, the server column
is llama.cpp's server (or llama-cpp-python's) started on loopback with the same GGUF
(`--no-server` skips it). The base settings ignore `TUTOR_LLM_URL`/`TUTOR_LLM_MODEL`
so the in-process column stays in-process, but an `llm_url` in `tutor.toml` would still
apply to it. Exit status 1 if any answer was lost or failed, or a requested backend
could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tutor.bench import pct
from tutor.errors import TutorError

SESSIONS = 32
QUESTIONS_PER_SESSION = 3
TIMEOUT_S = 900.0  # per question, queue wait included
POLL_S = 0.005  # how often a session looks for new streamed updates
QUESTIONS = [
    [
        "What is key salting?",
        "and how is it different from data masking?",
        "How much does Amazon Macie cost per GB?",
    ],
    ["When should I pick EMR over Glue?", "What does AWS DMS do?", "What is PartiQL?"],
    [
        "What is the difference between RBAC and ABAC?",
        "What are LF tags?",
        "What does a trust policy define?",
    ],
    ["How do I handle data skew?", "What is bucketing?", "What is schema-on-read?"],
]
# Variables read by the loadcheck itself. The server backend's two are also Settings
# names (once the server backend exists); they are kept out of the base settings so the
# in-process backend stays in-process.
ENV_SESSIONS = "LOADCHECK_SESSIONS"
ENV_QUESTIONS = "LOADCHECK_QUESTIONS"
ENV_LLM_URL = "TUTOR_LLM_URL"
ENV_LLM_MODEL = "TUTOR_LLM_MODEL"
SERVER_ENV = (ENV_LLM_URL, ENV_LLM_MODEL)

# A verified guide sentence as the page renders it: text followed by a citation link
# such as <a href="#cite-2-1" class="cite">[1]</a> (abstentions link to #sec-…, never #cite-).
CITED = re.compile(r'<a href="#cite-\d+-\d+"[^>]*>\[\d+\]</a>')
ANSWERED = "Sources:"
ABSTAINED = "The guide does not cover this."
ERROR_MARK = "⚠️"


@dataclass(frozen=True)
class Backend:
    """One way of answering: a name and the Settings overrides given to `build_app`."""

    name: str
    overrides: dict[str, Any]


@dataclass
class Request:
    """One question's outcome. `outcome`: answered, abstained, error or lost."""

    session: int
    question: str
    outcome: str
    first_sentence_s: float | None = None
    total_s: float | None = None
    detail: str = ""


@dataclass
class BackendRun:
    """All requests of one backend's run, or why it did not run (`skipped`)."""

    backend: Backend
    sessions: int
    questions_per_session: int
    requests: list[Request] = field(default_factory=list)
    wall_s: float = 0.0
    load_before: tuple[float, ...] | None = None
    skipped: str | None = None
    server_cpu_s: float | None = None  # the web app's process, while the sessions ran
    client_cpu_s: float | None = None  # this process: the sessions' clients

    def summary(self) -> dict[str, Any]:
        """The figures (JSON-ready): percentiles are None when nothing was measured."""
        firsts = [r.first_sentence_s for r in self.requests if r.first_sentence_s is not None]
        totals = [r.total_s for r in self.requests if r.total_s is not None]
        count = {o: sum(r.outcome == o for r in self.requests) for o in OUTCOMES}
        sent = self.sessions * self.questions_per_session
        done = count["answered"] + count["abstained"]
        return {
            "backend": self.backend.name,
            "overrides": self.backend.overrides,
            "skipped": self.skipped,
            "load_sessions": self.sessions,
            "load_questions": sent,
            "load_first_sentence_p50_s": _rounded(firsts, 0.5),
            "load_first_sentence_p95_s": _rounded(firsts, 0.95),
            "load_total_p50_s": _rounded(totals, 0.5),
            "load_total_p95_s": _rounded(totals, 0.95),
            "load_total_max_s": round(max(totals), 3) if totals else None,
            "first_sentence_measured": len(firsts),
            "throughput_qps": round(done / self.wall_s, 3) if self.wall_s > 0 else None,
            "wall_s": round(self.wall_s, 2),
            "answered": count["answered"],
            "abstained": count["abstained"],
            "errors": count["error"],
            # sent but no final answer: never came back, or came back unfinished
            "lost": sent - done - count["error"] if self.skipped is None else None,
            "load_avg_before": self.load_before,
            "server_cpu_s": self.server_cpu_s,
            "client_cpu_s": self.client_cpu_s,
        }


OUTCOMES = ("answered", "abstained", "error", "lost")


def _rounded(xs: list[float], q: float) -> float | None:
    return round(pct(xs, q), 3) if xs else None


def has_cited_sentence(content: str) -> bool:
    """Whether an assistant message shows at least one cited guide sentence."""
    return CITED.search(content) is not None


def message_text(message: Mapping[str, Any]) -> str:
    c = message["content"]
    if isinstance(c, list):
        return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return str(c)


def _outcome(content: str) -> str | None:
    """The final state an assistant message shows, or None while it is still coming."""
    if content.startswith(ERROR_MARK):
        return "error"
    if ANSWERED in content and "⏳" not in content:
        return "answered"
    if ABSTAINED in content:
        return "abstained"
    return None


def new_client(url: str, tls: ssl.SSLContext) -> Any:
    """A gradio_client session that reuses one TLS context.

    gradio_client opens a new httpx client for every submitted question (and for its
    message stream), and httpx builds a fresh default TLS context for each: about 28 ms
    of CPU loading the CA certificates, even for this loopback http:// URL. With 32
    sessions asking at once that came to ~1.6 s of the load generator's own CPU on 2
    cores, counted as the tutor's first-sentence time. One shared context (still
    verifying, should the URL ever be https) removes that cost; a browser has none."""
    from gradio_client import Client

    return Client(url, verbose=False, ssl_verify=tls)  # httpx takes an SSLContext here


def ask_inputs(question: str, chat: list[dict[str, Any]], k: int) -> tuple[Any, ...]:
    """The page's `/ask` inputs: question, chat, passages (k), model ("" = default),
    temperature. The one place to change if the page's inputs change."""
    return (question, chat, k, "", 0.0)


def ask(
    client: Any,
    session: int,
    question: str,
    chat: list[dict[str, Any]],
    *,
    k: int,
    timeout: float = TIMEOUT_S,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Request, list[dict[str, Any]]]:
    """Submit one question in a session and read its streamed updates as they arrive.

    Returns the request's outcome and the chat to send with the session's next question.
    """
    req = Request(session, question, "lost")
    t0 = clock()
    seen = 0
    try:
        job = client.submit(*ask_inputs(question, chat, k), api_name="/ask")
        while True:
            finished = job.done()  # read before the outputs, so none is missed at the end
            outputs = job.outputs()
            for out in outputs[seen:]:
                now = clock() - t0
                new_chat = out[0] or []
                content = message_text(new_chat[-1]) if new_chat else ""
                if req.first_sentence_s is None and has_cited_sentence(content):
                    req.first_sentence_s = now
                state = _outcome(content)
                if state and req.total_s is None:
                    req.outcome, req.total_s, chat = state, now, new_chat
                    if state == "error":
                        req.detail = content[:160]
            seen = len(outputs)
            if finished:
                break
            if clock() - t0 > timeout:
                job.cancel()
                req.outcome, req.detail = "lost", f"no final answer after {timeout:.0f} s"
                return req, chat
            time.sleep(POLL_S)
        job.result()  # raises if the request failed in the server
    except Exception as e:  # a failed request is what this check is for
        req.outcome, req.detail = "error", f"{type(e).__name__}: {e}"[:160]
    if req.total_s is None and req.outcome == "lost":
        req.detail = "the request ended without a final answer"
    if req.outcome != "answered":
        req.first_sentence_s = None  # a cited line in an abstention or error is not timed
    return req, chat


def base_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for the base Settings: without the server backend's variables."""
    return {k: v for k, v in env.items() if k not in SERVER_ENV}


def check_backend(backend: Backend, env: Mapping[str, str]) -> str | None:
    """None when Settings accept the backend's overrides; otherwise why not."""
    from tutor.config import load_settings

    try:
        load_settings(env=base_env(env)).with_overrides(**backend.overrides)
    except TutorError as e:
        return str(e)
    return None


def _serve(overrides: dict[str, Any], env: dict[str, str], ports: Any, stop: Any) -> None:
    """Child process: build the app with the backend's settings and serve it until told."""
    from tutor.config import load_settings
    from tutor.web.app import build_app, launch

    app = build_app(load_settings(env=base_env(env)).with_overrides(**overrides))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    launch(app, port=port, block=False)
    ports.put(port)
    stop.wait()
    app.close()


@contextlib.contextmanager
def served(backend: Backend, env: Mapping[str, str]) -> Iterator[tuple[str, int]]:
    """The web app for one backend, in a child process; yields its URL and the pid."""
    ctx = mp.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(backend.overrides, dict(env), ports, stop), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=300)
        yield f"http://127.0.0.1:{port}/", int(proc.pid or 0)
    finally:
        stop.set()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()


def questions_for(session: int, n: int) -> list[str]:
    group = QUESTIONS[session % len(QUESTIONS)]
    return [group[i % len(group)] for i in range(n)]


def run_backend(
    backend: Backend,
    sessions: int = SESSIONS,
    questions: int = QUESTIONS_PER_SESSION,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_S,
) -> BackendRun:
    """Serve the app for `backend`, warm it up, then run every session at once."""
    from tutor.config import load_settings

    env = dict(os.environ) if env is None else env
    run = BackendRun(backend, sessions, questions)
    run.skipped = check_backend(backend, env)
    if run.skipped:
        return run
    k = load_settings(env=base_env(env)).with_overrides(**backend.overrides).k
    with served(backend, env) as (url, pid):
        # waits for the index and the model to load; not counted
        tls = ssl.create_default_context()
        warm = new_client(url, tls)
        warm.predict(*ask_inputs("warm up: what is a data lake?", [], k), api_name="/ask")
        warm.close()
        lock = threading.Lock()
        released: list[float] = []  # when every client was connected and asking began
        start = threading.Barrier(sessions, action=lambda: released.append(time.perf_counter()))

        def session(i: int) -> None:
            try:
                client = new_client(url, tls)
                # the session's server state, as a browser's page load creates it (Gradio
                # builds it on a session's first event, from the whole page's config)
                client.predict(api_name="/new")
            except Exception as e:  # no client: every question of the session failed
                with lock:
                    run.requests += [
                        Request(i, q, "error", detail=f"client: {type(e).__name__}: {e}")
                        for q in questions_for(i, questions)
                    ]
                start.abort()
                return
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait()  # every client is connected: now all ask at once
            chat: list[dict[str, Any]] = []
            for q in questions_for(i, questions):
                req, chat = ask(client, i, q, chat, k=k, timeout=timeout)
                with lock:
                    run.requests.append(req)
            client.close()

        run.load_before = tuple(round(x, 2) for x in os.getloadavg())
        cpu_before = cpu_seconds(pid), cpu_seconds()
        threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run.wall_s = time.perf_counter() - (released[0] if released else t0)
        run.server_cpu_s, run.client_cpu_s = (
            round(after - before, 2) if after is not None and before is not None else None
            for before, after in zip(cpu_before, (cpu_seconds(pid), cpu_seconds()), strict=True)
        )
    return run


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU seconds used so far by this process (`pid` None) or by the
    process `pid` (read from /proc; None where there is none)."""
    if pid is None:
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(llm_url: str | None, llm_model: str | None) -> list[Backend]:
    """The in-process model, and the server backend when a URL is given."""
    out = [Backend("in-process", {})]
    if llm_url:
        server: dict[str, Any] = {"llm_url": llm_url}
        if llm_model:
            server["llm_model"] = llm_model
        out.append(Backend("server", server))
    return out


ROWS = [
    ("sessions", "load_sessions", "{}"),
    ("questions sent", "load_questions", "{}"),
    ("first cited sentence p50 (s)", "load_first_sentence_p50_s", "{:.2f}"),
    ("first cited sentence p95 (s)", "load_first_sentence_p95_s", "{:.2f}"),
    ("whole answer p50 (s)", "load_total_p50_s", "{:.2f}"),
    ("whole answer p95 (s)", "load_total_p95_s", "{:.2f}"),
    ("whole answer max (s)", "load_total_max_s", "{:.2f}"),
    ("throughput (questions/s)", "throughput_qps", "{:.3f}"),
    ("wall (s)", "wall_s", "{:.1f}"),
    ("answered / abstained", None, ""),
    ("errors", "errors", "{}"),
    ("lost", "lost", "{}"),
    ("web app CPU (s)", "server_cpu_s", "{:.1f}"),
    ("load generator CPU (s)", "client_cpu_s", "{:.1f}"),
]


def table(summaries: list[dict[str, Any]]) -> str:
    """The backends side by side, one row per figure."""

    def cell(s: dict[str, Any], key: str | None, fmt: str) -> str:
        if s["skipped"]:
            return "skipped"
        if key is None:
            return f"{s['answered']} / {s['abstained']}"
        return "—" if s[key] is None else fmt.format(s[key])

    head = ["", *(s["backend"] for s in summaries)]
    body = [[label, *(cell(s, key, fmt) for s in summaries)] for label, key, fmt in ROWS]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    return "\n".join(lines)


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Atomically: a temporary file beside `path`, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _positive(raw: str) -> int:
    n = int(raw)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def parse_args(argv: list[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tutor.loadcheck",
        description="Concurrent sessions against the web tutor, per backend, side by side.",
    )
    p.add_argument(
        "--sessions",
        type=_positive,
        default=env.get(ENV_SESSIONS, SESSIONS),
        help=f"concurrent sessions (env {ENV_SESSIONS}; default {SESSIONS})",
    )
    p.add_argument(
        "--questions",
        type=_positive,
        default=env.get(ENV_QUESTIONS, QUESTIONS_PER_SESSION),
        help=f"questions per session (env {ENV_QUESTIONS}; default {QUESTIONS_PER_SESSION})",
    )
    p.add_argument(
        "--llm-url",
        default=env.get(ENV_LLM_URL),
        help=f"also run the OpenAI-compatible server backend at this URL (env {ENV_LLM_URL})",
    )
    p.add_argument(
        "--llm-model",
        default=env.get(ENV_LLM_MODEL),
        help=f"the server's model name (env {ENV_LLM_MODEL})",
    )
    p.add_argument(
        "--no-server",
        action="store_true",
        help="without --llm-url, run only the in-process model (no local server column)",
    )
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds one question may take")
    p.add_argument(
        "--json", type=Path, default=Path("loadcheck.json"), help="where to write the figures"
    )
    args = p.parse_args(argv)
    # argparse does not convert defaults taken from the environment through `type`
    try:
        args.sessions, args.questions = _positive(args.sessions), _positive(args.questions)
    except (ValueError, argparse.ArgumentTypeError) as e:
        p.error(f"{ENV_SESSIONS}/{ENV_QUESTIONS}: {e}")
    return args


def main(argv: list[str] | None = None) -> int:
    env = dict(os.environ)
    args = parse_args(argv, env)
    with contextlib.ExitStack() as stack:
        url, model = args.llm_url, args.llm_model
        if not url and not args.no_server:
            # no server given: llama.cpp's server with the same GGUF, on loopback
            from tutor.config import load_settings
            from tutor.generate.llama_server import local_server

            print("server: starting a local OpenAI-compatible server with the GGUF…", flush=True)
            url = stack.enter_context(local_server(load_settings(env=base_env(env))))
        runs = run_all(backends(url, model), args, env)
    return report(runs, args)


def run_all(
    chosen: list[Backend], args: argparse.Namespace, env: dict[str, str]
) -> list[BackendRun]:
    """Each backend in turn (never at once: they would share the same cores)."""
    runs: list[BackendRun] = []
    for backend in chosen:
        print(
            f"{backend.name}: {args.sessions} sessions × {args.questions} questions…",
            flush=True,
        )
        run = run_backend(backend, args.sessions, args.questions, env, args.timeout)
        if run.skipped:
            print(f"  skipped: {run.skipped}", flush=True)
        runs.append(run)
    return runs


def report(runs: list[BackendRun], args: argparse.Namespace) -> int:
    """Print the table (and any lost or failed request), write the JSON; the exit status."""
    summaries = [r.summary() for r in runs]
    for run in runs:
        for r in sorted(run.requests, key=lambda r: (r.session, r.total_s or 0.0)):
            if r.outcome in ("error", "lost"):
                print(
                    f"{run.backend.name} session {r.session}: {r.outcome}: {r.question}: {r.detail}"
                )
    print()
    print(table(summaries))
    print(
        f"\n{os.cpu_count()} CPU cores; load average before each run: "
        + ", ".join(
            f"{s['backend']} {s['load_avg_before']}" for s in summaries if s["load_avg_before"]
        )
    )
    figures = {
        "tool": "tutor.loadcheck",
        "cpu_count": os.cpu_count(),
        "backends": {s["backend"]: s for s in summaries},
        "requests": {r.backend.name: [asdict(q) for q in r.requests] for r in runs},
    }
    write_json(args.json, figures)
    print(f"figures written to {args.json}")
    bad = any(s["skipped"] or s["errors"] or s["lost"] for s in summaries)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
