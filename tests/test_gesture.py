"""Gestures from what this customer actually comes back for, in the history's own words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from assistant.evals import read_eval_file, run_eval
from assistant.gesture import from_history, own_gestures
from assistant.items import Price, item_name, unit_price
from assistant.models import (
    CustomerFacts,
    DraftRequest,
    HistoryItem,
    HistoryItemIn,
    HistoryKind,
    Recall,
    Severity,
)
from assistant.service import Assistant
from assistant.settings import REPO_ROOT, Settings
from tests.conftest import api_client, data_cases, new_assistant

TODAY = date(2026, 11, 28)


def _item(id_: str, kind: HistoryKind, text: str, at: str) -> HistoryItem:
    return HistoryItem(id=id_, customer_id="c", kind=kind, text=text, at=date.fromisoformat(at))


def _recall(*items: HistoryItem) -> Recall:
    facts = CustomerFacts(
        orders=sorted([i for i in items if i.kind is HistoryKind.order], key=lambda i: i.at,
                      reverse=True),
        preferences=[i for i in items if i.kind is HistoryKind.preference],
        gestures_given=[i for i in items if i.kind is HistoryKind.gesture],
        notes=[i for i in items if i.kind is HistoryKind.note])
    return Recall(customer_id="c", facts=facts)


# Read once after the code was written; still missed (evals/README.md, History formats).
_FORMATS_MISSED = {
    "like-g07": "two liked items ('brunost og lefse') stay one option",
    "want-h02": "'till läsplattan' goes as a for-whom phrase; 'skinnfodral' is still the item",
    "obj-h04": "'bestiller aldrig noget andet end' (never anything but) reads as a denial",
    "unit-t04": "a court's number after its name ('Padelbana 2') stays part of it",
    "unit-h04": "a court's number after its name ('Tennisplatz 1') stays part of it",
    "notitem-h04": "'Drinks only decaf' is read as the like, before the usual oat flat white",
    "never-h02": "a container without 'of' ('en pose kanelknuter') stays part of the item",
    "pays-h02": "a trailing adverb ('Fensterplatz extra') stays part of the item",
}


@pytest.mark.parametrize("case", data_cases("history-formats.jsonl", _FORMATS_MISSED))
def test_an_item_is_named_without_its_exports_wrapping(case):
    """Orders and likes as other systems export them: order numbers, quantities, prices,
    sizes, labels, table rows, several items in one order, likes inside a longer note."""
    ingested = [HistoryItemIn(kind=kind, text=text, at=at) for kind, text, at in case["items"]]
    items = [_item(f"i{n}", item.kind, item.text, item.at.isoformat())
             for n, item in enumerate(ingested)]
    options = [choice.words for choice in from_history(_recall(*items), TODAY, 180)]
    first = options[0].casefold() if options else None
    assert first == (case["expect"].casefold() if case["expect"] else None), options


@pytest.mark.parametrize("text, price", [
    ("Order #4411: 2 x Merino hiking socks (grey, size 42) - 29.90 EUR", Price(14.95, "EUR")),
    ("Bestellt: 2 Stück Mohnschnecke à 2,80 €", Price(2.8, "EUR")),
    ("#10587 | Alpaca beanie | qty 2 | $68.00", Price(34.0, "USD")),
    ("Ordre 7902 – 2 stk. Rugbrødsmix 1 kg – 39,95 kr", Price(19.98, None)),
    ("Deluxe room, 2 nights, 1 980,50 SEK", Price(1980.5, "SEK")),
    ("Espresso machine 1,299.00 GBP", Price(1299.0, "GBP")),
    ("Lakritsfudge 200 g, SEK 49", Price(49.0, "SEK")),
    ("2 x Rugbrødsmix, kr. 39,95", Price(19.98, None)),
    ("Rye sourdough loaf", None),
])
def test_one_items_price_is_read_from_the_order(text, price):
    assert unit_price(text) == price


@pytest.mark.parametrize(("text", "name"), [
    ("Lakritsfudge 200 g, SEK 49", "Lakritsfudge"),  # a size is no order number
    ("Coffee beans 500 g", "Coffee beans"),
    ("SKU 88123 Linen pillowcase set, sage", "Linen pillowcase set"),
    ("SEK 49 Lakritsfudge", "Lakritsfudge"),
])
def test_an_items_name_is_not_its_size_code_or_price(text, name):
    assert item_name(text) == name


def test_an_own_item_is_worth_its_price_and_never_more_than_the_cap(knowledge):
    """The policy's treat value stands in only where the order gives no price in the policy's
    currency; an item dearer than the cap for the severity is not offered."""
    def options(*orders: str) -> list[tuple[str, float]]:
        recall = _recall(*(_item(f"o{n}", HistoryKind.order, text, f"2026-{9 + n % 3}-0{n}")
                           for n, text in enumerate(orders, start=1)))
        return [(g.text, g.value) for g, _ in own_gestures(
            knowledge, recall, Severity.medium, TODAY, 180, "")]

    socks = "Order #44{n}: 2 x Merino hiking socks - 29.90 EUR"
    assert options(socks.format(n=1), socks.format(n=2)) == [("Merino hiking socks", 14.95)]
    machine = "Espresso machine - 349 EUR"
    assert options(machine, machine) == []  # over the medium cap of 40
    dollars = "Alpaca beanie - $34.00"
    assert options(dollars, dollars) == [("Alpaca beanie", knowledge.policy.treat_value)]
    assert options("Oat latte", "Oat latte") == [("Oat latte", knowledge.policy.treat_value)]


# Read once after the code and lists were written (evals/README.md, Allergies and diets).
_EXCLUSIONS_MISSED = {
    "family-h03": "a cocktail by its name ('negroni') is not in the alcohol family's words",
    "af-h03": "a cocktail by its name ('Negroni') is not in the alcohol family's words",
    "family-h09": "'räk' is too short to match inside a compound ('räkmacka')",
    "family-g01": "a cheese by its name ('gruyère') is not in the dairy family's words",
    "family-g06": "liver pâté ('leverpostej') is not in the meat family's words",
    "prod-h02": "a custard by its Swedish name ('vaniljsås') is not in the dairy family's words",
}


@pytest.mark.parametrize("case", data_cases("exclusions.jsonl", _EXCLUSIONS_MISSED))
def test_an_allergy_or_a_diet_rules_out_what_holds_it(knowledge, case):
    """"Nut allergy" rules out the hazelnut praline, "Vegan" the cheese platter, "Laktos-
    intolerant" the gräddtårta; an allergy to something else, or an oat latte, is left."""
    recall = _recall(_item("n1", HistoryKind.note, case["note"], "2026-01-01"),
                     _item("p1", HistoryKind.preference, case["preference"], "2026-02-01"))
    offered = from_history(recall, TODAY, 180, "", knowledge.exclusions)
    assert bool(offered) is not case["excluded"]


