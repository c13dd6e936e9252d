"""The OpenAI Batch API for backlogs: half the price, answers within 24 hours.

The engine's prompts and checks stay the same: while a batch file is written, a
`RecordingCaller` stands in for the model and turns the engine's first call into a request
line; when the batch is done, a `ReplayCaller` hands the engine the answer from the output
file. A second call (the draft's repair round) goes to the model live, within the limits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage
from openai.types import Batch
from pydantic import BaseModel

from .llm import ChatCaller, LLMFailure, Out
from .models import Usage
from .settings import Settings

DONE = {"completed", "failed", "expired", "cancelled"}


class Deferred(Exception):  # noqa: N818 - a signal, not an error
    """Raised by `RecordingCaller`: the request goes into the batch file instead."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("deferred to the Batch API")
        self.body = body


class RecordingCaller:
    def __init__(self, live: ChatCaller) -> None:
        self.live, self.encoding, self.model = live, live.encoding, live.model

    def ask(self, messages: list[BaseMessage], schema: type[Out]) -> tuple[Out, AIMessage, Usage]:
        raise Deferred(self.live.request_body(messages, schema))


class ReplayCaller:
    """Answers the first call with the batch's answer (a completion, or the error for this
    request); any later call goes live."""

    def __init__(self, live: ChatCaller, answer: dict[str, Any] | str, price_share: float
                 ) -> None:
        self.live, self.encoding, self.model = live, live.encoding, live.model
        self._answer: dict[str, Any] | str | None = answer
        self._price_share = price_share

    def ask(self, messages: list[BaseMessage], schema: type[Out]) -> tuple[Out, AIMessage, Usage]:
        answer, self._answer = self._answer, None
        if answer is None:
            return self.live.ask(messages, schema)
        if isinstance(answer, str):
            raise LLMFailure(f"batch: {answer}")
        return self.live.answer_from(answer, schema, messages, self._price_share)


class BatchInfo(BaseModel):
    id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    errors: list[str]


class BatchClient:
    """Upload a request file, start a batch, poll it, read its answers (streamed)."""

    def __init__(self, settings: Settings) -> None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._client = openai.OpenAI(api_key=key or "not-needed",
                                     base_url=settings.openai_base_url,
                                     timeout=settings.request_timeout_s, max_retries=3)

    def submit(self, requests: Path, metadata: dict[str, str]) -> str:
        with requests.open("rb") as handle:
            uploaded = self._client.files.create(file=handle, purpose="batch")
        batch = self._client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata=metadata)
        return batch.id

    def get(self, batch_id: str) -> BatchInfo:
        return _info(self._client.batches.retrieve(batch_id))

    def wait(self, batch_id: str, poll_s: float,
             on_poll: Callable[[BatchInfo], None] | None = None) -> BatchInfo:
        """Until the batch ends (completed, failed, expired, cancelled). A run that is
        stopped meanwhile picks the same batch up again when restarted."""
        while True:
            info = self.get(batch_id)
            if on_poll:
                on_poll(info)
            if info.status in DONE:
                return info
            time.sleep(poll_s)

    def answers(self, info: BatchInfo) -> Iterator[tuple[str, dict[str, Any] | str]]:
        """(custom_id, completion body) per answered request; (custom_id, error) per failed
        one. Requests in neither file got no answer (an expired or cancelled batch)."""
        for file_id in (info.output_file_id, info.error_file_id):
            if not file_id:
                continue
            with self._client.files.with_streaming_response.content(file_id) as response:
                for line in response.iter_lines():
                    if line.strip():
                        yield _answer(json.loads(line))


def _info(batch: Batch) -> BatchInfo:
    errors = [f"{e.code}: {e.message}" for e in (batch.errors.data or [])] if (
        batch.errors) else []
    return BatchInfo(id=batch.id, status=batch.status, output_file_id=batch.output_file_id,
                     error_file_id=batch.error_file_id, errors=errors)


def _answer(record: dict[str, Any]) -> tuple[str, dict[str, Any] | str]:
    custom_id = str(record.get("custom_id"))
    response = record.get("response") or {}
    if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
        return custom_id, response["body"]
    error = record.get("error") or (response.get("body") or {}).get("error") or {}
    message = error.get("message") if isinstance(error, dict) else str(error)
    status = response.get("status_code")
    return custom_id, f"HTTP {status}: {message}" if status else str(message or "no answer")
