"""The LLM engine: any OpenAI-compatible chat model labels and drafts, through LangChain.

The offline engine always runs first (it is cheap): its language and cue findings feed the
prompt and the rubric guards, and its answer stands in whenever the model fails. Nothing here
hangs: every call has a timeout, retries stop at a deadline, and every failure becomes an
`LLMFailure` with a reason that the response carries as `fallback_reason`."""

from __future__ import annotations

import copy
import json
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, TypeVar, get_args

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from .classify import CueHit, decide_route, find_cues
from .draft import Wording, allowed_gestures, require_draft_language, sign_off
from .errors import InvalidInput
from .knowledge import GestureOption, Knowledge
from .language import normalise_language_code
from .models import (
    ORDINAL_LABELS,
    Category,
    CheckResult,
    Classification,
    Draft,
    Effort,
    FollowUp,
    Gesture,
    HistoryItem,
    Reason,
    Reasons,
    Recall,
    RecoveryPotential,
    Severity,
    Usage,
)
from .pii import Redaction
from .prompts import PromptTemplate, load_prompt
from .ratelimit import RateLimiter, RateLimitWait
from .settings import Settings
from .style import run_checks
from .tokens import count_tokens, encoding_name_for_model

ENGINE = "llm"
_SEVERITY = ORDINAL_LABELS["severity"]
_TAGS = re.compile(r"</?\s*(complaint|history|reply|team_replies)\s*>", re.IGNORECASE)
_MAX_BACKOFF_S = 8.0


# Checks a reply must pass to be shown at all; the others are marked for the reviewer.
_HARD_RULES = ("policy_cap", "prompt_private")
_SHINGLE = 6


