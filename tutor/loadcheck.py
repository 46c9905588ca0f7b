"""Load check: 8 concurrent browser-like sessions, 3 questions each, against a real server.

Run with `make loadcheck` (or `python -m tutor.loadcheck`). Starts the web app on a free
loopback port in this process, then each session (its own gradio_client, so its own
state) asks its questions one after another while the others do the same. Prints, for
every request, whether it was answered, and p50/p95 of the time from submitting to the
final answer (queue wait included). Figures, not assertions; exits 1 if any request was
lost or failed.
"""

from __future__ import annotations

import socket
import statistics
import sys
import threading
import time

SESSIONS = 8
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


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _text(message: dict) -> str:
    c = message["content"]
    return "".join(p.get("text", "") for p in c) if isinstance(c, list) else str(c)


def main() -> int:
    from gradio_client import Client

    from tutor.config import load_settings
    from tutor.web.app import build_app, launch

    settings = load_settings()
    app = build_app(settings)
    port = _port()
    launch(app, port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    Client(url, verbose=False).predict(
        "warm up: what is a data lake?", [], settings.k, "", 0.0, api_name="/ask"
    )  # waits for the models to load
    results: list[tuple[int, str, float, str]] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        client = Client(url, verbose=False)
        chat: list = []
        for q in QUESTIONS[i % len(QUESTIONS)]:
            t0 = time.perf_counter()
            try:
                chat, _panel, _box, _scope = client.predict(
                    q, chat, settings.k, "", 0.0, api_name="/ask"
                )
                last = _text(chat[-1])
                ok = "Sources:" in last or "does not cover" in last
                outcome = (
                    "answered"
                    if "Sources:" in last
                    else ("abstained" if ok else f"FAILED: {last[:80]}")
                )
            except Exception as e:  # a lost request is what this check is for
                outcome = f"FAILED: {type(e).__name__}: {e}"
            with lock:
                results.append((i, q, time.perf_counter() - t0, outcome))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    wall = time.perf_counter() - t0
    for i, q, dt, outcome in sorted(results):
        print(f"session {i}  {dt:6.1f} s  {outcome:10}  {q}")
    lat = sorted(dt for _, _, dt, _ in results)
    failed = [r for r in results if r[3].startswith("FAILED")]
    expected = SESSIONS * 3
    print(f"\nrequests: {expected} sent, {len(results)} came back, {len(failed)} failed")
    if lat:
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        print(
            f"latency (submit to final answer, queue included): p50 "
            f"{statistics.median(lat):.1f} s, p95 {p95:.1f} s, max {lat[-1]:.1f} s; "
            f"wall {wall:.1f} s"
        )
    app.close()
    return 0 if len(results) == expected and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
