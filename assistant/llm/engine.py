"""The LLM engine: any OpenAI-compatible chat model reads the complaint and writes the reply,
through LangChain. It plugs into the pipeline's `label` step (it proposes; the rubric
disposes) and its `compose` step (a reply held to the policy and the style checks, repaired
once, else the offline drafter stands in)."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from ..draft import Wording, allowed_gestures, sign_off
from ..gesture import no_treat, own_gestures
from ..knowledge import GestureOption, Knowledge
from ..models import (
    CheckResult,
    Classification,
    Draft,
    FollowUp,
    Gesture,
    Reason,
    Reasons,
    Recall,
    Severity,
    Usage,
)
from ..pii import Redaction
from ..prompts import PromptTemplate, load_prompt
from ..rubric import Proposal
from ..settings import Settings
from ..style import run_checks
from ..understand import Understood
from .prompting import HistoryBlock, as_data, history_block, shingles
from .schemas import LABEL_NAMES, ReplyOut, Why, labels_schema, reply_schema
from .transport import Caller, LLMFailure, served_model, short

ENGINE = "llm"


@dataclass(frozen=True)
class ModelReading:
    """What the model read in a complaint, and which model (as the server names it) at what
    cost."""

    proposal: Proposal
    confidence: float
    usage: Usage
    model: str
_QUOTED = re.compile(r'"[^"]{0,200}"')
# Checks a reply must pass to be shown at all; the others are marked for the reviewer. A
# reply in another language than the customer's is of no use to them: the offline drafter
# writes in theirs.
_HARD_RULES = ("policy_cap", "prompt_private", "language")


class LLMEngine:
    """Proposes labels and writes replies with the configured chat model."""

    name = ENGINE

    def __init__(self, settings: Settings, knowledge: Knowledge, caller: Caller) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.caller = caller
        self.classify_prompt = load_prompt(settings.prompts_dir, "classify")
        self.draft_prompt = load_prompt(settings.prompts_dir, "draft")
        # Our instructions, less the phrases they quote as examples of what never to write: a
        # reply with a banned phrase fails the style check, it does not leak the prompt.
        self._private = set().union(*(
            shingles(_QUOTED.sub(" ", prompt.render(part)))
            for prompt in (self.classify_prompt, self.draft_prompt)
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

    def _history(self, recall: Recall | None, redaction: Redaction) -> HistoryBlock:
        return history_block(recall, self.settings.llm_history_tokens, self.caller.encoding,
                             redaction)

    def propose(self, understood: Understood, recall: Recall | None, today: date) -> ModelReading:
        """The model's reading of the complaint, its confidence and what the call cost."""
        pii = understood.redaction
        block = self._history(recall, pii)
        messages = self._messages(
            self.classify_prompt, today=today.isoformat(), language_hint=understood.language,
            history=block.text, complaint=as_data(understood.for_model),
        )
        out, raw, usage = self.caller.ask(messages, labels_schema(block.ids))
        reasons = Reasons()
        history_used: list[str] = []
        for label in LABEL_NAMES:
            for given in getattr(out.reasons, label):
                given = given.model_copy(update={"detail": pii.restore(given.detail)})
                getattr(reasons, label).append(_reason(given, block, history_used))
        proposal = Proposal(
            severity=out.severity, effort=out.effort, recovery_potential=out.recovery_potential,
            category=out.category, reasons=reasons, history_used=history_used)
        return ModelReading(proposal, round(min(1.0, max(0.0, out.confidence)), 3), usage,
                            served_model(raw, self.caller.model))

    def draft(
        self, understood: Understood, classification: Classification, recall: Recall | None,
        today: date, signer: str | None, team_replies: Sequence[str] = (),
        knowledge: Knowledge | None = None, cooldown_days: int | None = None,
    ) -> Draft:
        """The reply; `knowledge` carries the tenant's policy (default: the shipped one)."""
        knowledge = knowledge or self.knowledge
        cooldown = cooldown_days if cooldown_days is not None else (
            self.settings.gesture_cooldown_days)
        language = classification.language
        policy = knowledge.policy
        severity = classification.severity
        cap = policy.caps[severity]
        allowed, cooldown_ids = allowed_gestures(knowledge, recall, severity, today, cooldown,
                                                 understood.reading.text)
        # The customer's own options go to the model by id; it may choose one of them, a
        # catalogue kind, or none.
        own = {f"own-{n}": gesture for n, (gesture, _) in enumerate(own_gestures(
            knowledge, recall, severity, today, cooldown, understood.reading.text), start=1)}
        if no_treat(classification):
            allowed, own = [], {}
        offer = Offer(allowed, own)
        pii = understood.redaction
        block = self._history(recall, pii)
        follow_days = policy.follow_up_days.get(classification.effort)
        messages = self._messages(
            self.draft_prompt, today=today.isoformat(), language=language,
            severity=severity.value, effort=classification.effort.value,
            category=classification.category.value,
            potential=classification.recovery_potential.value, currency=policy.currency,
            cap=f"{cap:g}", gestures=offer.listed(language),
            suggested=offer.suggestion(recall),
            follow_up=f"in {follow_days} days" if follow_days else "none needed",
            voice="\n---\n".join(as_data(reply) for reply in team_replies) or "(none yet)",
            history=block.text, complaint=as_data(understood.for_model),
        )
        schema = reply_schema(offer.kinds(), block.ids)
        out, raw, usage = self.caller.ask(messages, schema)
        model = served_model(raw, self.caller.model)
        out = _restored(out, pii)
        gesture, checks = self._check(out, offer, block, language, severity, knowledge)
        rounds = 0
        failed = {name: c for name, c in checks.items() if not c.passed}
        if failed:
            rounds = 1
            repair = self.draft_prompt.render(
                "repair", reply=as_data(pii.redact(out.reply)),
                failures="\n".join(f"- {name}: {c.detail}" for name, c in failed.items()),
            )
            try:
                out, _, more = self.caller.ask([*messages, raw, HumanMessage(repair)], schema)
            except LLMFailure as failure:
                raise LLMFailure(f"the repair round failed: {failure.reason}",
                                 usage.plus(failure.usage)) from failure
            out = _restored(out, pii)
            usage = usage.plus(more)
            gesture, checks = self._check(out, offer, block, language, severity, knowledge)
        broken = [name for name in _HARD_RULES if not checks[name].passed]
        if broken:  # the offline drafter stands in: never a draft that breaks these
            raise LLMFailure(f"the reply still breaks {', '.join(broken)} after a repair: "
                             + "; ".join(checks[name].detail for name in broken), usage)
        follow_up = None
        if out.follow_up_days and 0 < out.follow_up_days <= 60:
            follow_up = FollowUp(
                in_days=out.follow_up_days, due=today + timedelta(days=out.follow_up_days))
        used = [i for i in out.history_ids_used if i in block.items]
        if gesture is not None and gesture.kind == "history" and gesture.based_on:
            used.append(gesture.based_on)
        used += [i for i in cooldown_ids if i not in used]
        text = understood.text
        return Draft(
            id=uuid.uuid4().hex, created_at=datetime.now(UTC),
            customer_id=recall.customer_id if recall else None, complaint=text,
            language=language, signer=signer, classification=classification,
            reply=out.reply.strip()
            + sign_off(knowledge, language, Wording(text, team_replies), signer),
            gesture=gesture, follow_up=follow_up,
            history_used=list(dict.fromkeys([*classification.history_used, *used])),
            checks=checks, usage=classification.usage.plus(usage), repair_rounds=rounds,
            engine=ENGINE, model=model, prompt_version=self.draft_prompt.version,
        )

    def _check(
        self, out: ReplyOut, offer: Offer, block: HistoryBlock, language: str,
        severity: Severity, knowledge: Knowledge,
    ) -> tuple[Gesture | None, dict[str, CheckResult]]:
        """The offline drafter's checks, plus: the gesture is one of those offered, and every
        history id the model cites was in this customer's history."""
        gesture = offer.chosen(out.gesture_kind, language, knowledge.policy.currency,
                               next((i for i in out.history_ids_used if i in block.items), None))
        checks = run_checks(out.reply, language, severity, gesture, knowledge)
        if gesture is None and out.gesture_kind.strip().lower() not in {"none", ""}:
            checks["policy_cap"] = CheckResult(
                passed=False,
                detail=f"gesture {out.gesture_kind!r} is not one of the allowed gestures",
            )
        leaked = sorted(" ".join(words) for words in shingles(out.reply) & self._private)
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


