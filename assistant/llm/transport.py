"""Transport to any OpenAI-compatible chat endpoint: one structured call with a timeout,
retries that honour Retry-After, a deadline, and tokens and cost counted. Every failure
becomes an `LLMFailure` whose reason the response carries as `fallback_reason`."""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
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
_log = logging.getLogger(__name__)
# How the answer is held to its schema, strictest first: a server that refuses one gets the next.
_STRUCTURED_LADDER = ("json_schema", "json_mode", "prompt")
_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.S | re.I)


class LLMFailure(Exception):
    """The model could not give a usable answer; `reason` says why in plain words, for
    `fallback_reason`, and `usage` what the attempts cost all the same."""

    def __init__(self, reason: str, usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage or Usage()


class ServerInfo(BaseModel):
    """What the endpoint says about itself (llama.cpp's `/props`; nothing for most hosted
    APIs): the model it serves and how many requests it works on at once."""

    model: str | None = None
    slots: int | None = None
    llama_cpp: bool = False


def served_model(raw: AIMessage, configured: str) -> str:
    """The model the server says answered: a name it did not run is never reported."""
    name = raw.response_metadata.get("model_name") if raw.response_metadata else None
    return str(name) if name else configured


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
        self.structured: str = settings.llm_structured
        self.server = self.server_info()
        if self.server.llama_cpp and self.structured == "function_calling":
            raise InvalidInput(
                f"{settings.openai_base_url} is a llama.cpp server, which does not hold tool calls "
                "to a schema (it ignores a named tool_choice): set "
                "RECOVERY_LLM_STRUCTURED=json_schema, which its grammar enforces")
        concurrency = settings.llm_concurrency
        if self.server.slots and self.server.slots < concurrency:
            # More calls than slots would queue at the server, where the wait counts against
            # each call's timeout; here it counts only against the deadline.
            _log.warning("the model server has %d slot(s): %d model call(s) at a time, not "
                         "RECOVERY_LLM_CONCURRENCY=%d", self.server.slots, self.server.slots,
                         concurrency)
            concurrency = self.server.slots
        self.limiter = limiter or RateLimiter(settings.llm_rpm, settings.llm_tpm, concurrency)
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
        self.encoding = encoding_name_for_model(settings.llm_model)
        self.model = settings.llm_model

    def _runnable(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        """Built per call: the schemas are made per request (the history ids it may cite).
        The answer's text is parsed here, not by the SDK, so that an answer that does not fit
        still tells what it cost."""
        if self.structured == "function_calling":
            return self._chat.with_structured_output(
                schema, method="function_calling", include_raw=True, strict=True)
        if self.structured == "prompt":
            return self._chat
        return self._chat.bind(response_format=self.response_format(schema))

    def response_format(self, schema: type[BaseModel]) -> dict[str, Any]:
        if self.structured == "json_schema":
            # The openai SDK's strict schema of the model, as OpenAI and llama.cpp take it.
            return dict(type_to_response_format_param(schema))  # type: ignore[arg-type]
        return {"type": "json_object"}

    def adapted_to(self, exc: openai.APIStatusError) -> str | None:
        """What we change when a server rejects one of our optional request settings, or None
        when the rejection is about something else. Reasoning models take no `temperature`;
        a server without a grammar refuses `json_schema` (the schema then goes into the prompt
        under `json_object`), and some refuse `json_object` as well (then the prompt alone);
        servers that validate strictly and predate it refuse `max_completion_tokens` (the
        same limit then goes as `max_tokens`)."""
        if exc.status_code not in (400, 422):
            return None
        said = f"{exc.param or ''} {_server_message(exc)}".lower()
        if "temperature" in said and self._chat.temperature is not None:
            self._chat = self._chat.model_copy(update={"temperature": None})
            return "no temperature (the server refused temperature=0)"
        if "max_completion_tokens" in said and self._chat.max_tokens is not None:
            # LangChain renames max_tokens to max_completion_tokens; the body's own field
            # is sent as it is.
            self._chat = self._chat.model_copy(update={"max_tokens": None, "extra_body": {
                **(self._chat.extra_body or {}), "max_tokens": self._chat.max_tokens}})
            return "max_tokens (the server refused max_completion_tokens)"
        step = (_STRUCTURED_LADDER.index(self.structured)
                if self.structured in _STRUCTURED_LADDER[:-1] else None)
        if step is not None and any(word in said for word in (
                "response_format", "response format", "json_schema", "json_object")):
            self.structured = _STRUCTURED_LADDER[step + 1]
            return f"structured output by {self.structured} (the server refused the " \
                   f"{_STRUCTURED_LADDER[step]} response format)"
        return None

    def server_info(self, timeout_s: float = 3.0) -> ServerInfo:
        """Asks llama.cpp-style servers for their model and slots (`/props`); an endpoint that
        does not answer it tells nothing, which is no error."""
        base = (self._settings.openai_base_url or "").rstrip("/")
        if not base:
            return ServerInfo()
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        try:
            response = httpx.get(f"{root}/props", timeout=timeout_s)
            props = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return ServerInfo()
        if not isinstance(props, dict) or "total_slots" not in props:
            return ServerInfo()
        slots = props.get("total_slots")
        return ServerInfo(model=props.get("model_alias") or props.get("model_path"),
                          slots=slots if isinstance(slots, int) else None, llama_cpp=True)

    def ping(self, timeout_s: float = 3.0) -> str | None:
        """None when the endpoint answers its model list; else why not, in a line."""
        try:
            self._chat.root_client.with_options(timeout=timeout_s, max_retries=0).models.list()
        except openai.APIStatusError as exc:
            return f"{self._where()} answered HTTP {exc.status_code}"
        except openai.OpenAIError as exc:
            return f"{self._where()} did not answer: {_cause(exc)}"
        return None

    def with_format(self, messages: list[BaseMessage], schema: type[BaseModel]
                    ) -> list[BaseMessage]:
        """In `json_mode` the server holds the answer to JSON only (and in `prompt` not even
        that): the schema goes into the system message, or the model could not know the
        fields."""
        if self.structured not in ("json_mode", "prompt") or not messages:
            return messages
        shape = json.dumps(schema.model_json_schema(), ensure_ascii=False)
        first = SystemMessage(f"{messages[0].content}\n\nAnswer with one JSON object, no "
                              f"other text, that matches this JSON schema:\n{shape}")
        return [first, *messages[1:]]

    def ask(self, messages: list[BaseMessage], schema: type[Out]) -> tuple[Out, AIMessage, Usage]:
        settings = self._settings
        raw_messages, messages = messages, self.with_format(messages, schema)
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
                if isinstance(result, AIMessage):
                    result = _parse_content(result, schema)
            except RateLimitWait as exc:
                raise LLMFailure(
                    f"{exc}, past the {settings.llm_deadline_s:g}s deadline "
                    "(RECOVERY_LLM_RPM / RECOVERY_LLM_TPM)", usage) from exc
            except openai.APITimeoutError:
                failure, wait = (f"no answer within {settings.llm_timeout_s:g}s "
                                 "(RECOVERY_LLM_TIMEOUT_S)"), None
            except openai.APIConnectionError as exc:
                failure, wait = f"could not reach {self._where()}: {_cause(exc)}", None
            except openai.LengthFinishReasonError as exc:
                if exc.completion.usage:
                    usage = usage.plus(self._priced(
                        exc.completion.usage.prompt_tokens,
                        exc.completion.usage.completion_tokens, 0, exc.completion.model))
                raise LLMFailure(
                    f"the answer was cut off at {settings.llm_max_output_tokens} tokens "
                    "(RECOVERY_LLM_MAX_OUTPUT_TOKENS)", usage) from exc
            except openai.APIStatusError as exc:
                failure = f"HTTP {exc.status_code}: {short(_server_message(exc))}"
                if change := self.adapted_to(exc):
                    _log.warning("%s: %s; asking again with %s", self._where(), failure, change)
                    messages = self.with_format(raw_messages, schema)
                    continue
                if exc.status_code != 429 and exc.status_code < 500:
                    raise LLMFailure(failure, usage) from exc
                wait = _retry_after(exc.response.headers)
                if exc.status_code == 429:
                    self.limiter.pause(wait if wait is not None else 1.0)
            except (openai.OpenAIError, ValidationError, ValueError) as exc:
                raise LLMFailure(f"the answer could not be used: {short(str(exc))}",
                                 usage) from exc
            else:
                return self._parsed(result, schema, messages, usage)
            attempt += 1
            if wait is None:
                wait = min(_MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1)) * (1 + random.random() / 4)
            if attempt > settings.llm_max_retries:
                raise LLMFailure(f"{failure} (after {attempt} attempts)", usage)
            if wait + settings.llm_timeout_s > deadline - time.monotonic():
                raise LLMFailure(
                    f"{failure}; a retry in {wait:.1f}s could pass the "
                    f"{settings.llm_deadline_s:g}s deadline (RECOVERY_LLM_DEADLINE_S)", usage)
            time.sleep(wait)

    def request_body(self, messages: list[BaseMessage], schema: type[BaseModel]) -> dict[str, Any]:
        """The chat-completions request `ask` would send, for a Batch API file. Batches take
        `json_schema` or `json_mode`: their answers come back as message content."""
        if self.structured == "function_calling":
            raise InvalidInput("the Batch API needs RECOVERY_LLM_STRUCTURED=json_schema or "
                               "json_mode, not function_calling")
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        messages = self.with_format(messages, schema)
        body: dict[str, Any] = {
            "model": self.model, "temperature": 0,
            "max_completion_tokens": self._settings.llm_max_output_tokens,
            "messages": [{"role": roles[m.type], "content": m.content} for m in messages],
        }
        if self.structured != "prompt":
            body["response_format"] = self.response_format(schema)
        return body

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
                        additional_kwargs={"refusal": message.get("refusal")},
                        response_metadata={"model_name": completion.get("model")})
        if usage:
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            raw.usage_metadata = {"input_tokens": usage.get("prompt_tokens", 0),
                                  "output_tokens": usage.get("completion_tokens", 0),
                                  "total_tokens": usage.get("total_tokens", 0),
                                  "input_token_details": {"cache_read": cached}}
        counted = self._usage(raw, messages)
        if counted.cost_usd is not None:
            counted = counted.model_copy(update={"cost_usd": counted.cost_usd * price_share})
        return self._parsed(_parse_content(raw, schema), schema, messages,
                            Usage(calls=1).plus(counted), counted=True)

    def _parsed(
        self, result: dict[str, Any], schema: type[Out], messages: list[BaseMessage], usage: Usage,
        counted: bool = False,
    ) -> tuple[Out, AIMessage, Usage]:
        raw: AIMessage = result["raw"]
        if not counted:
            usage = usage.plus(self._usage(raw, messages))
        refusal = raw.additional_kwargs.get("refusal")
        if refusal:
            raise LLMFailure(f"the model refused: {short(str(refusal))}", usage)
        parsed = result.get("parsed")
        if result.get("parsing_error") is not None or not isinstance(parsed, schema):
            raise LLMFailure(
                f"the answer did not fit the {schema.__name__} schema: "
                + _first_error(result.get("parsing_error"), raw), usage)
        return parsed, raw, usage

    def _usage(self, raw: AIMessage, messages: list[BaseMessage]) -> Usage:
        """The server's own count when it reports one; else real tiktoken counts."""
        meta = raw.usage_metadata
        cached = 0
        if meta:
            prompt, completion = meta["input_tokens"], meta["output_tokens"]
            cached = (meta.get("input_token_details") or {}).get("cache_read") or 0
        else:
            prompt = sum(count_tokens(str(m.content), self.encoding) for m in messages)
            produced = json.dumps(raw.tool_calls) if raw.tool_calls else str(raw.content)
            completion = count_tokens(produced, self.encoding)
        return self._priced(prompt, completion, cached, served_model(raw, self.model))

    def _priced(self, prompt: int, completion: int, cached: int, model: str) -> Usage:
        """Priced by the model the server ran (a dated snapshot takes its family's price);
        cached prompt tokens at the cached price; no price for a model not in the table."""
        price = price_of(self._settings.llm_prices, model)
        cost = None
        if price is not None:
            cached = min(cached, prompt)
            cached_price = price[2] if len(price) > 2 else price[0]
            cost = ((prompt - cached) * price[0] + cached * cached_price
                    + completion * price[1]) / 1e6
        return Usage(prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)

    def _where(self) -> str:
        return self._settings.openai_base_url or "the OpenAI API"


