"""Transport to any OpenAI-compatible chat endpoint: one structured call with a timeout,
retries that honour Retry-After, a deadline, and tokens and cost counted. Every failure
becomes an `LLMFailure` whose reason the response carries as `fallback_reason`."""

from __future__ import annotations

import json
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, SecretStr, ValidationError

from ..errors import InvalidInput
from ..models import Usage
from ..ratelimit import RateLimiter, RateLimitWait
from ..settings import Settings
from ..tokens import count_tokens, encoding_name_for_model

_MAX_BACKOFF_S = 8.0


class LLMFailure(Exception):
    """The model could not give a usable answer; `reason` says why, for `fallback_reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason



Out = TypeVar("Out", bound=BaseModel)


class Caller(Protocol):
    """What the engine needs from the model: `ChatCaller` live, or the Batch API's stand-ins."""

    encoding: str
    model: str

    def ask(self, messages: list[BaseMessage], schema: type[Out]) -> tuple[Out, AIMessage, Usage]:
        ...


class ChatCaller:
    """One structured call with timeout, retries that honour Retry-After, a deadline, and cost."""

    def __init__(self, settings: Settings, limiter: RateLimiter | None = None) -> None:
        self._settings = settings
        self.limiter = limiter or RateLimiter(
            settings.llm_rpm, settings.llm_tpm, settings.llm_concurrency)
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._chat = ChatOpenAI(
            model=settings.llm_model,
            api_key=SecretStr(key or "not-needed"),  # local servers accept any key
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=0,  # retries are ours: they honour Retry-After and the deadline
            temperature=0,
            max_completion_tokens=settings.llm_max_output_tokens,
        )
        self._runnables: dict[type[BaseModel], Runnable[Any, Any]] = {}
        self.encoding = encoding_name_for_model(settings.llm_model)
        self.model = settings.llm_model

    def _runnable(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        if schema not in self._runnables:
            method = self._settings.llm_structured
            self._runnables[schema] = self._chat.with_structured_output(
                schema, method=method, include_raw=True,
                strict=True if method != "json_mode" else None,
            )
        return self._runnables[schema]

    def ask(self, messages: list[BaseMessage], schema: type[Out]) -> tuple[Out, AIMessage, Usage]:
        settings = self._settings
        deadline = time.monotonic() + settings.llm_deadline_s
        usage = Usage()
        attempt = 0
        # What the provider counts against tokens per minute: the prompt plus the most the
        # answer may take.
        budget = settings.llm_max_output_tokens + (sum(
            count_tokens(str(m.content), self.encoding) for m in messages)
            if settings.llm_tpm else 0)
        while True:
            usage = usage.plus(Usage(calls=1))
            try:
                with self.limiter.limited(budget, deadline - time.monotonic()):
                    result = self._runnable(schema).invoke(messages)
            except RateLimitWait as exc:
                raise LLMFailure(
                    f"{exc}, past the {settings.llm_deadline_s:g}s deadline "
                    "(RECOVERY_LLM_RPM / RECOVERY_LLM_TPM)") from exc
            except openai.APITimeoutError:
                failure, wait = f"timed out after {settings.llm_timeout_s:g}s", None
            except openai.APIConnectionError as exc:
                failure, wait = f"connection failed: {exc}", None
            except openai.APIStatusError as exc:
                failure = f"HTTP {exc.status_code}: {short(_server_message(exc))}"
                if exc.status_code != 429 and exc.status_code < 500:
                    raise LLMFailure(failure) from exc
                wait = _retry_after(exc.response.headers)
                if exc.status_code == 429:
                    self.limiter.pause(wait if wait is not None else 1.0)
            except (openai.OpenAIError, ValidationError, ValueError) as exc:
                raise LLMFailure(f"unusable answer: {short(str(exc))}") from exc
            else:
                return self._parsed(result, schema, messages, usage)
            attempt += 1
            if wait is None:
                wait = min(_MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1)) * (1 + random.random() / 4)
            if attempt > settings.llm_max_retries:
                raise LLMFailure(f"{failure} (after {attempt} attempts)")
            if wait + settings.llm_timeout_s > deadline - time.monotonic():
                raise LLMFailure(
                    f"{failure}; a retry in {wait:.1f}s could pass the "
                    f"{settings.llm_deadline_s:g}s deadline"
                )
            time.sleep(wait)

    def request_body(self, messages: list[BaseMessage], schema: type[BaseModel]) -> dict[str, Any]:
        """The chat-completions request `ask` would send, for a Batch API file. Batches take
        `json_schema` or `json_mode`: their answers come back as message content."""
        method = self._settings.llm_structured
        if method == "function_calling":
            raise InvalidInput("the Batch API needs RECOVERY_LLM_STRUCTURED=json_schema or "
                               "json_mode, not function_calling")
        if method == "json_schema":
            # What LangChain sends live: the openai SDK's strict schema of the model.
            response_format: dict[str, Any] = dict(type_to_response_format_param(schema))  # type: ignore[arg-type]
        else:
            response_format = {"type": "json_object"}
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return {
            "model": self.model, "temperature": 0,
            "max_completion_tokens": self._settings.llm_max_output_tokens,
            "messages": [{"role": roles[m.type], "content": m.content} for m in messages],
            "response_format": response_format,
        }

    def answer_from(
        self, completion: dict[str, Any], schema: type[Out], messages: list[BaseMessage],
        price_share: float,
    ) -> tuple[Out, AIMessage, Usage]:
        """`ask`'s result from a chat completion that came back in a batch's output file."""
        try:
            message = completion["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise LLMFailure("batch answer without a message") from None
        usage = completion.get("usage") or {}
        raw = AIMessage(content=message.get("content") or "",
                        additional_kwargs={"refusal": message.get("refusal")})
        if usage:
            raw.usage_metadata = {"input_tokens": usage.get("prompt_tokens", 0),
                                  "output_tokens": usage.get("completion_tokens", 0),
                                  "total_tokens": usage.get("total_tokens", 0)}
        try:
            parsed: Out | None = schema.model_validate_json(str(raw.content))
            error = None
        except ValidationError as exc:
            parsed, error = None, exc
        counted = self._usage(raw, messages)
        if counted.cost_usd is not None:
            counted = counted.model_copy(update={"cost_usd": counted.cost_usd * price_share})
        return self._parsed({"raw": raw, "parsed": parsed, "parsing_error": error}, schema,
                            messages, Usage(calls=1).plus(counted), counted=True)

    def _parsed(
        self, result: dict[str, Any], schema: type[Out], messages: list[BaseMessage], usage: Usage,
        counted: bool = False,
    ) -> tuple[Out, AIMessage, Usage]:
        raw: AIMessage = result["raw"]
        if not counted:
            usage = usage.plus(self._usage(raw, messages))
        refusal = raw.additional_kwargs.get("refusal")
        if refusal:
            raise LLMFailure(f"the model refused: {short(str(refusal))}")
        parsed = result.get("parsed")
        if result.get("parsing_error") is not None or not isinstance(parsed, schema):
            raise LLMFailure(f"unparseable output: {short(str(result.get('parsing_error')))}")
        return parsed, raw, usage

    def _usage(self, raw: AIMessage, messages: list[BaseMessage]) -> Usage:
        """The server's own count when it reports one; else real tiktoken counts."""
        meta = raw.usage_metadata
        if meta:
            prompt, completion = meta["input_tokens"], meta["output_tokens"]
        else:
            prompt = sum(count_tokens(str(m.content), self.encoding) for m in messages)
            produced = json.dumps(raw.tool_calls) if raw.tool_calls else str(raw.content)
            completion = count_tokens(produced, self.encoding)
        price = self._settings.llm_prices.get(self.model)
        cost = None if price is None else (prompt * price[0] + completion * price[1]) / 1e6
        return Usage(prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message


def short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

