"""Customer history in Chroma: what we know about each customer, recalled for a complaint.

Every item belongs to exactly one customer. Every read filters on that customer id in the
store itself, so one customer's history can never leak into another customer's reply.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from .embeddings import QueryPassageEmbeddings
from .errors import InvalidInput, Unavailable
from .language import detect
from .models import (
    CustomerFacts,
    HistoryItem,
    HistoryItemIn,
    HistoryKind,
    Recall,
    RecalledItem,
)
from .settings import Settings
from .tenancy import DEFAULT_TENANT

if TYPE_CHECKING:  # Chroma's imports take most of a second: only when history is used
    from chromadb.api import ClientAPI
    from langchain_chroma import Chroma

_MAX_LISTED = 1_000


def open_chroma_client(settings: Settings) -> ClientAPI:
    """A Chroma server when `chroma_url` is set (several instances share it); else the
    embedded, persistent client: one folder on disk. Telemetry off either way."""
    if settings.chroma_url:
        return _chroma_server(settings)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path = settings.resolved_chroma_path
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    )


def _chroma_server(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import ChromaError

    url = urlsplit(settings.chroma_url or "")
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise InvalidInput(f"RECOVERY_CHROMA_URL must look like http://host:8000, not "
                           f"{settings.chroma_url!r}")
    headers = {}
    if settings.chroma_token:
        token = settings.chroma_token.get_secret_value()
        bearer = settings.chroma_token_header.lower() == "authorization"
        headers[settings.chroma_token_header] = f"Bearer {token}" if bearer else token
    try:
        client = chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", headers=headers,
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        # Chroma's HTTP client waits forever by default; every outside call gets a timeout.
        client._server._session.timeout = httpx.Timeout(settings.request_timeout_s)  # type: ignore[attr-defined]
        client.heartbeat()
    except (ValueError, httpx.HTTPError, ChromaError) as exc:
        raise Unavailable(f"cannot reach the Chroma server at {settings.chroma_url}: "
                          f"{exc}") from exc
    return client


def collection_name(base: str, embeddings: QueryPassageEmbeddings, tenant: str) -> str:
    """One collection per tenant, so no query can reach another tenant's customers; and per
    embedding model, since vectors of different models cannot share one. The default tenant
    keeps the name from before tenants existed. Chroma allows 63 characters."""
    slug = "".join(c if c.isalnum() else "-" for c in embeddings.name.lower()).strip("-")
    if tenant == DEFAULT_TENANT:
        return f"{base}-{slug}"[:63]
    return f"{base}-{slug}"[:61 - len(tenant)] + f"--{tenant}"


class ChromaConnection:
    """The Chroma client, opened on first use and shared by every tenant's store: a command
    that never reads history never loads Chroma."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: ClientAPI | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ClientAPI:
        with self._lock:
            if self._client is None:
                self._client = open_chroma_client(self._settings)
            return self._client