def _parse_content(raw: AIMessage, schema: type[BaseModel]) -> dict[str, Any]:
    """The answer's JSON text checked against `schema`, as LangChain's `include_raw` gives it."""
    try:
        return {"raw": raw, "parsed": schema.model_validate_json(json_in(raw.text)),
                "parsing_error": None}
    except ValidationError as exc:
        return {"raw": raw, "parsed": None, "parsing_error": exc}


def json_in(text: str) -> str:
    """The JSON object in a model's answer. A server that does not hold the answer to the
    schema lets the model wrap it: a reasoning block (`<think>…</think>`), a Markdown fence,
    a sentence before or after. The first whole object outside reasoning is the answer; text
    with none is returned as it is, so that its parse error says what was wrong."""
    visible = _THINKING.sub("", text)
    decoder = json.JSONDecoder()
    start = visible.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(visible, start)
        except ValueError:
            start = visible.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return visible[start:end]
        start = visible.find("{", end)
    return text


def price_of(prices: Mapping[str, tuple[float, ...]], model: str) -> tuple[float, ...] | None:
    """The price of `model`, or of the longest name it starts with ("gpt-4o-mini-2024-07-18"
    is priced as "gpt-4o-mini")."""
    if model in prices:
        return prices[model]
    family = max((name for name in prices if model.startswith(name)), key=len, default=None)
    return prices[family] if family else None


def _cause(exc: Exception) -> str:
    """The innermost reason of a connection error, e.g. "Connection refused"."""
    while exc.__cause__ is not None:
        exc = exc.__cause__  # type: ignore[assignment]
    text = str(exc) or type(exc).__name__
    return short(text.split("] ", 1)[-1], 120)


def _first_error(error: object, raw: AIMessage) -> str:
    """The first thing wrong with an answer, in a line."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        return short(f"{where}: {first['msg']}", 160)
    if not raw.content and not raw.tool_calls:
        return "the answer was empty"
    return short(str(error) if error else "not valid JSON", 160)


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

