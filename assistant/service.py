"""The Assistant: one object that classifies, recalls and drafts; the API and CLI wrap it."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TypeVar

import numpy as np

from .classify import ExampleIndex, OfflineClassifier, stricter
from .draft import compose, require_draft_language
from .embeddings import make_embeddings
from .errors import InvalidInput
from .history import HistoryStore, open_chroma_client
from .injection import without_instructions
from .keys import KeyStore
from .knowledge import load_knowledge
from .language import warm_up
from .llm import ENGINE as LLM_ENGINE
from .llm import ChatCaller, LLMEngine, LLMFailure
from .models import (
    Classification,
    ComplaintIn,
    Draft,
    DraftRequest,
    HistoryItem,
    HistoryItemIn,
    Recall,
)
from .review import DraftStore
from .settings import Settings
from .tenancy import DEFAULT_TENANT, check_tenant

Item = TypeVar("Item")
Result = TypeVar("Result")


class Assistant:
    """Build once per process (clients, models, knowledge), then call from any thread."""

    tenant = DEFAULT_TENANT

    def __init__(self, settings: Settings, today: Callable[[], date] = date.today) -> None:
        self.settings = settings
        self._today = today
        self.knowledge = load_knowledge(settings.knowledge_dir)
        self.embeddings = make_embeddings(settings)
        self._chroma = open_chroma_client(settings)
        self.history = HistoryStore(settings, self.embeddings, self._chroma)
        index = ExampleIndex(self.knowledge.examples, self.embeddings, settings.resolved_cache_dir)
        self.classifier = OfflineClassifier(self.knowledge, index)
        self.drafts = DraftStore(settings.resolved_database_url, settings.db_timeout_s)
        self.keys = KeyStore(self.drafts.engine)
        self._tenants: dict[str, Assistant] = {DEFAULT_TENANT: self}
        self._tenants_lock = threading.Lock()
        self.llm: LLMEngine | None = None
        self._calls: ThreadPoolExecutor | None = None
        if settings.resolved_engine == "llm":
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
                self._tenants[tenant] = found
            return found

    def today(self) -> date:
        return self._today()

    @property
    def engine(self) -> str:
        return LLM_ENGINE if self.llm else "offline"

    def _check(self, complaint: ComplaintIn) -> None:
        if len(complaint.text) > self.settings.max_text_chars:
            raise InvalidInput(
                f"text is {len(complaint.text)} characters; the limit is "
                f"{self.settings.max_text_chars} (RECOVERY_MAX_TEXT_CHARS)"
            )

    def _understand(self, complaint: ComplaintIn) -> tuple[Classification, Recall | None]:
        self._check(complaint)
        vector = self.embeddings.embed_queries([complaint.text])[0]
        return self._classify_vector(complaint, vector)

    def _classify_vector(
        self, complaint: ComplaintIn, vector: np.ndarray, offline_only: bool = False
    ) -> tuple[Classification, Recall | None]:
        recall = None
        if complaint.customer_id:
            recall = self.history.recall(complaint.customer_id, vector.tolist(), self._today())
        offline = self.classifier.classify(
            complaint.text, vector, self._today(), language=complaint.language, recall=recall
        )
        own_words = without_instructions(complaint.text, self.knowledge.injection)
        if own_words is not None:
            offline = stricter(offline, self.classifier.classify(
                own_words, self.embed([own_words])[0], self._today(),
                language=complaint.language or offline.language, recall=recall))
        if self.llm is None or offline_only:
            return offline, recall
        return self.llm_classification(complaint, offline, recall, self.llm), recall

    def llm_classification(
        self, complaint: ComplaintIn, offline: Classification, recall: Recall | None,
        llm: LLMEngine,
    ) -> Classification:
        """The model's labels; the offline ones, with the reason, when the model fails."""
        try:
            return llm.classify(complaint.text, offline, recall, self._today(),
                                language_given=bool(complaint.language))
        except LLMFailure as failure:
            return offline.model_copy(update={"fallback_reason": f"classify: {failure}"})

    def classify(self, complaint: ComplaintIn) -> Classification:
        return self._understand(complaint)[0]

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embeddings.embed_queries(texts)

    def classify_many(self, complaints: list[ComplaintIn]) -> list[Classification]:
        return [classification for classification, _ in self.understand_many(complaints)]

    def understand_many(
        self, complaints: list[ComplaintIn], vectors: np.ndarray | None = None,
        offline_only: bool = False,
    ) -> list[tuple[Classification, Recall | None]]:
        """Embeds the whole batch at once: the fast path for evals and triage. `vectors` may
        come precomputed (`embed`), so a caller can embed the next batch meanwhile;
        `offline_only` skips the model (the Batch API asks it later)."""
        for complaint in complaints:
            self._check(complaint)
        if vectors is None:
            vectors = self.embed([c.text for c in complaints])
        if offline_only:
            return [self._classify_vector(c, v, offline_only=True)
                    for c, v in zip(complaints, vectors, strict=True)]
        return self.map_calls(lambda pair: self._classify_vector(*pair),
                         list(zip(complaints, vectors, strict=True)))

    def draft_many(
        self, items: list[tuple[DraftRequest, Classification, Recall | None]]
    ) -> list[Draft]:
        """`draft_from` for a batch (not stored), model calls side by side."""
        return self.map_calls(lambda item: self.draft_from(*item), items)

    def map_calls(self, work: Callable[[Item], Result], items: list[Item]) -> list[Result]:
        """Model calls wait on the network, so a batch runs `llm_concurrency` of them at once
        (the rate limiter keeps them inside the provider's limits); the offline engine is
        CPU-bound and runs in line."""
        if self._calls is None:
            return [work(item) for item in items]
        return list(self._calls.map(work, items))

    def draft(self, request: DraftRequest, store: bool = True) -> Draft:
        """A draft for review, saved in the queue (`store=False` for evals: no queue noise)."""
        draft = self._make_draft(request)
        return self.drafts.save(draft) if store else draft

    def _make_draft(self, request: DraftRequest) -> Draft:
        classification, recall = self._understand(request)
        return self.draft_from(request, classification, recall)

    def draft_from(
        self, request: DraftRequest, classification: Classification, recall: Recall | None,
        llm: LLMEngine | None = None,
    ) -> Draft:
        """A draft for a complaint already classified (triage classifies in batches first).
        Not stored: the caller decides. `llm` overrides the engine (the Batch API's replay)."""
        llm = llm or self.llm
        language = require_draft_language(classification.language)
        learned = self.drafts.learned_replies(language, classification.category.value)
        today = self._today()
        fallback_reason = classification.fallback_reason
        if llm is not None and classification.engine == LLM_ENGINE:
            try:
                return llm.draft(
                    request.text, classification, recall, today, request.signer, learned)
            except LLMFailure as failure:
                fallback_reason = f"draft: {failure}"
        draft = compose(
            request.text, classification, recall, self.knowledge, today,
            self.settings.gesture_cooldown_days, signer=request.signer, learned=learned,
        )
        return draft.model_copy(update={
            "engine": "offline", "model": self.classifier.model,
            "prompt_version": self.knowledge.version, "fallback_reason": fallback_reason,
        })

    def add_history(self, customer_id: str, items: list[HistoryItemIn]) -> list[HistoryItem]:
        return self.history.add(customer_id, items)

    def list_history(self, customer_id: str) -> list[HistoryItem]:
        return self.history.items_of(customer_id)