def test_repeat_orders_are_options_in_their_own_words():
    recall = _recall(_item("o1", HistoryKind.order, "Kardemummabullar, 6-pack", "2026-10-01"),
                     _item("o2", HistoryKind.order, "Kardemummabullar, 6-pack", "2026-11-01"),
                     _item("o3", HistoryKind.order, "Kaffefilter", "2026-11-02"))
    (choice,) = from_history(recall, TODAY, 180)
    assert choice.words == "Kardemummabullar" and choice.history_ids == ["o2", "o1"]


def test_a_stated_like_comes_before_repeat_orders():
    recall = _recall(_item("p1", HistoryKind.preference, "Loves the rhubarb crumble", "2026-09-01"),
                     _item("o1", HistoryKind.order, "Oat latte", "2026-10-01"),
                     _item("o2", HistoryKind.order, "Oat latte", "2026-11-01"))
    assert [c.words for c in from_history(recall, TODAY, 180)] == ["rhubarb crumble", "Oat latte"]


def test_what_was_given_recently_or_cannot_be_had_is_never_offered(knowledge):
    recall = _recall(
        _item("g1", HistoryKind.gesture, "Free sourdough loaf after a late order", "2026-11-10"),
        _item("o1", HistoryKind.order, "Rye sourdough loaf", "2026-10-01"),
        _item("o2", HistoryKind.order, "Rye sourdough loaf", "2026-11-01"),
        _item("n1", HistoryKind.note, "Does not drink alcohol", "2026-01-01"),
        _item("p1", HistoryKind.preference, "Likes the house red wine", "2026-01-01"),
        _item("o3", HistoryKind.order, "Elderflower lemonade", "2026-09-01"),
        _item("o4", HistoryKind.order, "Elderflower lemonade", "2026-10-01"))
    options = from_history(recall, TODAY, 180, "", knowledge.exclusions)
    assert [c.words for c in options] == ["Elderflower lemonade"]
    # Past the cooldown the loaf may be offered again.
    assert "Rye sourdough loaf" in [
        c.words for c in from_history(recall, TODAY, 10, "", knowledge.exclusions)]


