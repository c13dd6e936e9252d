"""The Assistant: the one pipeline every surface calls (API, CLI, evals, triage).

    understand → recall → label (engine proposes, rubric disposes) → compose → store

Each step runs once per complaint, in one place, and hands a typed result to the next; a
batch (evals, triage) goes through the same steps, embedded at once and with model calls side
by side. The engines plug into `label` and `compose` only."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from .classify import ENGINE as OFFLINE_ENGINE
from .classify import MODEL as OFFLINE_MODEL
from .classify import ExampleIndex, OfflineClassifier
from .cues import find_cues
from .draft import Switched, compose, gesture_options, require_draft_language
from .embeddings import make_embeddings
from .errors import InvalidInput
from .gesture import no_treat
from .history import ChromaConnection, HistoryStore
from .injection import warnings_for
from .keys import KeyStore
from .knowledge import load_knowledge
from .language import settled_by_context, warm_up
from .learning import LearnedLine, LearnedStore
from .models import (
    CORRECTABLE_LABELS,
    Classification,
    ComplaintIn,
    Draft,
    DraftRequest,
    Effort,
    GestureSwitch,
    HistoryItem,
    HistoryItemIn,
    LabelCorrection,
    Reason,
    Reasons,
    Recall,
    RecoveryPotential,
    Remembered,
    Severity,
    Usage,
)
from .policies import PolicyStore
from .reading import plain
from .review import DraftStore
from .rubric import Labels, apply_rubric, as_the_team_labelled, decide_route, never_softer
from .settings import Settings
from .tenancy import DEFAULT_TENANT, check_tenant
from .understand import Reading, Understood, understand

if TYPE_CHECKING:  # the LLM engine's imports (openai, LangChain) load only when it is used
    from .llm import LLMEngine

Item = TypeVar("Item")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    engine: str
    model: str
    endpoint_problem: str | None = Field(
        None, description="Why the model endpoint did not answer (only asked by /readyz).")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Case:
    """One complaint after the `label` step: what `compose` needs, and what triage keeps."""

    request: DraftRequest
    understood: Understood
    recall: Recall | None
    labels: Classification


class Assistant:
    """Build once per process (clients, models, knowledge), then call from any thread."""

    tenant = DEFAULT_TENANT

    def __init__(self, settings: Settings, today: Callable[[], date] = date.today) -> None:
        self.settings = settings
        self._today = today
        self.knowledge = load_knowledge(settings.knowledge_dir)
        self.embeddings = make_embeddings(settings)
        self._chroma = ChromaConnection(settings)
        self.history = HistoryStore(settings, self.embeddings, self._chroma)
        index = ExampleIndex(self.knowledge.examples, self.embeddings, settings.resolved_cache_dir)
        self.shipped_classifier = OfflineClassifier(self.knowledge, index)
        self.drafts = DraftStore(settings.resolved_database_url, settings.db_timeout_s)
        self.learned = LearnedStore(self.drafts.db, DEFAULT_TENANT)
        # Each tenant's model with its learned lines, by the lines it was fit on.
        self._taught: dict[str, tuple[tuple[int, int], OfflineClassifier]] = {}
        self._teaching = threading.Lock()
        self.keys = KeyStore(self.drafts.db)
        self.policies = PolicyStore(self.drafts.db, self.knowledge.policy)
        self._tenants: dict[str, Assistant] = {DEFAULT_TENANT: self}
        self._tenants_lock = threading.Lock()
        self.llm: LLMEngine | None = None
        self._calls: ThreadPoolExecutor | None = None
        if settings.resolved_engine == "llm":
            from .llm import ChatCaller, LLMEngine

            self.llm = LLMEngine(settings, self.knowledge, ChatCaller(settings))
            self._calls = ThreadPoolExecutor(settings.llm_concurrency, thread_name_prefix="llm")
        warm_up()

    def for_tenant(self, tenant: str) -> Assistant:
        """The same engines over `tenant`'s own history collection and rows: everything a
        tenant's request can reach goes through this object."""
        with self._tenants_lock:
            found = self._tenants.get(tenant)
            if found is None:
                found = copy.copy(self)
                found.tenant = check_tenant(tenant)
                found.history = HistoryStore(self.settings, self.embeddings, self._chroma,
                                             tenant)
                found.drafts = self.drafts.scoped(tenant)
                found.policies = self.policies.scoped(tenant)
                found.learned = self.learned.scoped(tenant)
                self._tenants[tenant] = found
            return found

    def connect(self) -> None:
        """Open the history store now: a service fails at start on a wrong Chroma URL, not
        at its first request."""
        self._chroma()

    @property
    def classifier(self) -> OfflineClassifier:
        """This tenant's offline model: ours, or ours plus the lines its team taught it
        (refit when a line is added, from the next classification on)."""
        version = self.learned.version()
        if version[0] == 0:
            return self.shipped_classifier
        with self._teaching:
            taught = self._taught.get(self.tenant)
            if taught is None or taught[0] != version:
                index = self.shipped_classifier.index.extended(self.learned.examples(),
                                                               self.embeddings)
                taught = (version, OfflineClassifier(self.knowledge, index))
                self._taught[self.tenant] = taught
            return taught[1]

    def learn(self, lines: list[LearnedLine], actor: str) -> int:
        """Teach this tenant's offline model labelled complaints (`recovery learn`)."""
        return self.learned.add(lines, source="file", actor=actor)

    def correct_labels(self, draft_id: str, correction: LabelCorrection) -> dict[str, str]:
        """A reviewer's corrected labels for a draft: audited, and learned from the
        complaint as the draft holds it. Returns the labels as the reviewer left them."""
        draft = self.drafts.get(draft_id)
        labels = draft.classification
        before = {name: str(getattr(labels, name)) for name in CORRECTABLE_LABELS}
        after = before | correction.given()
        reasons = Reasons()
        route = decide_route(Severity(after["severity"]), Effort(after["effort"]),
                             RecoveryPotential(after["recovery_potential"]), reasons)
        self.drafts.relabelled(draft_id, correction.reviewer, before | {"route": labels.route},
                               after | {"route": route}, reasons.route)
        self.learned.add([LearnedLine(text=draft.complaint, language=labels.language,
                                      labels=after)],
                         source="review", actor=correction.reviewer, draft_id=draft_id)
        return after | {"route": route}

    def switch_gesture(self, draft_id: str, switch: GestureSwitch) -> Draft:
        """A pending draft worded again by the offline composer with the gesture the reviewer
        chose among its options (or none); its labels and options stay as they were."""
        draft = self.drafts.get(draft_id)
        if switch.option is not None and switch.option >= len(draft.gesture_options):
            raise InvalidInput(f"draft {draft_id} has {len(draft.gesture_options)} gesture "
                               f"options; choose 0-{len(draft.gesture_options) - 1} or null")
        chosen = None if switch.option is None else draft.gesture_options[switch.option]
        request = DraftRequest(text=draft.complaint, customer_id=draft.customer_id,
                               signer=draft.signer)
        understood = self.understand(request)
        recall = self.recall(understood, self._vector(understood.reading.text))
        policy = self.policies.current()
        cooldown = (policy.cooldown_days if policy.cooldown_days is not None
                    else self.settings.gesture_cooldown_days)
        language = require_draft_language(draft.classification.language)
        again = compose(understood, draft.classification, recall,
                        replace(self.knowledge, policy=policy), self._today(), cooldown,
                        signer=draft.signer, switched=Switched(chosen),
                        team_replies=self.drafts.team_replies(
                            language, draft.classification.category.value))
        kept = again.model_copy(update={
            "id": draft.id, "created_at": draft.created_at, "triage_run": draft.triage_run,
            "gesture_options": draft.gesture_options, "engine": OFFLINE_ENGINE,
            "model": OFFLINE_MODEL, "prompt_version": self.knowledge.version,
            "fallback_reason": None, "usage": draft.usage})
        return self.drafts.reworded(kept, switch.reviewer,
                                    f"gesture: {chosen.text if chosen else 'none'}")

    def today(self) -> date:
        return self._today()

    @property
    def engine(self) -> str:
        return OFFLINE_ENGINE if self.llm is None else self.llm.name

    @property
    def model(self) -> str:
        """The model that labels and writes: the one the server says it serves when it says."""
        if self.llm is None:
            return OFFLINE_MODEL
        from .llm import ChatCaller

        caller = self.llm.caller
        return (caller.server.model if isinstance(caller, ChatCaller) and caller.server.model
                else caller.model)

    def health(self, check_endpoint: bool = False) -> Health:
        """Engine and model; with `check_endpoint`, whether the model endpoint answers now."""
        problem = None
        if check_endpoint and self.llm is not None:
            from .llm import ChatCaller

            if isinstance(self.llm.caller, ChatCaller):
                problem = self.llm.caller.ping()
        return Health(status="ok" if problem is None else "unavailable", engine=self.engine,
                      model=self.model, endpoint_problem=problem)

    # The entry points.

    def classify(self, complaint: ComplaintIn) -> Classification:
        return self.cases([DraftRequest.model_validate(complaint.model_dump())])[0].labels

    def classify_many(self, complaints: list[ComplaintIn]) -> list[Classification]:
        requests = [DraftRequest.model_validate(c.model_dump()) for c in complaints]
        return [case.labels for case in self.cases(requests)]

    def draft(self, request: DraftRequest, store: bool = True) -> Draft:
        """A draft for review, saved in the queue (`store=False` for evals: no queue noise)."""
        draft = self.compose(self.cases([request])[0])
        return self.drafts.save(draft) if store else draft

    def cases(
        self, requests: list[DraftRequest], vectors: np.ndarray | None = None,
        use_model: bool = True,
    ) -> list[Case]:
        """Understand, recall and label a batch: embedded at once (`vectors` may come
        precomputed, so a caller can embed the next batch meanwhile), model calls side by
        side. `use_model=False` stops at the offline labels (the Batch API asks the model
        later, through `model_labels`)."""
        for request in requests:
            self._check(request)
        understood = [self.understand(r) for r in requests]
        if vectors is None:  # each complaint's reading, as `embed` would read it
            vectors = self.embeddings.embed_queries([u.reading.text for u in understood])
        recalls = [self.recall(u, v) for u, v in zip(understood, vectors, strict=True)]
        understood = [self._language_by_history(u, r)
                      for u, r in zip(understood, recalls, strict=True)]
        offline = [self.offline_labels(u, v, r)
                   for u, v, r in zip(understood, vectors, recalls, strict=True)]
        llm = self.llm if use_model else None
        if llm is not None:
            offline = self.map_calls(lambda item: self.model_labels(*item, llm),
                                     list(zip(understood, recalls, offline, strict=True)))
        return [Case(request, u, r, labels) for request, u, r, labels
                in zip(requests, understood, recalls, offline, strict=True)]

    def compose_many(self, cases: list[Case]) -> list[Draft]:
        """`compose` for a batch (not stored), model calls side by side."""
        return self.map_calls(self.compose, cases)

    # The steps, in order.

    def _check(self, complaint: ComplaintIn) -> None:
        if len(complaint.text) > self.settings.max_text_chars:
            raise InvalidInput(
                f"text is {len(complaint.text)} characters; the limit is "
                f"{self.settings.max_text_chars} (RECOVERY_MAX_TEXT_CHARS)"
            )

    def understand(self, complaint: ComplaintIn) -> Understood:
        return understand(complaint, self.knowledge, self.settings.redact_pii)

    def _language_by_history(self, understood: Understood, recall: Recall | None) -> Understood:
        """A short Danish or Bokmål complaint with no spelling of its own either way is
        read in the language its customer's history is spelt in (and its cues found again)."""
        if understood.language_given or recall is None:
            return understood
        facts = recall.facts
        context = " ".join(item.text for item in [
            *facts.preferences, *facts.notes, *facts.orders, *facts.gestures_given,
            *facts.earlier_failures])
        code = settled_by_context(understood.reading.text, understood.language, context)
        if code == understood.language:
            return understood
        words = understood.reading.text
        return replace(understood, language=code, reading=Reading(
            words, find_cues(words, code, self.knowledge)), language_reason=Reason(
            source="history", detail=f"{understood.language_reason.detail}; no Danish or "
            f"Bokmål spelling of its own, and the customer's history is spelt {code}"))

    def recall(self, understood: Understood, vector: np.ndarray) -> Recall | None:
        customer = understood.complaint.customer_id
        if not customer:
            return None
        return self.history.recall(customer, vector.tolist(), self._today())

    def offline_labels(
        self, understood: Understood, vector: np.ndarray, recall: Recall | None
    ) -> Classification:
        """The offline engine's proposal through the rubric. A complaint with sentences
        addressed to the model is read a second time without them, and the stricter reading
        is kept, so an appended instruction cannot soften the labels."""
        classifier = self.classifier  # this tenant's model, looked up once per complaint
        proposal, confidence = classifier.propose(understood.reading, vector)
        labels = apply_rubric(proposal, understood.reading.hits, recall)
        if understood.own_words is not None:
            own = Reading(understood.own_words, find_cues(
                understood.own_words, understood.language, self.knowledge))
            clean, _ = classifier.propose(own, self._vector(own.text))
            labels = never_softer(labels, apply_rubric(clean, own.hits, recall),
                                  "the reading without the sentences addressed to the model")
        return self._classification(
            labels, understood, confidence, Usage(),
            warnings_for(understood.text, recall, self.knowledge.injection),
            classifier.index.same_complaint(vector, understood.reading.text),
            engine=OFFLINE_ENGINE,
            model=OFFLINE_MODEL, prompt_version=self.knowledge.version)

    def model_labels(
        self, understood: Understood, recall: Recall | None, offline: Classification,
        llm: LLMEngine,
    ) -> Classification:
        """The model's proposal through the rubric, never softer than the offline reading
        when the text talks to the model; the offline labels, with the reason, when the
        model fails."""
        from .llm import LLMFailure

        try:
            reading = llm.propose(understood, recall, self._today())
        except LLMFailure as failure:
            return offline.model_copy(update={"fallback_reason": f"classify: {failure}",
                                              "usage": offline.usage.plus(failure.usage)})
        labels = apply_rubric(reading.proposal, understood.reading.hits, recall)
        if offline.warnings:
            labels = never_softer(labels, Labels.model_validate(offline, from_attributes=True),
                                  "the offline engine")
        return self._classification(
            labels, understood, reading.confidence, reading.usage, offline.warnings,
            offline.remembered, engine=llm.name, model=reading.model,
            prompt_version=llm.classify_prompt.version)

    def _classification(
        self, labels: Labels, understood: Understood, confidence: float, usage: Usage,
        warnings: list[str], remembered: Remembered | None, *, engine: str, model: str,
        prompt_version: str,
    ) -> Classification:
        """Either engine's labels as the caller sees them: the team's own where it labelled
        this complaint before (`remembered`), with the language and the reasons."""
        if remembered is not None:
            labels = as_the_team_labelled(labels, remembered, understood.reading.hits)
        reasons = labels.reasons.model_copy(update={"language": [understood.language_reason]})
        floor = self.settings.label_certainty_floor
        return Classification(
            **labels.model_dump(exclude={"reasons"}), reasons=reasons,
            unsure=[label for label, value in labels.certainty.items() if value < floor],
            language=understood.language, confidence=confidence, usage=usage, engine=engine,
            model=model, prompt_version=prompt_version,
            warnings=warnings, remembered=remembered)

    def compose(self, case: Case, llm: LLMEngine | None = None) -> Draft:
        """The reply for a labelled complaint, not stored: the caller decides. `llm`
        overrides the engine (the Batch API's replay)."""
        llm = llm or self.llm
        labels, signer = case.labels, case.request.signer
        language = require_draft_language(labels.language)
        team_replies = self.drafts.team_replies(language, labels.category.value)
        today = self._today()
        policy = self.policies.current()
        knowledge = replace(self.knowledge, policy=policy)
        cooldown = (policy.cooldown_days if policy.cooldown_days is not None
                    else self.settings.gesture_cooldown_days)
        fallback_reason, usage = labels.fallback_reason, labels.usage
        if llm is not None and labels.engine == llm.name:
            from .llm import LLMFailure

            try:
                written = llm.draft(case.understood, labels, case.recall, today, signer,
                                    team_replies, knowledge, cooldown)
            except LLMFailure as failure:
                fallback_reason, usage = f"draft: {failure}", usage.plus(failure.usage)
            else:  # what a reviewer may switch to, as the offline composer would offer it
                options = [] if no_treat(labels) else [
                    option for option, _ in gesture_options(
                        knowledge, case.recall, labels.severity, labels.language, today,
                        cooldown, case.understood.reading.text)[0]]
                return written.model_copy(update={"gesture_options": options})
        draft = compose(case.understood, labels, case.recall, knowledge, today, cooldown,
                        signer=signer, team_replies=team_replies)
        return draft.model_copy(update={
            "engine": OFFLINE_ENGINE, "model": OFFLINE_MODEL,
            "prompt_version": self.knowledge.version, "fallback_reason": fallback_reason,
            "usage": usage,
        })

    # Plumbing.

    def embed(self, texts: list[str]) -> np.ndarray:
        """Complaints' vectors, each read as the engine reads it (`reading.plain`)."""
        return self.embeddings.embed_queries([plain(text) for text in texts])

    def _vector(self, reading: str) -> np.ndarray:
        """The vector of a text already read (`Understood.reading`)."""
        vector: np.ndarray = self.embeddings.embed_queries([reading])[0]
        return vector

    def map_calls(self, work: Callable[[Item], Result], items: list[Item]) -> list[Result]:
        """Model calls wait on the network, so a batch runs `llm_concurrency` of them at once
        (the rate limiter keeps them inside the provider's limits); the offline engine is
        CPU-bound and runs in line."""
        if self._calls is None:
            return [work(item) for item in items]
        return list(self._calls.map(work, items))

    def add_history(self, customer_id: str, items: list[HistoryItemIn]) -> list[HistoryItem]:
        return self.history.add(customer_id, items)

    def list_history(self, customer_id: str) -> list[HistoryItem]:
        return self.history.items_of(customer_id)