class HistoryStore:
    """The history of one tenant's customers."""

    def __init__(
        self, settings: Settings, embeddings: QueryPassageEmbeddings,
        connection: ChromaConnection, tenant: str = DEFAULT_TENANT,
    ) -> None:
        self._settings = settings
        self._embeddings = embeddings
        self._connection = connection
        self._tenant = tenant

    @functools.cached_property
    def _vectors(self) -> Chroma:
        from langchain_chroma import Chroma

        return Chroma(
            collection_name=collection_name(self._settings.collection, self._embeddings,
                                            self._tenant),
            embedding_function=self._embeddings,
            client=self._connection(),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def add(self, customer_id: str, items: list[HistoryItemIn]) -> list[HistoryItem]:
        """Store items for one customer; an item with an id it already has replaces it."""
        if not items:
            raise InvalidInput("no history items given; send one item or a non-empty list")
        if len(items) > self._settings.max_batch_items:
            raise InvalidInput(
                f"{len(items)} items in one request; send at most "
                f"{self._settings.max_batch_items} (RECOVERY_MAX_BATCH_ITEMS)"
            )
        stored = [
            HistoryItem(
                id=item.id or uuid.uuid4().hex[:12],
                customer_id=customer_id,
                kind=item.kind,
                text=item.text,
                at=item.at,
                language=detect(item.text).code,
            )
            for item in items
        ]
        try:
            self._vectors.add_texts(
                texts=[item.text for item in stored],
                metadatas=[_to_metadata(item) for item in stored],
                ids=[_vector_id(item.customer_id, item.id) for item in stored],
            )
        except Exception as exc:  # chroma raises many types; all mean "not stored"
            raise Unavailable(f"history store did not accept the items: {exc}") from exc
        return stored

    def items_of(self, customer_id: str) -> list[HistoryItem]:
        """All items of one customer, newest first."""
        try:
            found = self._vectors.get(
                where={"customer_id": customer_id},
                limit=_MAX_LISTED,
                include=["metadatas", "documents"],
            )
        except Exception as exc:
            raise Unavailable(f"history store did not answer: {exc}") from exc
        items = [
            _from_metadata(meta, doc)
            for meta, doc in zip(found["metadatas"], found["documents"], strict=True)
        ]
        return sorted(items, key=lambda item: (item.at, item.id), reverse=True)

    def recall(self, customer_id: str, query_vector: list[float], today: date) -> Recall:
        """The items most relevant to a complaint, of this customer only, plus derived facts."""
        everything = self.items_of(customer_id)
        if not everything:
            return Recall(customer_id=customer_id)
        try:
            hits = self._vectors.similarity_search_by_vector_with_relevance_scores(
                query_vector, k=min(self._settings.recall_k, len(everything)),
                filter={"customer_id": customer_id},
            )
        except Exception as exc:
            raise Unavailable(f"history store did not answer: {exc}") from exc
        recalled = [
            RecalledItem(
                **_from_metadata(doc.metadata, doc.page_content).model_dump(),
                relevance=round(max(0.0, 1.0 - distance), 4),
            )
            for doc, distance in hits
        ]
        return Recall(customer_id=customer_id, items=recalled, facts=derive_facts(
            everything, today, self._settings.failure_window_days
        ))


_ORDERS_KEPT = 50  # the most recent orders: what a customer comes back for


def derive_facts(items: Iterable[HistoryItem], today: date, window_days: int) -> CustomerFacts:
    """Earlier failures in the window, gestures already given, stated preferences."""
    since = today - timedelta(days=window_days)
    facts = CustomerFacts()
    for item in items:
        if item.kind is HistoryKind.ticket and since <= item.at <= today:
            facts.earlier_failures.append(item)
        elif item.kind is HistoryKind.gesture:
            facts.gestures_given.append(item)
        elif item.kind is HistoryKind.preference:
            facts.preferences.append(item)
        elif item.kind is HistoryKind.order:
            facts.order_count += 1
            facts.orders.append(item)
        elif item.kind is HistoryKind.note:
            facts.notes.append(item)
    facts.orders.sort(key=lambda item: item.at, reverse=True)
    del facts.orders[_ORDERS_KEPT:]
    return facts


def _vector_id(customer_id: str, item_id: str) -> str:
    # Item ids are the caller's; two customers may both have an "h1".
    return f"{customer_id}/{item_id}"


def _to_metadata(item: HistoryItem) -> dict[str, Any]:
    return {
        "customer_id": item.customer_id,
        "item_id": item.id,
        "kind": item.kind.value,
        "at": item.at.isoformat(),
        "language": item.language or "",
    }


def _from_metadata(meta: Any, text: Any) -> HistoryItem:
    return HistoryItem(
        id=str(meta["item_id"]),
        customer_id=str(meta["customer_id"]),
        kind=HistoryKind(meta["kind"]),
        text=str(text),
        at=date.fromisoformat(str(meta["at"])),
        language=str(meta.get("language") or "") or None,
    )


def read_history_file(path: Path) -> Iterator[tuple[str, HistoryItemIn]]:
    """(customer_id, item) pairs from a JSONL or CSV file; a bad line fails with its number."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows: Iterable[tuple[int, Any]] = _jsonl_rows(content, path)
    elif suffix == ".csv":
        rows = enumerate(csv.DictReader(io.StringIO(content)), start=2)
    else:
        raise InvalidInput(f"{path}: use a .jsonl or .csv file")
    for line_no, row in rows:
        yield _history_row(row, f"{path}:{line_no}")


def _jsonl_rows(content: str, path: Path) -> Iterator[tuple[int, Any]]:
    for line_no, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc


def _history_row(row: Any, where: str) -> tuple[str, HistoryItemIn]:
    if not isinstance(row, dict):
        raise InvalidInput(f"{where}: expected an object with customer_id, kind, text, at")
    fields = {k: v for k, v in row.items() if k and v not in (None, "")}
    customer_id = str(fields.pop("customer_id", "")).strip()
    if not customer_id:
        raise InvalidInput(f"{where}: customer_id is missing")
    try:
        return customer_id, HistoryItemIn.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{where}: {problems}") from exc