def _shingles(text: str) -> set[tuple[str, ...]]:
    """Every run of six words: a reply sharing one with our prompt is repeating it."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


class LLMFailure(Exception):
    """The model could not give a usable answer; `reason` says why, for `fallback_reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The schemas the model is held to. Enums mean only valid labels can come back.


LabelName = Literal["severity", "effort", "recovery_potential", "category"]
LABEL_NAMES: tuple[LabelName, ...] = get_args(LabelName)


class LabelReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: LabelName
    detail: str
    history_id: str | None


class LabelsOut(BaseModel):
    """Labels for one complaint, by the rubric, and the reasons behind each of them."""

    model_config = ConfigDict(extra="forbid")
    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    language: str
    confidence: float
    reasons: list[LabelReason] = Field(min_length=4)

    @model_validator(mode="after")
    def _every_label_has_a_reason(self) -> LabelsOut:
        missing = set(LABEL_NAMES) - {reason.label for reason in self.reasons}
        if missing:
            raise ValueError(f"no reason given for {sorted(missing)}")
        return self


class ReplyOut(BaseModel):
    """A draft reply to one complaint."""

    model_config = ConfigDict(extra="forbid")
    reply: str
    gesture_kind: str = Field(description='One of the allowed gesture kinds, or "none".')
    history_ids_used: list[str]
    follow_up_days: int | None


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
                failure = f"HTTP {exc.status_code}: {_short(_server_message(exc))}"
                if exc.status_code != 429 and exc.status_code < 500:
                    raise LLMFailure(failure) from exc
                wait = _retry_after(exc.response.headers)
                if exc.status_code == 429:
                    self.limiter.pause(wait if wait is not None else 1.0)
            except (openai.OpenAIError, ValidationError, ValueError) as exc:
                raise LLMFailure(f"unusable answer: {_short(str(exc))}") from exc
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
            raise LLMFailure(f"the model refused: {_short(str(refusal))}")
        parsed = result.get("parsed")
        if result.get("parsing_error") is not None or not isinstance(parsed, schema):
            raise LLMFailure(f"unparseable output: {_short(str(result.get('parsing_error')))}")
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


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_data(text: str) -> str:
    """Customer words go between our tags; tags inside them are removed so they cannot close
    the block early and pose as instructions."""
    return _TAGS.sub("", text)


@dataclass(frozen=True)
class HistoryBlock:
    text: str
    ids: list[str]
    items: dict[str, HistoryItem]


def history_block(
    recall: Recall | None, budget_tokens: int, encoding: str, pii: Redaction | None = None
) -> HistoryBlock:
    """History lines for the prompt within a token budget, most useful first: preferences and
    gestures given (they shape the gesture), earlier failures (they move labels), then the items
    most relevant to this complaint."""
    if recall is None:
        return HistoryBlock("(no customer id given: no history)", [], {})
    facts = recall.facts
    relevant = sorted(recall.items, key=lambda hit: hit.relevance, reverse=True)
    ranked = [*facts.preferences, *facts.gestures_given, *facts.earlier_failures, *relevant]
    lines: list[str] = []
    items: dict[str, HistoryItem] = {}
    used = 0
    for item in ranked:
        if item.id in items:
            continue
        text = pii.redact(item.text) if pii else item.text
        line = f"[{item.id}] {item.at.isoformat()} {item.kind.value}: {as_data(text)}"
        cost = count_tokens(line, encoding) + 1
        if used + cost > budget_tokens:
            continue
        used += cost
        lines.append(line)
        items[item.id] = item
    if not lines:
        return HistoryBlock("(no history items)", [], {})
    return HistoryBlock("\n".join(lines), list(items), items)


class LLMEngine:
    """Classifies and drafts with the configured chat model, inside the rubric's guard rails."""

    def __init__(self, settings: Settings, knowledge: Knowledge, caller: Caller) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.caller = caller
        self.classify_prompt = load_prompt(settings.prompts_dir, "classify")
        self.draft_prompt = load_prompt(settings.prompts_dir, "draft")
        self._private = set().union(*(
            _shingles(prompt.render(part)) for prompt in (self.classify_prompt, self.draft_prompt)
            for part in ("system", "repair") if part in prompt.parts
            and not prompt.parts[part].get_identifiers()))

    def using(self, caller: Caller) -> LLMEngine:
        """The same engine answering through another caller (the Batch API's stand-ins)."""
        engine = copy.copy(self)
        engine.caller = caller
        return engine

    def _messages(self, prompt: PromptTemplate, **values: object) -> list[BaseMessage]:
        return [
            SystemMessage(prompt.render("system")),
            HumanMessage(prompt.render("user", **values)),
        ]

    def classify(
        self, text: str, offline: Classification, recall: Recall | None, today: date,
        language_given: bool,
    ) -> Classification:
        pii = Redaction(active=self.settings.redact_pii)
        block = history_block(recall, self.settings.llm_history_tokens, self.caller.encoding,
                              pii)
        messages = self._messages(
            self.classify_prompt, today=today.isoformat(), language_hint=offline.language,
            history=block.text, complaint=as_data(pii.redact(text)),
        )
        out, _, usage = self.caller.ask(messages, LabelsOut)
        reasons = Reasons(language=list(offline.reasons.language))
        history_used: list[str] = []
        for given in out.reasons:
            given = given.model_copy(update={"detail": pii.restore(given.detail)})
            getattr(reasons, given.label).append(_reason(given, block, history_used))
        language = offline.language
        if not language_given:
            model_language = normalise_language_code(out.language)
            if model_language and model_language != language:
                reasons.language.append(
                    Reason(source="text", detail=f"the model read it as {model_language}")
                )
                language = model_language
        hits = find_cues(text, offline.language, self.knowledge)
        severity, potential = _guard(out.severity, out.recovery_potential, hits, reasons)
        if offline.warnings:
            severity, potential = _no_softer(severity, potential, offline, reasons)
        route = decide_route(severity.value, out.effort.value, potential.value, reasons)
        return Classification(
            severity=severity, effort=out.effort, recovery_potential=potential,
            category=out.category, language=language, route=route,
            confidence=round(min(1.0, max(0.0, out.confidence)), 3), reasons=reasons,
            history_used=history_used, usage=usage, engine=ENGINE, model=self.caller.model,
            prompt_version=self.classify_prompt.version, warnings=offline.warnings,
        )

    def draft(
        self, text: str, classification: Classification, recall: Recall | None, today: date,
        signer: str | None, learned: Sequence[str] = (),
    ) -> Draft:
        language = require_draft_language(classification.language)
        policy = self.knowledge.policy
        severity = classification.severity
        cap = policy.caps[severity]
        allowed, cooldown_ids = allowed_gestures(
            self.knowledge, recall, severity, today, self.settings.gesture_cooldown_days)
        if severity is Severity.critical:
            allowed = []
        pii = Redaction(active=self.settings.redact_pii)
        block = history_block(recall, self.settings.llm_history_tokens, self.caller.encoding,
                              pii)
        follow_days = policy.follow_up_days.get(classification.effort)
        messages = self._messages(
            self.draft_prompt, today=today.isoformat(), language=language,
            severity=severity.value, effort=classification.effort.value,
            category=classification.category.value,
            potential=classification.recovery_potential.value, currency=policy.currency,
            cap=f"{cap:g}", gestures=_gesture_list(allowed, language),
            suggested=_suggestion(allowed, recall),
            follow_up=f"in {follow_days} days" if follow_days else "none needed",
            voice="\n---\n".join(as_data(pii.redact(reply)) for reply in learned) or "(none yet)",
            history=block.text, complaint=as_data(pii.redact(text)),
        )
        out, raw, usage = self.caller.ask(messages, ReplyOut)
        out = _restored(out, pii)
        gesture, checks = self._check(out, allowed, block, language, severity)
        rounds = 0
        failed = {name: c for name, c in checks.items() if not c.passed}
        if failed:
            rounds = 1
            repair = self.draft_prompt.render(
                "repair", reply=as_data(pii.redact(out.reply)),
                failures="\n".join(f"- {name}: {c.detail}" for name, c in failed.items()),
            )
            out, _, more = self.caller.ask([*messages, raw, HumanMessage(repair)], ReplyOut)
            out = _restored(out, pii)
            usage = usage.plus(more)
            gesture, checks = self._check(out, allowed, block, language, severity)
        broken = [name for name in _HARD_RULES if not checks[name].passed]
        if broken:  # the offline drafter stands in: never a draft that breaks these
            raise LLMFailure(f"the reply still breaks {', '.join(broken)} after a repair: "
                             + "; ".join(checks[name].detail for name in broken))
        follow_up = None
        if out.follow_up_days and 0 < out.follow_up_days <= 60:
            follow_up = FollowUp(
                in_days=out.follow_up_days, due=today + timedelta(days=out.follow_up_days))
        used = [i for i in out.history_ids_used if i in block.items]
        used += [i for i in cooldown_ids if i not in used]
        return Draft(
            id=uuid.uuid4().hex, created_at=datetime.now(UTC),
            customer_id=recall.customer_id if recall else None, complaint=text,
            language=language, signer=signer, classification=classification,
            reply=out.reply.strip()
            + sign_off(self.knowledge, language, Wording(text, learned), signer),
            gesture=gesture, follow_up=follow_up,
            history_used=list(dict.fromkeys([*classification.history_used, *used])),
            checks=checks, usage=classification.usage.plus(usage), repair_rounds=rounds,
            engine=ENGINE, model=self.caller.model, prompt_version=self.draft_prompt.version,
        )

    def _check(
        self, out: ReplyOut, allowed: list[GestureOption], block: HistoryBlock, language: str,
        severity: Severity,
    ) -> tuple[Gesture | None, dict[str, CheckResult]]:
        """The offline drafter's checks, plus: the gesture is an allowed one, and every history
        id the model cites was in this customer's history."""
        option = next((g for g in allowed if g.kind == out.gesture_kind), None)
        gesture = None
        if option is not None:
            based_on = next((i for i in out.history_ids_used if i in block.items), None)
            gesture = Gesture(
                kind=option.kind, text=option.name[language], value=option.value,
                currency=self.knowledge.policy.currency, based_on=based_on,
                reason="chosen by the model from the allowed gestures",
            )
        checks = run_checks(out.reply, language, severity, gesture, self.knowledge)
        if option is None and out.gesture_kind.strip().lower() not in {"none", ""}:
            checks["policy_cap"] = CheckResult(
                passed=False,
                detail=f"gesture {out.gesture_kind!r} is not one of the allowed gestures",
            )
        leaked = sorted(" ".join(words) for words in _shingles(out.reply) & self._private)
        checks["prompt_private"] = CheckResult(
            passed=not leaked, detail=f"repeats our instructions: {leaked[0]!r}" if leaked
            else "does not repeat our instructions")
        unknown = [i for i in out.history_ids_used if i not in block.items]
        checks["grounded"] = CheckResult(
            passed=not unknown,
            detail=f"cites history ids not given: {unknown}" if unknown
            else "cites only this customer's history",
        )
        return gesture, checks


def _restored(out: ReplyOut, pii: Redaction) -> ReplyOut:
    """The customer's own details back where the model kept their placeholders."""
    return out.model_copy(update={"reply": pii.restore(out.reply)})


def _reason(given: LabelReason, block: HistoryBlock, history_used: list[str]) -> Reason:
    if given.history_id and given.history_id in block.items:
        if given.history_id not in history_used:
            history_used.append(given.history_id)
        return Reason(source="history", history_id=given.history_id, detail=_short(given.detail))
    if given.history_id:
        return Reason(source="text", detail=_short(
            f"{given.detail} (cited unknown history id {given.history_id!r}, ignored)"))
    return Reason(source="text", detail=_short(given.detail))


def _guard(
    severity: Severity, potential: RecoveryPotential, hits: list[CueHit], reasons: Reasons
) -> tuple[Severity, RecoveryPotential]:
    """Rubric rules no model answer may break: reported harm or legal exposure is critical
    (so text that talks the model down cannot lower it), and critical means low potential."""
    floors = [h for h in hits if h.cue.severity and set(h.cue.flags) & {"harm", "legal"}]
    for hit in floors:
        assert hit.cue.severity is not None
        if _SEVERITY.index(hit.cue.severity) > _SEVERITY.index(severity):
            reasons.severity.append(Reason(
                source="rule",
                detail=f'"{hit.phrase}" reports harm or legal exposure → {hit.cue.severity.value}'
                f" (the model said {severity.value})",
            ))
            severity = hit.cue.severity
    if severity is Severity.critical and potential is not RecoveryPotential.low:
        reasons.recovery_potential.append(
            Reason(source="rule", detail="severity is critical → low"))
        potential = RecoveryPotential.low
    return severity, potential


def _no_softer(
    severity: Severity, potential: RecoveryPotential, offline: Classification, reasons: Reasons
) -> tuple[Severity, RecoveryPotential]:
    """Text that talks to the model may have talked it down: its severity may not fall below
    the offline engine's, nor its recovery potential rise above it."""
    if _SEVERITY.index(offline.severity) > _SEVERITY.index(severity):
        reasons.severity.append(Reason(source="rule", detail=(
            f"the text reads like instructions to the model: kept the offline "
            f"{offline.severity.value} (the model said {severity.value})")))
        severity = offline.severity
    order = ORDINAL_LABELS["recovery_potential"]
    if order.index(offline.recovery_potential) < order.index(potential):
        reasons.recovery_potential.append(Reason(source="rule", detail=(
            f"the text reads like instructions to the model: kept the offline "
            f"{offline.recovery_potential.value} (the model said {potential.value})")))
        potential = offline.recovery_potential
    return severity, potential


def _gesture_list(allowed: list[GestureOption], language: str) -> str:
    if not allowed:
        return "none (offer no gesture)"
    return "; ".join(f"{g.kind}: {g.name[language]} ({g.value:g})" for g in allowed)


def _suggestion(allowed: list[GestureOption], recall: Recall | None) -> str:
    for pref in (recall.facts.preferences if recall else []):
        for option in allowed:
            if option.regex and not option.generic and option.regex.search(pref.text):
                return f"{option.kind} (preference {pref.id}: {as_data(pref.text)[:80]})"
    return "none from preferences; a generic allowed gesture or none"