def test_no_history_no_invented_gesture():
    assert from_history(None, TODAY, 180) == []
    assert from_history(_recall(_item("t1", HistoryKind.ticket, "Asked about parking",
                                      "2026-10-01")), TODAY, 180) == []


def test_the_seed_case_over_the_api(tmp_path):
    """The guests ordered a strawberry smoothie at the pool bar two days running; the draft
    offers one. Their neighbour's mango lassi never appears."""
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    with api_client(assistant) as client:
        for guest, drink in (("room-214", "Strawberry smoothie"), ("room-241", "Mango lassi")):
            r = client.post(f"/v1/customers/{guest}/history", json=[
                {"id": f"{guest}-o1", "kind": "order", "text": f"{drink} at the pool bar",
                 "at": "2026-11-21"},
                {"id": f"{guest}-o2", "kind": "order", "text": f"{drink} at the pool bar",
                 "at": "2026-11-22"}])
            assert r.status_code == 201, r.text
        r = client.post("/v1/drafts", json={
            "text": "The pool was closed all afternoon without any notice.",
            "customer_id": "room-214"})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert "smoothie" in draft["reply"].lower() and "lassi" not in draft["reply"].lower()
    assert draft["gesture"]["kind"] == "history"
    assert draft["gesture"]["based_on"] in {"room-214-o1", "room-214-o2"}
    assert {"room-214-o1", "room-214-o2"} <= set(draft["history_used"])


def _scenario_eval(tmp_path: Path, name: str) -> dict:
    """A set's report as `recovery eval --as-of 2026-11-28` makes it, in a fresh data folder
    (the command itself is tested in `test_evals.py`)."""
    assistant = Assistant(Settings(data_dir=tmp_path, engine="offline"), today=lambda: TODAY)
    return run_eval(assistant, read_eval_file(REPO_ROOT / "evals" / "data" / name))


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict]:
    """Each scenario set's report, run once through the CLI for both tests that read it."""
    reports: dict[str, dict] = {}

    def report(name: str) -> dict:
        if name not in reports:
            reports[name] = _scenario_eval(tmp_path_factory.mktemp("scenarios"), name)
        return reports[name]
    return report



@pytest.mark.parametrize(("name", "right"), [
    # The first two written before the gesture code (right gesture 0.0 before it); the
    # issue's bar is 90 % right and no forbidden gesture.
    ("gestures-v1.jsonl", 1.0),        # the part the code was developed against
    ("gestures-heldout.jsonl", 0.9),   # never tuned on (evals/README.md)
    ("gestures-heldout-2.jsonl", 0.9),  # written after the code, run once: 27 of 29
    ("gestures-heldout-3.jsonl", 0.9),  # written before the own-words fix: 40 → 44 of 47
    ("gestures-heldout-4.jsonl", 0.9),  # businesses other than food, run once: 13 of 17
    ("gestures-heldout-5.jsonl", 0.9),  # written in session 18, run once: 16 of 18
    ("gestures-heldout-6.jsonl", 0.9),  # written after heldout-5's fixes, run once: 17 of 20
    ("gestures-heldout-7.jsonl", 0.9),  # written after heldout-6's fixes, run once: 15 of 17
    ("gestures-heldout-8.jsonl", 0.9),  # written after heldout-7's fixes, run once: 12 of 17
    ("gestures-heldout-9.jsonl", 0.9),  # written after heldout-8's fixes, run once: 16 of 16
    ("gestures-heldout-10.jsonl", 0.9),  # written in session 19, run once: 12 of 18
    ("gestures-heldout-11.jsonl", 0.9),  # written after heldout-10's fixes, run once: 10 of 16
    ("gestures-heldout-12.jsonl", 0.9),  # written in session 20, run once: 19 of 20
    ("gestures-heldout-13.jsonl", 0.9),  # 2 distractors each, run once: 13 of 16
    ("gestures-heldout-14.jsonl", 0.9),  # the kinds in turn, run once: 11 of 17
    ("gestures-heldout-15.jsonl", 0.9),  # written in session 21, run once: 17 of 21
    ("gestures-heldout-16.jsonl", 0.9),  # written after heldout-15's fixes, run once: 14 of 18
    ("gestures-heldout-17.jsonl", 0.9),  # written after heldout-16's fixes, run once: 10 of 16
    ("gestures-heldout-18.jsonl", 0.9),  # written after heldout-17's fixes, run once: 16 of 18
    ("gestures-heldout-19.jsonl", 0.9),  # written after heldout-18's fixes, run once: 10 of 12
])
def test_the_scenario_sets(scenario_report, name, right):
    report = scenario_report(name)
    drafts = report["drafts"]
    assert drafts["gesture_mentions_any"] >= right
    # Each scenario says how it went, so a miss can be found without running it again.
    scored = [item for item in report["items"] if "gesture_right" in item]
    assert len(scored) > 0 and all(isinstance(item["gesture_right"], bool) for item in scored)
    assert sum(item["gesture_right"] for item in scored) / len(scored) == pytest.approx(
        drafts["gesture_mentions_any"])
    assert all(rate == 1.0 for rate in drafts["checks"].values()), drafts["checks"]


