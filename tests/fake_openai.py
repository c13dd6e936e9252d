"""A scripted OpenAI-compatible server on loopback: real HTTP for the real `openai` client.

`/v1/chat/completions` answers as scripted; `/v1/embeddings` answers deterministic vectors;
`/v1/files` and `/v1/batches` run the Batch API: a batch's lines are answered by the same
script once `batch_seconds` have passed since it was created.

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
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    payload: dict[str, Any] | str
    usage: tuple[int, int] | None = (120, 40)
    model: str | None = None  # the model the server says it ran (default: the one asked for)
    cached_tokens: int = 0
    finish_reason: str = "stop"


@dataclass
class Fail:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted failure"
    param: str | None = None  # the request field the error is about, as OpenAI names it


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
    def __init__(
        self, default: Callable[[Seen], Action] | None = None, rpm: float | None = None
    ) -> None:
        """`rpm` makes chat completions enforce a requests-per-minute limit as providers do:
        a bucket of one second's worth that refills continuously; over it, a 429."""
        self.rpm = rpm
        self.latency_s = 0.0  # how long a chat completion takes to answer, like a real model
        self._level, self._refilled = (rpm or 0) / 60, time.monotonic()
        self.limited = 0  # 429s sent for the rpm limit
        self.answered: list[float] = []  # arrival times of chat completions let through
        self.script: deque[Action] = deque()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_seconds = 0.2
        self.expire_after: int | None = None  # the next batch answers this many, then expires
        self.fail_next_batch: str | None = None  # the next batch fails validation with this
        self.seen: list[Seen] = []
        self.default = default or (lambda seen: Fail(500, message="nothing scripted"))
        self._lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def then(self, *actions: Action) -> FakeOpenAI:
        self.script.extend(actions)
        return self

    def _next(self, seen: Seen, limited: bool = True) -> Action:
        with self._lock:
            self.seen.append(seen)
            if self.rpm and limited:
                rate = self.rpm / 60
                self._level = min(rate, self._level + (seen.at - self._refilled) * rate)
                self._refilled = seen.at
                if self._level < 1:
                    self.limited += 1
                    wait_ms = int((1 - self._level) / rate * 1000) + 1
                    return Fail(429, {"retry-after-ms": str(wait_ms)},
                                f"Rate limit reached: {self.rpm:g} requests per minute")
                self._level -= 1
                self.answered.append(seen.at)
            return self.script.popleft() if self.script else self.default(seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = self.path.rstrip("/").split("/")
                if len(parts) >= 2 and parts[-2] == "batches" and parts[-1] in fake.batches:
                    self._send(200, fake._batch(parts[-1]))
                elif parts[-1] == "content" and parts[-2] in fake.files:
                    raw = fake.files[parts[-2]]
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                elif parts[-1] == "models":
                    self._send(200, {"object": "list", "data": [
                        {"id": "fake-model", "object": "model", "owned_by": "tests"}]})
                else:
                    self._send(404, {"error": {"message": f"no {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if self.path.endswith("/files"):
                    self._send(200, fake._upload(self.headers["content-type"], raw))
                    return
                body = json.loads(raw or b"{}")
                if self.path.endswith("/batches"):
                    self._send(200, fake._create_batch(body))
                    return
                if self.path.endswith("/embeddings"):
                    self._send(200, _embeddings(body))
                    return
                seen = Seen(time.monotonic(), self.path, body)
                action = fake._next(seen)
                if fake.latency_s and not isinstance(action, Fail):
                    time.sleep(fake.latency_s)
                if isinstance(action, Stall):
                    time.sleep(action.seconds)
                    action = Answer("{}")
                if isinstance(action, Fail):
                    error = {"error": {"message": action.message, "type": "scripted",
                                       "param": action.param, "code": str(action.status)}}
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

    def _upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        message = BytesParser(policy=default).parsebytes(
            f"content-type: {content_type}\r\n\r\n".encode() + raw)
        data = next(part.get_payload(decode=True) for part in message.iter_parts()
                    if part.get_param("name", header="content-disposition") == "file")
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "purpose": "batch",
                "created_at": int(time.time()), "filename": "requests.jsonl",
                "status": "processed"}

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            batch_id = f"batch_{len(self.batches) + 1}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"], "completion_window": "24h",
                "status": "in_progress", "created_at": int(time.time()), "errors": None,
                "output_file_id": None, "error_file_id": None,
                "metadata": body.get("metadata"), "_ready_at": time.monotonic()
                + self.batch_seconds, "_expire_after": self.expire_after,
                "_fail": self.fail_next_batch,
            }
            self.expire_after = self.fail_next_batch = None
        return self._batch(batch_id)

    def _batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        with self._batch_lock:
            if batch["status"] == "in_progress" and time.monotonic() >= batch["_ready_at"]:
                self._finish(batch)
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answers the batch's lines by the script, into an output and an error file."""
        if batch["_fail"]:
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [
                {"code": "invalid_request", "message": batch["_fail"], "line": 1}]}
            return
        lines = self.files[batch["input_file_id"]].decode().splitlines()
        if batch["_expire_after"] is not None:
            lines = lines[: batch["_expire_after"]]
        output, errors = [], []
        for number, line in enumerate(lines):
            request = json.loads(line)
            seen = Seen(time.monotonic(), "batch:" + request["url"], request["body"])
            action = self._next(seen, limited=False)
            if isinstance(action, Stall):
                action = Answer("{}")
            record: dict[str, Any] = {"id": f"batch_req_{number}",
                                      "custom_id": request["custom_id"], "error": None}
            if isinstance(action, Fail):
                record["response"] = {"status_code": action.status, "request_id": "req",
                                      "body": {"error": {"message": action.message}}}
                errors.append(record)
            else:
                record["response"] = {"status_code": 200, "request_id": "req",
                                      "body": _completion(request["body"], action, seen)}
                output.append(record)
        for kind, records in (("output_file_id", output), ("error_file_id", errors)):
            if records:
                file_id = f"file-{batch['id']}-{kind[:3]}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in records).encode()
                batch[kind] = file_id
        batch["status"] = "expired" if batch["_expire_after"] is not None else "completed"
        batch["request_counts"] = {"total": len(lines), "completed": len(output),
                                   "failed": len(errors)}

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
    usage, served, cached, finish = None, body.get("model", "fake"), 0, "stop"
    if isinstance(action, Answer):
        served, cached, finish = action.model or served, action.cached_tokens, action.finish_reason
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
        "created": int(time.time()), "model": served,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if message.get("tool_calls") else finish}],
    }
    if usage:
        data["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                         "total_tokens": usage[0] + usage[1],
                         "prompt_tokens_details": {"cached_tokens": cached}}
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
