"""Deterministic stand-ins for the two models, for unit tests of the pipeline's logic
(abstention, splitting, relevance, composition), and a misbehaving model server for the
fault tests. End-to-end tests use the real models and the real llama-server."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from tutor.embed import DIM, MODEL_NAME
from tutor.generate import DraftCutOff, Usage
from tutor.text import content_stems


class FakeEmbedder:
    """Bag of stems hashed into 384 dimensions, normalised: texts that share words are
    similar, others are not. Same name as the real model, so an index built with it
    loads."""

    name = MODEL_NAME
    dim = DIM

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> Any:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for s in content_stems(t):
                h = int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "big")
                out[i, h % DIM] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out

    def embed_one(self, text: str) -> Any:
        return self.embed([text])[0]


class FakeGenerator:
    """Streams a scripted reply, a few characters at a time, like a model would."""

    name = "fake.gguf"

    def __init__(self, reply: str, cut_after: int | None = None) -> None:
        self.reply = reply
        self.cut_after = cut_after  # characters sent before the model "dies"
        self.calls = 0
        self.pieces = 0  # pieces taken by the caller
        self.closed = False  # the caller stopped before the end of the reply

    def check(self) -> None:
        return None

    def warm_up(self) -> None:
        return None

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        self.calls += 1
        if usage is not None:
            usage.first_token_s = 0.001
        try:
            for i in range(0, len(self.reply), 7):
                if self.cut_after is not None and i >= self.cut_after:
                    raise DraftCutOff("the fake model died")
                if usage is not None:
                    usage.completion_tokens += 1
                self.pieces += 1
                yield self.reply[i : i + 7]
        except GeneratorExit:
            self.closed = True
            raise


class FakeModelServer:
    """A tiny OpenAI-style HTTP server on loopback that misbehaves on purpose, for the
    fault tests that a real server cannot be made to do on cue (the happy path uses the
    real llama-server). `mode` is one of:

    - "http500": answers every chat request with HTTP 500 and an OpenAI-style error;
    - "no-model": answers HTTP 404 "The model `x` does not exist." (as vLLM does);
    - "silent": accepts the request, then sends nothing for `delay` seconds;
    - "dies": streams `pieces`, then drops the connection in the middle of a chunk.
    """

    def __init__(self, mode: str, pieces: tuple[str, ...] = (), delay: float = 5.0) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "fake-model"}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests += 1
                if fake.mode == "http500":
                    err = {"message": "fake failure: the GPU caught fire", "type": "server_error"}
                    return self._json(500, {"error": err})
                if fake.mode == "no-model":
                    err = {"message": "The model `nope` does not exist.", "code": 404}
                    return self._json(404, {"error": err})
                if fake.mode == "silent":
                    time.sleep(fake.delay)  # the client has given up by now
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in fake.pieces:
                    chunk = {"model": "fake-model", "choices": [{"delta": {"content": piece}}]}
                    event = f"data: {json.dumps(chunk)}\n\n".encode()
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                # half a chunk, then the connection drops: the server died mid-answer
                self.wfile.write(b'40\r\ndata: {"choi')
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

        self.mode, self.pieces, self.delay, self.requests = mode, pieces, delay, 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
