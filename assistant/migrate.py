"""Moving to server mode: history from an embedded Chroma folder to a Chroma server, and
drafts, reviews, the audit log and triage runs from SQLite to PostgreSQL; nothing lost.

Safe to run again: rows and vectors already in the target are left as they are, so a run
that was cut off can simply be repeated. Every id of the source is looked up in the target
afterwards; the counts say whether anything is missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import (
    CreateCollectionConfiguration,
    CreateHNSWConfiguration,
)
from sqlalchemy import Engine, Integer, Table, func, insert, inspect, select, text

from .store import Base, open_engine

_PAGE = 500


@dataclass
class Moved:
    what: str
    source: int
    copied: int  # written by this run
    in_target: int  # source items found in the target afterwards

    @property
    def complete(self) -> bool:
        return self.in_target == self.source


def migrate_history(source: ClientAPI, target: ClientAPI) -> list[Moved]:
    """Every collection with its ids, vectors, documents and metadata, as they are: vectors
    are not recomputed, so the target answers exactly as the source did."""
    results = []
    for listed in source.list_collections():
        collection = source.get_collection(listed.name)
        destination = target.get_or_create_collection(
            collection.name, metadata=collection.metadata,
            configuration=_same_index(collection.configuration))
        copied = found = 0
        for page in _pages(collection):
            have = set(destination.get(ids=page["ids"], include=[])["ids"])
            new = [i for i, item_id in enumerate(page["ids"]) if item_id not in have]
            if new:
                destination.add(
                    ids=[page["ids"][i] for i in new],
                    embeddings=[page["embeddings"][i] for i in new],
                    documents=[page["documents"][i] for i in new],
                    metadatas=[page["metadatas"][i] for i in new],
                )
                copied += len(new)
            found += len(destination.get(ids=page["ids"], include=[])["ids"])
        results.append(Moved(f"history: {collection.name}", collection.count(), copied, found))
    return results


def _same_index(configuration: Any) -> CreateCollectionConfiguration:
    """The source's HNSW settings (the distance above all: ours is cosine)."""
    hnsw = dict((configuration or {}).get("hnsw") or {})
    keys = CreateHNSWConfiguration.__annotations__
    return CreateCollectionConfiguration(hnsw=CreateHNSWConfiguration(
        **{k: v for k, v in hnsw.items() if k in keys and v is not None}))  # type: ignore[typeddict-item]


def _pages(collection: Any) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = collection.get(include=["embeddings", "documents", "metadatas"], limit=_PAGE,
                              offset=offset)
        if not page["ids"]:
            return
        yield page
        offset += len(page["ids"])


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def migrate_drafts(source_url: str, target_url: str, timeout_s: float = 30.0) -> list[Moved]:
    source, target = open_engine(source_url, timeout_s), open_engine(target_url, timeout_s)
    try:
        for table in _tables():
            table.create(target, checkfirst=True)
        return [_copy_table(table, source, target) for table in _tables()
                if inspect(source).has_table(table.name)]
    finally:
        source.dispose()
        target.dispose()


def _copy_table(table: Table, source: Engine, target: Engine) -> Moved:
    (key,) = table.primary_key.columns
    copied = found = total = 0
    # A source from an older version may lack newer columns; the target's defaults fill them.
    present = {column["name"] for column in inspect(source).get_columns(table.name)}
    columns = [column for column in table.columns if column.name in present]
    with source.connect() as reading:
        rows = reading.execute(select(*columns).order_by(key)).mappings()
        while chunk := rows.fetchmany(_PAGE):
            total += len(chunk)
            ids = [row[key.name] for row in chunk]
            with target.begin() as writing:
                have = set(writing.scalars(select(key).where(key.in_(ids))))
                new = [_portable(dict(row)) for row in chunk if row[key.name] not in have]
                if new:
                    writing.execute(insert(table), new)
                    copied += len(new)
                found += writing.scalar(select(func.count()).where(key.in_(ids))) or 0
    if target.dialect.name == "postgresql" and isinstance(key.type, Integer):
        # Ids were copied as they were; the sequence must continue after the largest.
        with target.begin() as writing:
            writing.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'), "
                f"COALESCE((SELECT MAX({key.name}) FROM {table.name}), 0) + 1, false)"))
    return Moved(f"database: {table.name}", total, copied, found)


def _portable(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite keeps no time zone; our times are UTC, and PostgreSQL should know it."""
    return {name: value.replace(tzinfo=UTC) if isinstance(value, datetime) and
            value.tzinfo is None else value for name, value in row.items()}
