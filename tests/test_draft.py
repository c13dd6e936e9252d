from datetime import date

import pytest

from assistant.errors import InvalidInput
from assistant.gesture import no_treat
from assistant.history import read_history_file
from assistant.models import ComplaintIn, DraftRequest, HistoryItemIn
from assistant.settings import REPO_ROOT
from tests.conftest import data_cases, new_assistant


@pytest.fixture()
def assistant(settings):
    a = new_assistant(settings)
    rows = list(read_history_file(REPO_ROOT / "knowledge/demo/history.jsonl"))
    for customer in {c for c, _ in rows}:
        a.add_history(customer, [i for c, i in rows if c == customer])
    return a


def test_hotel_guest_gets_the_smoothie(assistant):
    draft = assistant.draft(DraftRequest(
        text="I ordered the Cobb salad to room 214 and it came without the blue cheese.",
        customer_id="guest-214", signer="Maria, front office"))
    assert "smoothie" in draft.reply.lower()
    assert draft.gesture and draft.gesture.based_on in {"p1", "p2"}
    assert draft.gesture.based_on in draft.history_used
    assert all(c.passed for c in draft.checks.values()), draft.checks
    assert draft.reply.rstrip().endswith("Maria, front office")


@pytest.mark.parametrize(("text", "lang"), [
    ("Paketet har inte kommit trots att det skulle komma i tisdags.", "sv"),
    ("Pakken er ikke kommet, og ingen svarer på mine mails.", "da"),
    ("Dere har trukket meg to ganger for samme bestilling.", "nb"),
    ("Die App stürzt bei jedem Start ab.", "de"),
    ("You charged my card twice for one order.", "en"),
])
def test_replies_in_the_customers_language_and_pass_the_checks(assistant, text, lang):
    draft = assistant.draft(DraftRequest(text=text))
    assert draft.language == lang
    failed = {k: c.detail for k, c in draft.checks.items() if not c.passed}
    assert not failed, (draft.reply, failed)


def test_recent_gesture_is_not_repeated_and_critical_gets_none(assistant):
    assistant.add_history("c5", [
        HistoryItemIn(kind="preference", text="Loves a latte", at=date(2026, 1, 1)),
        HistoryItemIn(kind="gesture", text="Free latte for the cold meal", at=date(2026, 11, 1)),
    ])
    draft = assistant.draft(DraftRequest(text="My pizza came cold.", customer_id="c5"))
    assert draft.gesture is None or draft.gesture.kind != "coffee"
    critical = assistant.draft(DraftRequest(text="We got food poisoning from your buffet."))
    assert critical.gesture is None and critical.classification.route == "escalate"


def test_no_treat_nor_options_where_the_harm_is_serious(assistant):
    """Critical: the reply offers a call, and no treat or option is drafted for a reviewer to
    switch to; the same customer's next, ordinary complaint gets their like again."""
    assistant.add_history("c6", [
        HistoryItemIn(kind="preference", text="Loves the pistachio gelato", at=date(2026, 9, 1))])
    draft = assistant.draft(DraftRequest(
        text="My daughter needed surgery on her hand after your blender blade came loose.",
        customer_id="c6"))
    assert draft.classification.severity == "critical", draft.classification.reasons
    assert no_treat(draft.classification)
    assert draft.gesture is None and draft.gesture_options == []
    assert "gelato" not in draft.reply.lower()
    ordinary = assistant.draft(DraftRequest(text="My order arrived a day late.",
                                            customer_id="c6"))
    assert ordinary.gesture is not None and "gelato" in ordinary.reply.lower()


@pytest.mark.parametrize(("text", "named", "not_named"), [
    ("Er personal lät en hund bita min son i handen och vi fick åka till akuten.",
     "det som hände din son", "sjuk"),
    ("Your kennel's dog bit my wife and she was taken to hospital for a tetanus jab.",
     "what happened to your wife", "getting ill"),
    ("Your van reversed into my husband on our driveway and knocked him over.",
     "what happened to your husband", "how you were treated"),
    ("Nach dem Sturz auf Ihrer nassen Treppe liegt meine Mutter im Gips.",
     "Das mit Ihrer Mutter", "Behandlung"),
])
def test_a_reply_names_the_injury_rather_than_what_followed_it(assistant, text, named,
                                                                 not_named):
    """A bite, a cast or a person run over is a floor with no severity of its own; the
    hospital visit after it still does not make the reply apologise for an illness, nor the
    category's stock phrase stand in for the injury."""
    draft = assistant.draft(DraftRequest(text=text))
    assert draft.classification.severity == "critical"
    assert named in draft.reply and not_named not in draft.reply, draft.reply


@pytest.mark.parametrize("case", data_cases("someone-hurt.jsonl"))
def test_a_reply_names_who_was_hurt(assistant, case):
    """"My grandmother broke her hip": the reply is sorry for what happened to her, not for
    "you getting hurt"; a relative named only in passing ("my daughter's bag") is not the one
    hurt."""
    draft = assistant.draft(DraftRequest(text=case["text"]))
    assert draft.classification.severity == "critical", draft.classification.reasons
    assert case["named"] in draft.reply, draft.reply


@pytest.mark.parametrize(("note", "like", "forbidden"), [
    ("Vegan since the spring", "Loves our baked cheesecake", "cheesecake"),  # tune
    ("Lebt seit Kurzem vegan", "Liebt unseren Käsekuchen", "Käsekuchen"),  # tune
    ("Ist seit dem Sommer Veganerin", "Schwärmt von unserer Sahnetorte", "Sahnetorte"),
    ("Tål inte mjölkprodukter längre", "Gillar vår chokladmousse med grädde", "mousse"),
])
def test_a_like_that_a_diet_rules_out_grounds_no_gesture_at_all(assistant, note, like,
                                                                  forbidden):
    """A vegan's old "loves our cheesecake" is neither offered nor the reason for the
    catalogue's dessert ("because you like cheesecake, a dessert on me")."""
    customer = f"diet-{len(note)}-{len(like)}"
    assistant.add_history(customer, [
        HistoryItemIn(id="p1", kind="preference", text=like, at=date(2026, 2, 1)),
        HistoryItemIn(id="n1", kind="note", text=note, at=date(2026, 5, 1))])
    draft = assistant.draft(DraftRequest(text="My order was forgotten again.",
                                         customer_id=customer))
    assert forbidden.lower() not in draft.reply.lower(), draft.reply
    assert all(option.based_on != "p1" for option in draft.gesture_options)


def test_wording_varies_between_complaints(assistant):
    texts = [f"My order #{n} arrived two days late." for n in range(8)]
    openings = {assistant.draft(DraftRequest(text=t)).reply.split("\n")[2] for t in texts}
    assert len(openings) > 1


def test_unsupported_draft_language_is_a_clear_error(assistant):
    with pytest.raises(InvalidInput, match="replies are written in"):
        assistant.draft(DraftRequest(text="Ma commande n'est jamais arrivée.", language="fr"))
    found = assistant.classify(ComplaintIn(text="Ma commande n'est jamais arrivée."))
    assert found.language == "fr"