@pytest.mark.parametrize("name", [
    "gestures-v1.jsonl", "gestures-heldout.jsonl", "gestures-heldout-2.jsonl",
    "gestures-heldout-3.jsonl",  # 0 of 67 since a like older than an allergy gives way
    "gestures-heldout-4.jsonl", "gestures-heldout-5.jsonl", "gestures-heldout-6.jsonl",
    "gestures-heldout-7.jsonl", "gestures-heldout-8.jsonl", "gestures-heldout-9.jsonl",
    "gestures-heldout-10.jsonl", "gestures-heldout-11.jsonl", "gestures-heldout-12.jsonl",
    "gestures-heldout-13.jsonl", "gestures-heldout-14.jsonl", "gestures-heldout-15.jsonl",
    "gestures-heldout-16.jsonl", "gestures-heldout-18.jsonl", "gestures-heldout-19.jsonl",
    pytest.param("gestures-heldout-17.jsonl", marks=pytest.mark.xfail(strict=True, reason=(
        "h17-de-05: a family left on the street at night by a package holiday is read as "
        "high, not as a safety harm, so it is offered a boat trip")))])
def test_no_scenario_offers_a_forbidden_item(scenario_report, name):
    report = scenario_report(name)
    named = {item["id"]: item["forbidden_named"] for item in report["items"]
             if item.get("forbidden_named")}
    assert report["drafts"]["must_not_mention"] == 1.0 and not named, named


@pytest.mark.parametrize(("orders", "given", "left"), [
    ("Large Diavola + garlic dip", "Free garlic dip on next order", "Large Diavola"),  # tune
    ("Kaffe + kanelbulle", "Bjöd på en kanelbulle", "Kaffe"),
    ("Mohnschnecke und Cappuccino", "Eine Mohnschnecke gratis", "Cappuccino"),
])
def test_a_repeat_order_whose_part_was_given_leaves_its_other_part(orders, given, left):
    """The customer always orders two things together and one of them was the gesture this
    month: the other is still what they come back for."""
    items = [_item(f"o{n}", HistoryKind.order, orders, f"2026-{n + 8:02d}-01") for n in (1, 2, 3)]
    recall = _recall(*items, _item("g1", HistoryKind.gesture, given, "2026-11-20"))
    assert [c.words for c in from_history(recall, TODAY, 180)][:1] == [left]


@pytest.mark.parametrize(("given", "like"), [
    ("Fri PT-timme", "Gillar verkligen våra PT-timmar"),  # tune
    ("Gratis Massage", "Liebt unsere Massagen"),
    ("Free pastry box", "Loves our pastry boxes"),
])
def test_a_gesture_given_is_the_same_in_another_number(given, like):
    """"Fri PT-timme" given this month rules out "PT-timmar": one hour or many."""
    recall = _recall(_item("p1", HistoryKind.preference, like, "2026-06-01"),
                     _item("g1", HistoryKind.gesture, given, "2026-11-20"))
    assert from_history(recall, TODAY, 180) == []


