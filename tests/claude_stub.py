"""A local stand-in for the Anthropic Messages API, served over real HTTP on 127.0.0.1.

Tests point the real SDK at it with ``ANTHROPIC_BASE_URL`` (or ``base_url``), so the whole
client stack (httpx2, retries, headers, JSON) runs.  Replies come from a scripted queue;
every request is recorded for assertions.  ``/v1/messages/count_tokens`` answers with a
deterministic count (about four characters per token) unless a fixed count is given.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "ClaudeStub",
    "Recorded",
    "Reply",
    "api_error",
    "malformed_reply",
    "overloaded",
    "rate_limited",
    "refusal_reply",
    "text_reply",
    "tool_reply",
    "unauthorized",
]


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def _message(content: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": None,  # filled with the requested model
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }


def tool_reply(
    policy: str, rationale: Iterable[tuple[str, str]] = (), *, tool_id: str = ""
) -> Reply:
    """Claude calls ``submit_policy`` with this policy (the stub numbers ids if not given)."""
    block = {
        "type": "tool_use",
        "id": tool_id,
        "name": "submit_policy",
        "input": {"policy": policy, "rationale": [{"rule": r, "why": w} for r, w in rationale]},
    }
    return Reply(200, _message([block], "tool_use"))


def malformed_reply(tool_input: Any, *, name: str = "submit_policy") -> Reply:
    block = {"type": "tool_use", "id": "", "name": name, "input": tool_input}
    return Reply(200, _message([block], "tool_use"))


def text_reply(text: str) -> Reply:
    return Reply(200, _message([{"type": "text", "text": text}], "end_turn"))


def refusal_reply() -> Reply:
    return Reply(200, _message([], "refusal"))


def api_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Reply(status, body, dict(headers or {}))


def rate_limited(retry_after_ms: int = 5) -> Reply:
    # The real API sends retry-after in seconds; the -ms variant (which the SDK prefers) keeps
    # the test fast while the seconds header stays realistic.
    headers = {"retry-after": "1", "retry-after-ms": str(retry_after_ms)}
    return api_error(
        429, "rate_limit_error", "Number of request tokens has exceeded your rate limit.", headers
    )


def overloaded(retry_after_ms: int = 5) -> Reply:
    return api_error(529, "overloaded_error", "Overloaded", {"retry-after-ms": str(retry_after_ms)})


def unauthorized() -> Reply:
    return api_error(401, "authentication_error", "invalid x-api-key")


class ClaudeStub:
    """``with ClaudeStub([replies...]) as stub:`` then use ``stub.base_url``."""

    def __init__(self, replies: Iterable[Reply] = (), *, token_count: int | None = None) -> None:
        self._replies: deque[Reply] = deque(replies)
        self.token_count = token_count
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._tool_ids = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._replies)

    def message_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/v1/messages"]

    def count_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/v1/messages/count_tokens"]

    def __enter__(self) -> ClaudeStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __iter__(self) -> Iterator[Recorded]:
        return iter(list(self.requests))

    def count(self, body: dict[str, Any]) -> int:
        if self.token_count is not None:
            return self.token_count
        counted = {k: body.get(k) for k in ("system", "messages", "tools")}
        return math.ceil(len(json.dumps(counted, ensure_ascii=False)) / 4)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if not self._replies:
                return api_error(
                    500, "api_error", "stub: no scripted reply left", {"x-should-retry": "false"}
                )
            reply = self._replies.popleft()
            if reply.status == 200 and reply.body.get("type") == "message":
                payload = json.loads(json.dumps(reply.body))
                payload["model"] = body.get("model", "unknown")
                for block in payload["content"]:
                    if block.get("type") == "tool_use" and not block.get("id"):
                        self._tool_ids += 1
                        block["id"] = f"toolu_stub_{self._tool_ids:02d}"
                return Reply(reply.status, payload, reply.headers, reply.delay_s)
            return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                path = self.path.split("?", 1)[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                with stub._lock:
                    stub.requests.append(Recorded(path, headers, body))
                if path == "/v1/messages/count_tokens":
                    self._send(Reply(200, {"input_tokens": stub.count(body)}))
                elif path == "/v1/messages":
                    self._send(stub._next(body))
                else:
                    self._send(api_error(404, "not_found_error", f"stub: no route {path}"))

            def _send(self, reply: Reply) -> None:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", "req_stub")
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler
