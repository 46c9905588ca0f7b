"""The server backend: any OpenAI-compatible chat-completions server, over HTTP.

`--llm-url http://HOST:PORT/v1` points at the server (llama.cpp's `llama-server`, vLLM,
Ollama, LM Studio); `--llm-model NAME` picks one of its models (default: the one it
serves, when it serves one); the key, if the server wants one, comes from
`TUTOR_LLM_API_KEY` and is sent as a Bearer token. Replies are streamed (server-sent
events) through httpx, with the connect and read timeouts from the settings.

Faults become messages that name the server: it cannot be reached, it answered an HTTP
error (its own message is shown), it went silent past the read timeout, or it does not
serve the model asked for. If the reply stops after text has arrived, `DraftCutOff` is
raised so that the pipeline keeps what it has verified.

Limits: no retries (a retry would double the wait of a student who is watching); only
the chat-completions endpoint and `/models` are used; `temperature` 0 relies on the server
to decode greedily, as llama.cpp and vLLM do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import DraftCutOff, Usage, timed


def server_message(r: httpx.Response) -> str:
    """The server's own words for an HTTP error: OpenAI's {"error": {"message"}} shape,
    a bare {"error": "..."} or {"detail": ...}, or the start of the body."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return str(err)[:500]
    return r.text.strip()[:500] or r.reason_phrase


class ServerDrafter:
    """Drafts through an OpenAI-compatible server; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_url:
            raise TutorError("No server URL: pass --llm-url http://HOST:PORT/v1.")
        self.url = settings.llm_url.rstrip("/")
        self.requested = settings.llm_model
        self.served: str | None = None  # the one model /models lists, when none is asked for
        self.read_timeout = settings.llm_read_timeout
        self._timeout = httpx.Timeout(
            connect=settings.llm_connect_timeout,
            read=settings.llm_read_timeout,
            write=settings.llm_read_timeout,
            pool=settings.llm_connect_timeout,
        )
        self._headers = (
            {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
        )
        self._client: httpx.Client | None = None
        # at most `concurrency` replies at once from this process; the others wait here
        self.slots = threading.BoundedSemaphore(settings.concurrency)

    @property
    def name(self) -> str:
        return self.served or self.requested or "(the server's model)"

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout, headers=self._headers)
        return self._client

    def _failed(self, e: httpx.HTTPError, started: bool) -> TutorError:
        """A transport error as a message that names the server and what to do."""
        where = f"the model server at {self.url}"
        if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout):
            return TutorError(
                f"Cannot reach {where} ({e or 'connection failed'}): start the server, or "
                "fix --llm-url / TUTOR_LLM_URL."
            )
        if isinstance(e, httpx.TimeoutException):
            return self._stopped(
                f"{where} sent nothing for {self.read_timeout:g} s (read timeout): it may be "
                "overloaded; raise --llm-read-timeout or try again",
                started,
            )
        return self._stopped(f"{where} closed the connection ({type(e).__name__}: {e})", started)

    def models(self) -> list[str]:
        """The model names the server lists at /models."""
        try:
            r = self._http().get(self.url + "/models")
        except httpx.HTTPError as e:
            raise self._failed(e, started=False) from None
        if r.status_code >= 400:
            raise TutorError(
                f"The model server at {self.url} answered HTTP {r.status_code} to "
                f"GET /models: {server_message(r)}"
            )
        try:
            return [str(m["id"]) for m in r.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TutorError(
                f"{self.url}/models did not answer like an OpenAI-compatible server: is "
                "--llm-url the API's base URL (it usually ends in /v1)?"
            ) from None

    def check(self) -> None:
        """One GET /models: the server answers and serves the model asked for."""
        self.warm_up()

    def warm_up(self) -> None:
        """Check that the server answers and serves the model asked for."""
        names = self.models()
        if self.requested is None:
            if len(names) != 1:
                raise TutorError(
                    f"The model server at {self.url} serves {len(names)} models "
                    f"({', '.join(names) or 'none listed'}): choose one with --llm-model."
                )
            self.served = names[0]
        elif self.requested not in names:
            raise TutorError(
                f"The model server at {self.url} does not serve {self.requested!r}; it serves: "
                f"{', '.join(names) or 'none listed'}. Fix --llm-model / TUTOR_LLM_MODEL."
            )

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        """Yield the reply piece by piece (one server-sent event each); fills `usage`."""
        if self.requested is None and self.served is None:
            self.warm_up()  # learn the model's name
        usage = usage if usage is not None else Usage()
        body: dict[str, Any] = {
            "model": self.requested or self.served,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        reply = _Reply()
        with self.slots:
            t0 = time.perf_counter()
            yield from self._post(body, usage, reply, t0)

    def _post(self, body: dict[str, Any], usage: Usage, reply: _Reply, t0: float) -> Iterator[str]:
        try:
            with self._http().stream("POST", self.url + "/chat/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise TutorError(
                        f"The model server at {self.url} answered HTTP {r.status_code}: "
                        f"{server_message(r)}"
                    )
                yield from timed(self._deltas(r, usage, reply), usage, t0)
        except httpx.HTTPError as e:
            if not reply.finished:  # a break after the last token loses nothing
                raise self._failed(e, started=usage.first_token_s is not None) from None
        if not reply.finished:
            raise self._stopped(
                f"the model server at {self.url} ended its reply unfinished",
                usage.first_token_s is not None,
            )

    def _deltas(self, r: httpx.Response, usage: Usage, reply: _Reply) -> Iterator[str]:
        """The text of each streamed chunk; notes the server's token counts and whether
        the reply finished. (A chunk's "model" is not trusted: some servers echo the
        name they were asked for.)"""
        for data in _events(r.iter_lines()):
            if data == "[DONE]":
                reply.finished = True
                return
            chunk = _chunk(data, self.url)
            if "error" in chunk:
                err = chunk["error"]
                raise self._stopped(
                    f"the model server at {self.url} reported an error: "
                    + str(err.get("message", err) if isinstance(err, dict) else err),
                    usage.first_token_s is not None,
                )
            if isinstance(chunk.get("usage"), dict):  # the last chunk: the server's count
                u = chunk["usage"]
                usage.prompt_tokens = int(u.get("prompt_tokens") or 0)
                usage.completion_tokens = int(u.get("completion_tokens") or 0) or (
                    usage.completion_tokens
                )
            for choice in chunk.get("choices") or []:
                reply.finished = reply.finished or bool(choice.get("finish_reason"))
                yield (choice.get("delta") or {}).get("content") or ""

    @staticmethod
    def _stopped(msg: str, started: bool) -> TutorError:
        """Cut off when text had arrived (the pipeline keeps it), else a plain error."""
        return DraftCutOff(msg) if started else TutorError(msg[0].upper() + msg[1:] + ".")


@dataclass
class _Reply:
    finished: bool = False  # a finish_reason or [DONE] arrived


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (one `data:` line each, as these servers send)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[len("data:") :].strip()


def _chunk(data: str, url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise TutorError(f"The model server at {url} sent something that is not JSON: {data[:200]}")
    return chunk