def test_a_gesture_that_already_failed_is_not_offered_again():
    """Given long ago (past the cooldown), but the customer complained again after it."""
    items = [_item("g1", HistoryKind.gesture, "Sent a jar of cloudberry jam as an apology",
                   "2025-12-01"),
             _item("o1", HistoryKind.order, "Cloudberry jam, 300 g", "2025-10-01"),
             _item("o2", HistoryKind.order, "Cloudberry jam, 300 g", "2025-11-01"),
             _item("o5", HistoryKind.order, "Cloudberry jam, 300 g", "2025-11-20"),
             _item("o3", HistoryKind.order, "Rye crispbread", "2026-09-01"),
             _item("o4", HistoryKind.order, "Rye crispbread", "2026-10-01")]
    recall = _recall(*items)
    assert [c.words for c in from_history(recall, TODAY, 180)][0] == "Cloudberry jam"
    failed = recall.model_copy(update={"facts": recall.facts.model_copy(update={
        "earlier_failures": [_item("t1", HistoryKind.ticket, "Jam jar arrived broken again",
                                   "2026-02-01")]})})
    assert [c.words for c in from_history(failed, TODAY, 180)] == ["Rye crispbread"]


def test_each_tenant_sets_its_own_policy_over_the_api(tmp_path):
    """A subscription service offers a free month, and a customer's own items are not its
    business; another tenant keeps the shipped policy and the customer's own item."""
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    history = [{"id": f"o{n}", "kind": "order", "text": "Ethiopia Yirgacheffe beans, 500 g",
                "at": f"2026-1{n}-03"} for n in range(2)]
    complaint = {"text": "My parcel is four days late and nobody answers.",
                 "customer_id": "c-1041"}
    with api_client(assistant, "streamco") as stream, api_client(assistant, "roastery") as shop:
        assert stream.get("/v1/gesture-policy").json()["shipped"] is True
        for client in (stream, shop):
            assert client.post("/v1/customers/c-1041/history", json=history).status_code == 201
        policy = stream.get("/v1/gesture-policy").json()["policy"]
        policy.update(offers=["generic"], catalogue_kinds=["month_free"], version="stream-1")
        saved = stream.put("/v1/gesture-policy", json=policy)
        assert saved.status_code == 200, saved.text
        assert saved.json()["shipped"] is False and "key" in saved.json()["updated_by"]
        streamed = stream.post("/v1/drafts", json=complaint).json()
        roasted = shop.post("/v1/drafts", json=complaint).json()
        bad = stream.put("/v1/gesture-policy", json={**policy, "offers": ["champagne"]})
    assert "Yirgacheffe" not in streamed["reply"]
    assert streamed["gesture"]["kind"] == "month_free", streamed["gesture"]
    assert "Yirgacheffe" in roasted["reply"] and roasted["gesture"]["kind"] == "history"
    assert bad.status_code == 422 and "offers" in bad.text


def test_a_reviewer_switches_the_gesture_among_the_options(tmp_path):
    """A guest who keeps ordering the same herbal tea and once said they love the sauna:
    both are options, with the policy's generic gesture last. The reviewer switches to the
    second, then to none; each time the reply is worded again and audited; once approved, the
    draft is no longer switched."""
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    with api_client(assistant) as client:
        client.post("/v1/customers/room-77/history", json=[
            {"id": "r77-p1", "kind": "preference", "text": "Loves the evening sauna",
             "at": "2026-10-01"},
            {"id": "r77-o1", "kind": "order", "text": "Rooibos tea pot", "at": "2026-11-20"},
            {"id": "r77-o2", "kind": "order", "text": "Rooibos tea pot", "at": "2026-11-21"},
        ]).raise_for_status()
        draft = client.post("/v1/drafts", json={
            "text": "Nobody cleaned our room yesterday.", "customer_id": "room-77"}).json()
        options = draft["gesture_options"]
        assert len(options) >= 3 and draft["gesture"] == options[0]
        assert [o["kind"] for o in options[:2]] == ["history", "history"]
        assert "sauna" in options[0]["text"].lower() and "rooibos" in options[1]["text"].lower()

        second = client.post(f"/v1/drafts/{draft['id']}/gesture",
                             json={"reviewer": "maria", "option": 1})
        assert second.status_code == 200, second.text
        second = second.json()
        assert second["gesture"] == options[1] and second["gesture_options"] == options
        assert "rooibos" in second["reply"].lower() and "sauna" not in second["reply"].lower()
        assert {"r77-o1", "r77-o2"} <= set(second["history_used"])
        assert second["id"] == draft["id"] and second["status"] == "pending_review"

        none = client.post(f"/v1/drafts/{draft['id']}/gesture",
                           json={"reviewer": "maria", "option": None}).json()
        assert none["gesture"] is None and "rooibos" not in none["reply"].lower()
        assert none["checks"]["language"]["passed"]

        wrong = client.post(f"/v1/drafts/{draft['id']}/gesture",
                            json={"reviewer": "maria", "option": len(options)})
        assert wrong.status_code == 422 and "gesture options" in wrong.text
        audit = client.get(f"/v1/drafts/{draft['id']}/audit").json()
        assert [e["action"] for e in audit] == ["created", "reworded", "reworded"]
        assert audit[1]["after"] == second["reply"] and audit[2]["note"] == "gesture: none"

        client.post(f"/v1/drafts/{draft['id']}/review",
                    json={"action": "approve", "reviewer": "maria"}).raise_for_status()
        late = client.post(f"/v1/drafts/{draft['id']}/gesture",
                           json={"reviewer": "maria", "option": 0})
        assert late.status_code == 409