def _reason(given: Why, block: HistoryBlock, history_used: list[str]) -> Reason:
    if given.history_id and given.history_id in block.items:
        if given.history_id not in history_used:
            history_used.append(given.history_id)
        return Reason(source="history", history_id=given.history_id, detail=short(given.detail))
    if given.history_id:
        return Reason(source="text", detail=short(
            f"{given.detail} (cited unknown history id {given.history_id!r}, ignored)"))
    return Reason(source="text", detail=short(given.detail))


@dataclass(frozen=True)
class Offer:
    """The gestures a reply may carry: the catalogue's allowed ones by kind, and this
    customer's own (`own-1`, …) in their history's words, at what one is worth."""

    allowed: list[GestureOption]
    own: dict[str, Gesture]

    def kinds(self) -> list[str]:
        return [*self.own, *(g.kind for g in self.allowed)]

    def listed(self, language: str) -> str:
        if not self.kinds():
            return "none (offer no gesture)"
        return "; ".join([
            *(f"{key}: {as_data(g.text)} ({g.value:g}; {g.reason})"
              for key, g in self.own.items()),
            *(f"{g.kind}: {g.name[language]} ({g.value:g})" for g in self.allowed)])

    def suggestion(self, recall: Recall | None) -> str:
        if self.own:
            key, own = next(iter(self.own.items()))
            return f"{key}: {as_data(own.text)} ({own.reason})"
        for pref in (recall.facts.preferences if recall else []):
            for option in self.allowed:
                if option.regex and not option.generic and option.regex.search(pref.text):
                    return f"{option.kind} (preference {pref.id}: {as_data(pref.text)[:80]})"
        return "none from the history; a generic allowed gesture or none"

    def chosen(self, kind: str, language: str, currency: str, cited: str | None
               ) -> Gesture | None:
        """The gesture the model chose, or None when it chose none or one not offered."""
        if kind in self.own:
            own = self.own[kind]
            return own.model_copy(update={"reason": f"chosen by the model: {own.reason}"})
        option = next((g for g in self.allowed if g.kind == kind), None)
        if option is None:
            return None
        return Gesture(kind=option.kind, text=option.name[language], value=option.value,
                       currency=currency, based_on=cited,
                       reason="chosen by the model from the allowed gestures")
