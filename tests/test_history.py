from datetime import date
from pathlib import Path

import pytest

from assistant.errors import InvalidInput
from assistant.history import read_history_file
from assistant.models import HistoryItemIn, HistoryKind
from tests.conftest import TODAY


@pytest.fixture()
def settings(store_settings):
    """These tests run on the embedded stores and on a Chroma server with PostgreSQL."""
    return store_settings



def item(kind, text, at, id=None):
    return HistoryItemIn(kind=kind, text=text, at=date.fromisoformat(at), id=id)


def test_recall_returns_only_that_customers_items(history, embeddings):
    history.add("guest-1", [
        item("preference", "Ordered a strawberry smoothie twice at breakfast", "2026-11-01", "p1"),
        item("order", "Caesar salad with blue cheese, room 214", "2026-11-20", "o1"),
    ])
    history.add("guest-2", [
        item("preference", "Loves strawberry smoothies", "2026-10-01", "p1"),
        item("gesture", "Free smoothie for cold food", "2026-10-02", "g1"),
    ])
    vector = embeddings.embed_query("My salad came without the blue cheese")
    recall = history.recall("guest-1", vector, TODAY)
    assert {i.customer_id for i in recall.items} == {"guest-1"}
    assert recall.items[0].id == "o1"  # the salad order is the most relevant
    assert [p.id for p in recall.facts.preferences] == ["p1"]
    assert recall.facts.gestures_given == []
    # same item id for two customers does not collide
    assert {i.text for i in history.items_of("guest-2")} == {
        "Loves strawberry smoothies", "Free smoothie for cold food"
    }


def test_facts_window_counts_only_recent_tickets(history, embeddings):
    history.add("c1", [
        item("ticket", "Late delivery", "2026-09-01"),
        item("ticket", "Wrong size", "2026-03-01"),
        item("ticket", "Broken lamp", "2024-01-01"),
        item("gesture", "10% discount code", "2026-09-02"),
    ])
    recall = history.recall("c1", embeddings.embed_query("late again"), TODAY)
    assert sorted(f.text for f in recall.facts.earlier_failures) == ["Late delivery", "Wrong size"]
    assert [g.text for g in recall.facts.gestures_given] == ["10% discount code"]


def test_unknown_customer_recalls_nothing(history, embeddings):
    recall = history.recall("nobody", embeddings.embed_query("hello"), TODAY)
    assert recall.items == [] and recall.facts.earlier_failures == []


def test_history_survives_reopening(settings, embeddings):
    from assistant.history import ChromaConnection, HistoryStore

    first = HistoryStore(settings, embeddings, ChromaConnection(settings))
    first.add("c9", [item(HistoryKind.order, "Two pizzas", "2026-11-01", "o9")])
    again = HistoryStore(settings, embeddings, ChromaConnection(settings))
    assert [i.id for i in again.items_of("c9")] == ["o9"]


def test_reading_a_file_reports_the_bad_line(tmp_path: Path):
    good = tmp_path / "h.jsonl"
    good.write_text(
        '{"customer_id": "c1", "kind": "order", "text": "Two pizzas", "at": "2026-11-01"}\n'
        '{"customer_id": "c1", "kind": "horoscope", "text": "x", "at": "2026-11-01"}\n'
    )
    rows = read_history_file(good)
    assert next(rows)[0] == "c1"
    with pytest.raises(InvalidInput, match="h.jsonl:2: kind"):
        next(rows)
    csv_file = tmp_path / "h.csv"
    csv_file.write_text("customer_id,kind,text,at\nc2,preference,Window seat,2026-01-02\n")
    assert [(c, i.text) for c, i in read_history_file(csv_file)] == [("c2", "Window seat")]