def test_what_the_customer_ended_is_not_offered():
    """Repeat orders of a plan the customer cancelled are no treat, whether a note or the
    complaint says so; what the business cancelled, or another thing ended, rules out
    nothing."""
    orders = [_item("o1", HistoryKind.order, "Family streamingtjänst", "2026-08-01"),
              _item("o2", HistoryKind.order, "Family streamingtjänst", "2026-09-01"),
              _item("o3", HistoryKind.order, "Salted liquorice, 200 g", "2026-07-01"),
              _item("o4", HistoryKind.order, "Salted liquorice, 200 g", "2026-10-01")]
    both = ["Salted liquorice", "Family streamingtjänst"]  # the newest repeat first
    assert [c.words for c in from_history(_recall(*orders), TODAY, 180)] == both
    noted = _recall(*orders, _item("n1", HistoryKind.note, "Sade upp tjänsten 1 oktober",
                                   "2026-10-01"))
    assert [c.words for c in from_history(noted, TODAY, 180)] == ["Salted liquorice"]
    said = "I was billed for the streaming plan I cancelled last month."
    assert [c.words for c in from_history(_recall(*orders), TODAY, 180, said)] == [
        "Salted liquorice"]
    theirs = "You cancelled my streaming without warning and I missed the final."
    assert [c.words for c in from_history(_recall(*orders), TODAY, 180, theirs)] == both
    other = _recall(*orders, _item("n2", HistoryKind.note, "Cancelled the printed catalogue",
                                   "2026-03-01"))
    assert [c.words for c in from_history(other, TODAY, 180)] == both


# Read once after the code was written (evals/README.md, Exclusions said in the complaint).
_SAID_MISSED = {
    "ce-t02": "vanilla custard ('vaniljkräm') is not in the dairy family's words",
    "ce-h06": "a cocktail by its name ('Mojito') is not in the alcohol family's words",
}


@pytest.mark.parametrize("case", data_cases("complaint-exclusions.jsonl", _SAID_MISSED))
def test_a_diet_or_allergy_said_in_the_complaint_rules_out_what_holds_it(knowledge, case):
    """"I'm vegetarian now and got ham again": the ham croissant they used to order is no
    treat now; a complaint that says nothing of the kind leaves the options as they were."""
    items = [_item(f"i{n}", HistoryKind(kind), text, at)
             for n, (kind, text, at) in enumerate(case["items"])]
    offered = from_history(_recall(*items), TODAY, 180, case["complaint"], knowledge.exclusions)
    first = offered[0].words if offered else None
    assert first == case["expect"], [choice.words for choice in offered]


@pytest.mark.parametrize("case", data_cases("newer-restrictions.jsonl"))
def test_a_like_older_than_an_allergy_or_diet_gives_way_to_what_they_order_since(knowledge,
                                                                                   case):
    """"Loves the pad thai" in January, "developed a peanut allergy" in April: the like may
    hold what they cannot have now, in a dish whose name does not say so. What they have
    ordered since the note is known to suit them, so it comes first; a like stated after the
    note, or with no note at all, keeps its place, and nothing is dropped."""
    items = [_item(f"i{n}", HistoryKind(kind), text, at)
             for n, (kind, text, at) in enumerate(case["items"])]
    offered = from_history(_recall(*items), TODAY, 180, "", knowledge.exclusions)
    assert offered and case["expect"] in offered[0].words.lower(), [
        choice.words for choice in offered]


