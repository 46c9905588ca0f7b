"""Benchmark: index build, retrieval latency, first token, decode speed, memory, and
the cold start of the one-off CLI.

Run with `make bench` (or `python -m tutor.bench`). Prints a table and writes
`bench.json`. Decode speed is measured through the tutor (streaming + per-sentence
verification) and with bare llama-cpp-python on the same prompts, interleaved in one run,
so that the ratio is not skewed by a noisy machine. The cold start launches `tutor ask`
and `tutor --help` as new processes, alternately, COLD_RUNS times each (medians; "cold"
is a new process, the operating system's file cache stays warm). Figures, not
assertions.
"""

from __future__ import annotations

import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def cold_run(cmd: list[str], cwd: Path | None = None) -> tuple[float | None, float]:
    """Run a command in a new process; (seconds until its first stdout line that ends
    with a citation, or None; seconds until it exits). Lines are timed as they arrive,
    so this relies on the CLI flushing each line (click.echo does)."""
    t0 = time.perf_counter()
    first = None
    with subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
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
    from tutor.index import build_index, load_index

    settings = load_settings()
    # first, while this process holds no model: new processes, as a student runs them
    cold = cli_cold()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build_index(settings.with_overrides(index_dir=Path(tmp) / "index"), Embedder())
        index_build_s = time.perf_counter() - t0

    tutor = Tutor(settings, load_index(settings))  # questions embedded as `tutor ask` does
    tutor.retriever.search("warm up", settings.k)
    retrieve_ms = []
    for _ in range(3):
        for q in QUESTIONS:
            t = time.perf_counter()
            tutor.retriever.search(q, settings.k)
            retrieve_ms.append((time.perf_counter() - t) * 1000)

    llm = tutor.generator.load()
    tutor.ask(QUESTIONS[0])  # warm the model and the system-prompt cache
    first_token: list[float] = []
    first_sentence: list[float] = []
    total: list[float] = []
    tutor_rates: list[float] = []
    bare_rates: list[float] = []
    after_retrieval: list[float] = []
    for q in QUESTIONS:
        ans = tutor.ask(q)
        tm = ans.timings
        total.append(tm.total_s or 0.0)
        if tm.first_token_s is not None:
            first_token.append(tm.first_token_s)
        if tm.first_sentence_s is not None and tm.retrieve_s is not None:
            first_sentence.append(tm.first_sentence_s)
            after_retrieval.append(tm.first_sentence_s - tm.retrieve_s)
        if ans.abstained:
            continue
        rate = tm.decode_tok_s
        if rate:
            tutor_rates.append(rate)
        hits = tutor.retriever.search(ans.standalone_question, settings.k)
        msgs = messages_for(ans.standalone_question, hits, tutor.lexicon)
        # bare llama-cpp-python, same prompt, same model instance
        n, t_first = 0, None
        for part in llm.create_chat_completion(
            messages=msgs, max_tokens=settings.max_tokens, temperature=0.0, top_k=1, stream=True
        ):
            if part["choices"][0]["delta"].get("content"):
                n += 1
                if t_first is None:
                    t_first = time.perf_counter()
        if n > 1 and t_first is not None:
            bare_rates.append((n - 1) / (time.perf_counter() - t_first))

    decode = statistics.median(tutor_rates) if tutor_rates else 0.0
    bare = statistics.median(bare_rates) if bare_rates else 0.0
    out = {
        "index_build_s": round(index_build_s, 2),
        "retrieve_p50_ms": round(pct(retrieve_ms, 0.5), 2),
        "retrieve_p95_ms": round(pct(retrieve_ms, 0.95), 2),
        "first_token_p50_s": round(statistics.median(first_token), 3) if first_token else None,
        "first_sentence_p50_s": (
            round(statistics.median(first_sentence), 3) if first_sentence else None
        ),
        "first_sentence_after_retrieval_p50_s": (
            round(statistics.median(after_retrieval), 4) if after_retrieval else None
        ),
        "total_p50_s": round(statistics.median(total), 3),
        "decode_tok_s": round(decode, 1),
        "decode_tok_s_bare": round(bare, 1),
        "decode_ratio": round(decode / bare, 3) if bare else None,
        **cold,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model": str(settings.gguf_path()),
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


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
