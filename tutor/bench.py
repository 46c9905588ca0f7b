"""Benchmark: index build, retrieval latency, first token, decode speed, memory, and
the cold start of the one-off CLI.

Run with `make bench` (or `python -m tutor.bench`). Prints a table and writes
`bench.json`. Decode speed is measured through the tutor (streaming + per-sentence
verification) and bare (the same in-process drafter on the same prompts, its text not
verified), interleaved in one run, so that the ratio is not skewed by a noisy machine.
`server_first_token_p50_s` asks the same questions through the server backend in the
same loop: the server at `TUTOR_LLM_URL` if set, else llama.cpp's `llama-server` started
on loopback with the same GGUF. The cold start launches `tutor ask` and `tutor --help` as
new processes, alternately, COLD_RUNS times each (medians; "cold" is a new process, the
operating system's file cache stays warm). Figures, not assertions.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tutor.config import load_settings

QUESTIONS = [
    "When should I pick EMR over Glue?",
    "What is AWS Lake Formation used for?",
    "What does Amazon Kinesis Data Firehose do?",
    "How do I give another account access to my S3 bucket?",
    "What is the difference between RBAC and ABAC?",
    "What is dynamic data masking in Redshift?",
    "What is Amazon MSK?",
    "How do I keep Glue Data Catalog partitions in sync?",
    "Why use columnar storage for analytics?",
    "How should Lambda retry failed records?",
    "How do I handle data skew?",
    "What is key salting?",
    "What is CloudTrail Lake?",
    "What is the difference between ETL and ELT?",
    "What are the S3 storage classes for infrequent access?",
    "What does AWS Glue DataBrew do?",
    "How does Step Functions orchestrate pipelines?",
    "What is schema evolution?",
    "What does AWS DMS do?",
    "How is data encrypted at rest with KMS?",
]


# two guide lines answer it, and the model drafts its full max_tokens (of the QUESTIONS,
# half are answered by guide lines alone, and then the model is neither loaded nor run)
COLD_QUESTION = "What is key salting?"
COLD_RUNS = 5
CITED = re.compile(r"\[\d+\]\s*$")  # an answer line ends with its citation, "… [2]"


def same_code_env() -> dict[str, str]:
    """The environment for a timed `tutor` process: this process's environment, with the
    folder that holds the `tutor` package this bench imported first on PYTHONPATH. The
    venv's `tutor` script of an editable install imports the project it was installed
    from, whatever the working directory: without this, a bench run from another
    checkout (to compare an older commit) timed the installed project's CLI, not its
    own."""
    import tutor

    root = str(Path(tutor.__file__).resolve().parents[1])
    rest = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + rest if rest else "")}


def cold_run(cmd: list[str], cwd: Path | None = None) -> tuple[float | None, float]:
    """Run a command in a new process; (seconds until its first stdout line that ends
    with a citation, or None; seconds until it exits). Lines are timed as they arrive,
    so this relies on the CLI flushing each line (click.echo does)."""
    t0 = time.perf_counter()
    first = None
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=same_code_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as p:
        assert p.stdout is not None
        for line in p.stdout:
            if first is None and CITED.search(line):
                first = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}")
    return first, time.perf_counter() - t0


def cli_cold(runs: int = COLD_RUNS) -> dict[str, float | None]:
    """Cold `tutor ask COLD_QUESTION` beside `tutor --help`, alternately; medians."""
    tutor = str(Path(sys.executable).with_name("tutor"))
    firsts: list[float] = []
    totals: list[float] = []
    helps: list[float] = []
    for _ in range(runs):
        helps.append(cold_run([tutor, "--help"])[1])
        first, total = cold_run([tutor, "ask", COLD_QUESTION])
        totals.append(total)
        if first is not None:
            firsts.append(first)
    return {
        "cli_cold_first_sentence_s": round(statistics.median(firsts), 2) if firsts else None,
        "cli_cold_total_s": round(statistics.median(totals), 2),
        "help_s": round(statistics.median(helps), 3),
    }


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main() -> None:
    from tutor.answer import Tutor, messages_for
    from tutor.embed import Embedder
    from tutor.generate import Usage, drafter_for
    from tutor.generate.llama_server import local_server
    from tutor.index import build_index, load_index

    settings = load_settings()
    in_process = settings.with_overrides(llm_url="")  # the in-process figures: the GGUF here
    # first, while this process holds no model: new processes, as a student runs them
    cold = cli_cold()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build_index(in_process.with_overrides(index_dir=Path(tmp) / "index"), Embedder())
        index_build_s = time.perf_counter() - t0

    tutor = Tutor(in_process, load_index(in_process))  # questions embedded as `tutor ask` does
    tutor.retriever.search("warm up", settings.k)
    retrieve_ms = []
    for _ in range(3):
        for q in QUESTIONS:
            t = time.perf_counter()
            tutor.retriever.search(q, settings.k)
            retrieve_ms.append((time.perf_counter() - t) * 1000)

    with contextlib.ExitStack() as stack:
        # the server backend: TUTOR_LLM_URL's server, or llama-server with the same GGUF
        url = settings.llm_url or stack.enter_context(local_server(in_process))
        server = drafter_for(settings.with_overrides(llm_url=url))
        server.warm_up()
        tutor.warm_up()
        for gen in (tutor.generator, server):  # warm the models and the system-prompt cache
            tutor.ask(QUESTIONS[0], generator=gen)
        first_token: list[float] = []
        first_sentence: list[float] = []
        total: list[float] = []
        tutor_rates: list[float] = []
        bare_rates: list[float] = []
        after_retrieval: list[float] = []
        server_first_token: list[float] = []
        for q in QUESTIONS:
            ans = tutor.ask(q)
            tm = ans.timings
            total.append(tm.total_s or 0.0)
            if tm.first_token_s is not None:
                first_token.append(tm.first_token_s)
            if tm.first_sentence_s is not None and tm.retrieve_s is not None:
                first_sentence.append(tm.first_sentence_s)
                after_retrieval.append(tm.first_sentence_s - tm.retrieve_s)
            served = tutor.ask(q, generator=server).timings.first_token_s
            if served is not None:
                server_first_token.append(served)
            if ans.abstained:
                continue
            if tm.decode_tok_s:
                tutor_rates.append(tm.decode_tok_s)
            # the same drafter on the same prompt, its text consumed with no verification
            hits = tutor.retriever.search(ans.standalone_question, settings.k)
            usage = Usage()
            for _ in tutor.generator.stream(
                messages_for(ans.standalone_question, hits, tutor.lexicon),
                settings.max_tokens,
                settings.temperature,
                usage,
            ):
                pass
            if usage.completion_tokens > 1 and usage.decode_s > 0:
                bare_rates.append((usage.completion_tokens - 1) / usage.decode_s)
        server_name = server.name

    model_name = tutor.generator.name
    load = load_figures()  # the load check serves its own app, in a child process
    decode = statistics.median(tutor_rates) if tutor_rates else 0.0
    bare = statistics.median(bare_rates) if bare_rates else 0.0
    out = {
        "index_build_s": round(index_build_s, 2),
        "retrieve_p50_ms": round(pct(retrieve_ms, 0.5), 2),
        "retrieve_p95_ms": round(pct(retrieve_ms, 0.95), 2),
        "first_token_p50_s": _median(first_token, 3),
        "first_sentence_p50_s": _median(first_sentence, 3),
        "first_sentence_after_retrieval_p50_s": _median(after_retrieval, 4),
        "total_p50_s": round(statistics.median(total), 3),
        "decode_tok_s": round(decode, 1),
        "decode_tok_s_bare": round(bare, 1),
        "decode_ratio": round(decode / bare, 3) if bare else None,
        "server_first_token_p50_s": _median(server_first_token, 3),
        **cold,
        **load,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model": model_name,
        "server_model": f"{server_name} at {url}",
        "machine": f"{platform.machine()}, {_cores()} cores, {platform.python_version()}, "
        f"{platform.platform()}",
    }
    Path("bench.json").write_text(json.dumps(out, indent=2) + "\n")
    width = max(len(k) for k in out)
    for k, v in out.items():
        print(f"{k:<{width}}  {v}")
    print(
        f"questions: {len(QUESTIONS)}, model drafts timed: {len(tutor_rates)} (the others "
        "abstained or were answered by guide lines alone); wrote bench.json"
    )


def load_figures(sessions: int = 32, questions: int = 3) -> dict[str, Any]:
    """The web page under load, in-process model (`make loadcheck` has both backends):
    `sessions` concurrent sessions × `questions` each, timed from their streamed updates."""
    from tutor.loadcheck import Backend, run_backend

    s = run_backend(Backend("in-process", {}), sessions, questions).summary()
    keys = ("load_sessions", "load_first_sentence_p50_s", "load_first_sentence_p95_s")
    more = ("load_total_p50_s", "load_total_p95_s", "throughput_qps", "errors", "lost")
    return {k if k.startswith("load_") else f"load_{k}": s.get(k) for k in (*keys, *more)}


def _median(xs: list[float], digits: int) -> float | None:
    return round(statistics.median(xs), digits) if xs else None


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