def test_a_history_exported_as_html_is_read_as_its_text():
    """A CRM's note or a shop's order line in HTML is stored as the text it shows, so its
    item is found like any other ("<strong>Oat latte</strong> &ndash; 4,50 &euro;")."""
    liked = HistoryItemIn(kind=HistoryKind.preference, at=date(2026, 10, 1), text=(
        "<p>Loves the <b>cardamom buns</b> from the lobby bakery&nbsp;</p>"))
    orders = [HistoryItemIn(kind=HistoryKind.order, at=date(2026, 10, day), text=(
        f"<div>Order #55{day}: 1 x <strong>Oat latte</strong> &ndash; 4,50 &euro;</div>"))
        for day in (1, 2)]
    assert liked.text == "Loves the cardamom buns from the lobby bakery"
    stored = [_item(f"i{n}", item.kind, item.text, item.at.isoformat())
              for n, item in enumerate([liked, *orders])]
    assert [c.words for c in from_history(_recall(*stored), TODAY, 180)] == [
        "cardamom buns from the lobby bakery", "Oat latte"]
    assert HistoryItemIn(kind=HistoryKind.order, at=date(2026, 10, 1),
                         text="Ben & Jerry's <3 tubs").text == "Ben & Jerry's <3 tubs"


@pytest.fixture(scope="module")
def shipped_policy_assistant(tmp_path_factory):
    return new_assistant(Settings(data_dir=tmp_path_factory.mktemp("month"), engine="offline"))


@pytest.mark.parametrize("customer, history, text, month", [
    ("m-1", [], "My parcel is four days late and nobody answers.", False),
    ("m-2", [("order", "Ticket Uppsala-Stockholm, 2nd class")],
     "The train was cancelled and we waited two hours on the platform.", False),
    ("m-3", [("order", "Streaming plan Family, billed monthly")],
     "The app logged me out and I could not watch anything all evening.", True),
    ("m-4", [], "You charged my subscription twice this month.", True),
    ("m-5", [], "Ni har dragit pengar för min prenumeration två gånger.", True),
    ("m-6", [("note", "Mitglied seit 2021, Abo Premium")],
     "Seit zwei Tagen läuft bei mir gar nichts, kein einziges Video lädt.", True),
])
def test_a_free_month_only_where_the_customer_has_a_subscription(
        shipped_policy_assistant, customer, history, text, month):
    """With the shipped policy a free month is offered only where the history or the complaint
    shows something paid by the month; elsewhere (a parcel, a train ticket) another generic
    gesture within the cap is. A tenant that names the kind offers it anyway (above)."""
    assistant = shipped_policy_assistant
    if history:
        assistant.add_history(customer, [HistoryItemIn(kind=kind, text=words, at="2026-10-01")
                                         for kind, words in history])
    draft = assistant.draft(DraftRequest(text=text, customer_id=customer), store=False)
    assert draft.classification.severity is not Severity.critical
    kinds = [option.kind for option in draft.gesture_options]
    assert ("month_free" in kinds) is month, (kinds, draft.reply)
    assert draft.gesture is not None, draft.reply


@pytest.mark.parametrize("text", [
    "My parcel is four days late and nobody answers.",
    "The invoice lists a charge I never agreed to.",
    "Your app logged me out twice today.",
    "The lamp I ordered arrived with a cracked shade.",
])
def test_a_wish_is_never_worded_as_a_habit(shipped_policy_assistant, text):
    """An item the customer wants but never bought is offered without "your usual", and its
    reason says they want it: neither claims a habit the history does not show."""
    assistant = shipped_policy_assistant
    customer = f"wish-{len(text)}-{text.split()[1].lower()}"
    assistant.add_history(customer, [HistoryItemIn(
        kind="wishlist", text="Copper kettle, 1.5 l", at="2026-10-01")])
    draft = assistant.draft(DraftRequest(text=text, customer_id=customer), store=False)
    assert draft.gesture is not None and draft.gesture.text == "Copper kettle", draft.gesture
    assert "Copper kettle" in draft.reply and "usual" not in draft.reply, draft.reply
    assert draft.gesture.reason.startswith("said they want it"), draft.gesture.reason
