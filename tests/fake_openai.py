"""A scripted OpenAI-compatible server on loopback: real HTTP for the real `openai` client.

`/v1/chat/completions` answers as scripted; `/v1/embeddings` answers deterministic vectors.

Each request takes the next scripted action (answer, fail with a status, stall, refuse); with
the script empty, `default` answers. Every request is recorded with its arrival time."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    payload: dict[str, Any] | str
    usage: tuple[int, int] | None = (120, 40)


@dataclass
class Fail:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted failure"


@dataclass
class Stall:
    seconds: float


@dataclass
class Refuse:
    text: str = "I can't help with that."


Action = Answer | Fail | Stall | Refuse


@dataclass
class Seen:
    at: float
    path: str
    body: dict[str, Any]

    @property
    def schema_name(self) -> str:
        fmt = self.body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return str(fmt["json_schema"]["name"])
        tools = self.body.get("tools") or []
        return str(tools[0]["function"]["name"]) if tools else ""

    def text(self) -> str:
        return "\n".join(str(m.get("content")) for m in self.body["messages"])


class FakeOpenAI:
    def __init__(self, default: Callable[[Seen], Action] | None = None) -> None:
        self.script: deque[Action] = deque()
        self.seen: list[Seen] = []
        self.default = default or (lambda seen: Fail(500, message="nothing scripted"))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def then(self, *actions: Action) -> FakeOpenAI:
        self.script.extend(actions)
        return self

    def _next(self, seen: Seen) -> Action:
        with self._lock:
            self.seen.append(seen)
            return self.script.popleft() if self.script else self.default(seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/embeddings"):
                    self._send(200, _embeddings(body))
                    return
                seen = Seen(time.monotonic(), self.path, body)
                action = fake._next(seen)
                if isinstance(action, Stall):
                    time.sleep(action.seconds)
                    action = Answer("{}")
                if isinstance(action, Fail):
                    error = {"error": {"message": action.message, "type": "scripted",
                                       "code": str(action.status)}}
                    self._send(action.status, error, action.headers)
                    return
                self._send(200, _completion(body, action, seen))

            def _send(self, status: int, data: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeOpenAI]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def _completion(body: dict[str, Any], action: Answer | Refuse, seen: Seen) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    usage = None
    if isinstance(action, Refuse):
        message["refusal"] = action.text
    else:
        content = action.payload if isinstance(action.payload, str) else json.dumps(
            action.payload, ensure_ascii=False)
        usage = action.usage
        if body.get("tools"):
            message["tool_calls"] = [{
                "id": "call_1", "type": "function",
                "function": {"name": seen.schema_name, "arguments": content},
            }]
        else:
            message["content"] = content
    data: dict[str, Any] = {
        "id": f"chatcmpl-{len(seen.body)}", "object": "chat.completion",
        "created": int(time.time()), "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
    }
    if usage:
        data["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                         "total_tokens": usage[0] + usage[1]}
    return data


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic 8-dimensional vectors from the text's bytes: same text, same vector."""
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for index, text in enumerate(texts):
        raw = hashlib.sha256(str(text).encode()).digest()
        data.append({"object": "embedding", "index": index,
                     "embedding": [b / 255 - 0.5 for b in raw[:8]]})
    return {"object": "list", "data": data, "model": body.get("model", "fake"),
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}}
