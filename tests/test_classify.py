from datetime import date

import numpy as np
import pytest

from assistant.classify import _EMBEDDED, ExampleIndex, signals
from assistant.cues import find_cues
from assistant.language import detect
from assistant.levels import LevelModel
from assistant.models import (
    ComplaintIn,
    CustomerFacts,
    HistoryItem,
    HistoryItemIn,
    HistoryKind,
    Recall,
)
from assistant.rubric import Proposal, apply_rubric
from tests.conftest import data_cases


def classify(assistant, text, recall=None, language=None):
    """The offline pipeline's labels for `text`, with a recall built by the test."""
    understood = assistant.understand(ComplaintIn(text=text, language=language))
    return assistant.offline_labels(understood, assistant.embed([text])[0], recall)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Maten var kall och servitören var otrevlig.", "sv"),
        ("Maden var kold og tjeneren var uhøflig.", "da"),
        ("Jeg har ventet i to uker på pakken.", "nb"),
        ("Das Essen war kalt.", "de"),
        ("My order never arrived.", "en"),
    ],
)
def test_detects_language_on_short_texts(offline_assistant, text, language):
    assert classify(offline_assistant, text).language == language


@pytest.mark.parametrize("case", data_cases("nordic-short.jsonl"))
def test_short_danish_and_bokmal_are_told_apart(case):
    """Danish says "I" to the company and "gange"; Bokmål "dere" and "ganger"."""
    assert detect(case["text"]).code == case["language"]


@pytest.mark.parametrize(("text", "history", "language"), [
    # No spelling of its own: the customer's history (Bokmål "fikk", "etter") settles it.
    ("Frokosten var tom for alt klokken halv ti.",
     ["Fikk gratis vafler etter ventetid", "Solbærtoddy uten alkohol"], "nb"),
    ("Frokosten var tom for alt klokken halv ti.",
     ["Fik gratis vafler efter ventetid", "Solbærtoddy uden alkohol"], "da"),
    # Its own spelling ("dere", "I" for the company) wins over the history's.
    ("Dere lovet levering i går.", ["Fik gratis fragt efter forsinkelse"], "nb"),
    ("Kan I ikke bare sende en ny?", ["Fikk gratis frakt etter forsinkelse"], "da"),
])
def test_a_short_danish_or_bokmal_complaint_without_its_own_spelling_follows_the_history(
        offline_assistant, text, history, language):
    customer = f"nordic-{abs(hash((text, *history)))}"
    offline_assistant.add_history(customer, [
        HistoryItemIn(kind=HistoryKind.note, text=line, at=date(2026, 10, 1 + n))
        for n, line in enumerate(history)])
    labels = offline_assistant.classify(ComplaintIn(text=text, customer_id=customer))
    assert labels.language == language, labels.reasons.language


@pytest.mark.parametrize("case", data_cases("nordic-history.jsonl"))
def test_short_nordic_complaints_with_a_history_are_told_apart(offline_assistant, case):
    """Held out (`tests/data/nordic-history.jsonl`, written before the history rule)."""
    customer = f"nordic-{case['id']}"
    offline_assistant.add_history(customer, [
        HistoryItemIn(kind=HistoryKind.note, text=line, at=date(2026, 10, 1 + n))
        for n, line in enumerate(case["history"])])
    labels = offline_assistant.classify(ComplaintIn(text=case["text"], customer_id=customer))
    assert labels.language == case["language"], labels.reasons.language


def test_food_poisoning_is_critical_and_escalated(offline_assistant):
    result = classify(offline_assistant,
                      "We all got food poisoning after dinner at your place on Friday.")
    assert (result.severity, result.route, result.category) == (
        "critical", "escalate", "safety_or_health")
    assert result.recovery_potential == "low"
    assert any("food poisoning" in r.detail for r in result.reasons.severity)


@pytest.mark.parametrize(("text", "language"), [
    ("Three of us got really sick after the buffet.", "en"),
    ("Vi blev alla sjuka efter middagen hos er.", "sv"),
    ("Vi blev alle syge efter frokosten hos jer.", "da"),
    ("Vi ble alle syke etter middagen hos dere.", "nb"),
    ("Wir sind nach dem Essen bei Ihnen alle krank geworden.", "de"),
])
def test_a_whole_party_falling_ill_is_harm(offline_assistant, text, language):
    """The harm cue must not need the words side by side ("blev syg"): groups write
    "blev alle syge", and that is the rubric's illness, critical."""
    result = classify(offline_assistant, text, language=language)
    assert result.severity == "critical"
    assert any(r.source == "text" and r.detail.endswith("→ critical")
               for r in result.reasons.severity)


@pytest.mark.parametrize("text", [
    "I got sick of waiting for a reply.", "Servicen blev dårligere efter opdateringen."])
def test_fed_up_or_worse_is_not_illness(offline_assistant, text):
    result = classify(offline_assistant, text)
    assert not any(r.source == "text" and r.detail.endswith("→ critical")
                   for r in result.reasons.severity)


def test_missing_cheese_is_a_low_quick_win(offline_assistant):
    result = classify(offline_assistant,
                      "Fick min sallad utan blåmögelost, lite tråkigt bara.")
    assert result.severity == "low"
    assert result.effort == "trivial"
    assert result.route == "quick_win"
    assert result.reasons.severity and result.reasons.effort and result.reasons.route


def _two_late_deliveries():
    failures = [
        HistoryItem(id=f"t{i}", customer_id="c1", kind=HistoryKind.ticket,
                    text="Late delivery", at=date(2026, m, 1))
        for i, m in ((1, 6), (2, 9))
    ]
    return Recall(customer_id="c1", facts=CustomerFacts(earlier_failures=failures))


def test_earlier_failures_in_history_raise_severity_and_lower_potential(offline_assistant):
    text = "My parcel is a few days late."
    alone = classify(offline_assistant, text)
    recall = _two_late_deliveries()
    with_history = classify(offline_assistant, text, recall=recall)
    order = ["low", "medium", "high", "critical"]
    assert order.index(with_history.severity) == order.index(alone.severity) + 1
    potential = ["low", "medium", "high"]
    assert potential.index(with_history.recovery_potential) < potential.index(
        alone.recovery_potential)
    assert {"t1", "t2"} <= set(with_history.history_used)
    assert any(r.source == "history" for r in with_history.reasons.severity)


def test_only_valid_labels_and_engine_info(offline_assistant):
    result = classify(offline_assistant, "asdf qwerty")
    assert result.engine == "offline" and result.prompt_version.startswith("offline-")
    assert 0 <= result.confidence <= 1


@pytest.mark.parametrize("text", [
    "The flowers for our wedding anniversary arrived wilted.",
    "Blomstene til bryllupsdagen vår kom visne.",
    "Der Strauß zum Hochzeitstag kam welk an.",
])
def test_an_anniversary_is_not_a_missed_wedding(offline_assistant, text):
    result = classify(offline_assistant, text)
    assert not any("critical" in r.detail and r.source == "text"
                   for r in result.reasons.severity)


def test_an_issue_is_not_a_lawsuit(offline_assistant):
    result = classify(offline_assistant, "Still having the same issue with my login.")
    assert not any(r.detail.startswith('"sue"') for r in result.reasons.severity)
    sued = classify(offline_assistant, "Fix this or I will sue you.")
    assert sued.severity == "critical"


def _raised_for_repeat(result):
    return [r for r in result.reasons.severity if "repeated failure raises" in r.detail]


@pytest.mark.parametrize("text", [
    "My parcel is late again, second time this month.",
    "Mein Paket ist schon wieder zu spät.",
    "Pakken min er forsinket igen.",
])
def test_a_failure_the_text_calls_repeated_raises_severity_once(offline_assistant, text):
    result = classify(offline_assistant, text)
    assert len(_raised_for_repeat(result)) == 1
    recall = _two_late_deliveries()
    both = classify(offline_assistant, text, recall=recall)
    # Text and history together: still one level, not two.
    assert len(_raised_for_repeat(both)) == 1
    assert both.severity == result.severity


@pytest.mark.parametrize(("text", "language"), [
    ("Your staff were rude. Never again.", "en"),
    ("Personalen var otrevlig. Aldrig igen.", "sv"),
    ("Das Personal war unhöflich. Nie wieder.", "de"),
    ("Your staff were rude. I will never eat at your place again.", "en"),
    ("Personalen var otrevlig, jag kommer aldrig att handla här igen.", "sv"),
    ("Personalet var uhøfligt, jeg handler aldrig hos jer igen.", "da"),
    ("Personalet var uhøflige, jeg handler aldri hos dere igjen.", "nb"),
    ("Das Personal war unhöflich, ich bestelle nie mehr wieder bei Ihnen.", "de"),
])
def test_never_again_is_leaving_not_a_repeat(offline_assistant, text, language):
    """Words between "never" and "again" must not turn the again into a second failure."""
    result = classify(offline_assistant, text, language=language)
    assert not _raised_for_repeat(result)
    assert result.severity in {"high", "critical"}
    assert any(r.detail.endswith("→ high") and r.source == "text"
               for r in result.reasons.severity)


@pytest.mark.parametrize(("text", "language"), [
    ("Chauffören vägrade ta med oss för att min son sitter i rullstol.", "sv"),
    ("Chaufføren nægtede at tage os med, fordi min søn sidder i kørestol.", "da"),
    ("Sjåføren nektet å ta oss med fordi sønnen min sitter i rullestol.", "nb"),
    ("Der Fahrer hat uns abgewiesen, weil mein Sohn im Rollstuhl sitzt.", "de"),
])
def test_discrimination_is_critical_in_every_language(offline_assistant, text, language):
    result = classify(offline_assistant, text, language=language)
    assert (result.severity, result.category, result.route) == (
        "critical", "service_behaviour", "escalate")


@pytest.mark.parametrize(("text", "language", "flags"), [
    ("Can you send me the receipt again?", "en", set()),
    ("Kan ni skicka kvittot igen?", "sv", set()),
    ("Kan I sende kvitteringen igen?", "da", set()),
    ("Kan dere sende kvitteringen på nytt?", "nb", set()),
    ("Können Sie mir die Rechnung noch einmal schicken?", "de", set()),
    ("You sent me the wrong item again.", "en", {"repeat"}),
])
def test_send_it_again_is_a_quick_request_not_a_repeated_failure(
        knowledge, text, language, flags):
    """The "again" of a request to resend belongs to that request (a trivial fix); only a
    failure that happened before is a repeat."""
    hits = find_cues(text, language, knowledge)
    assert {flag for hit in hits for flag in hit.cue.flags} == flags
    assert ("trivial" in {hit.cue.effort for hit in hits}) == (not flags)


@pytest.mark.parametrize(("text", "language"), [
    ("We have had no internet for two weeks now.", "en"),
    ("Vi har varit utan internet i två veckor.", "sv"),
    ("Tre uger uden internet, og ingen svarer.", "da"),
    ("Vi har vært uten strøm i tre dager.", "nb"),
    ("Wir sind seit zwei Wochen ohne Internet.", "de"),
])
def test_a_service_down_for_days_reads_as_a_high_outage(knowledge, text, language):
    """The rubric's "core service unusable": days without the service, not a short outage."""
    hits = find_cues(text, language, knowledge)
    assert ("high", "outage_or_bug") in {(hit.cue.severity, hit.cue.category) for hit in hits}


@pytest.mark.parametrize(("text", "language"), [
    ("Over and over the app logs me out.", "en"),
    ("Gång på gång samma fel med leveransen.", "sv"),
    ("Gang på gang kommer pakken for sent.", "da"),
    ("Gang på gang blir pakken forsinket.", "nb"),
    ("Die App stürzt x-mal am Tag ab.", "de"),
    ("Der Zug fällt schon wieder aus.", "de"),
])
def test_over_and_over_is_a_repeated_failure(knowledge, text, language):
    assert "repeat" in {flag for hit in find_cues(text, language, knowledge)
                        for flag in hit.cue.flags}


def test_a_cancelled_train_is_a_medium_failure_in_german(knowledge):
    hits = find_cues("Zug fällt heute ersatzlos aus.", "de", knowledge)
    assert {hit.cue.severity for hit in hits} == {"medium"}


def test_a_phrase_inside_a_longer_cue_phrase_is_not_a_cue_of_its_own(knowledge):
    flags = [hit.cue.flags for hit in find_cues(
        "I will never order from you again.", "en", knowledge)]
    assert flags == [["leaving"]]
    both = find_cues("It broke again. I will never order from you again.", "en", knowledge)
    assert {hit.phrase: hit.cue.flags for hit in both} == {
        "never order from you again": ["leaving"], "again": ["repeat"]}


class _MustNotEmbed:
    """Has the e5 model's name, so it finds e5's cache; fails if asked to embed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"embedded {len(texts)} texts again instead of using the cache")


def test_embedded_examples_are_cached_on_disk_by_content(knowledge, embeddings, tmp_path):
    """Another process (here: the in-memory copy dropped) loads the examples' vectors from
    the cache folder instead of embedding them again. The file is written aside and renamed,
    so instances sharing the folder never read half of it."""
    few = knowledge.examples[:3]
    first = ExampleIndex(few, embeddings, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"examples-{first.key}.npy"]
    del _EMBEDDED[first.key]
    again = ExampleIndex(few, _MustNotEmbed(embeddings.name), tmp_path)
    assert np.array_equal(again.matrix, first.matrix)
    with pytest.raises(AssertionError, match="embedded 2 texts"):
        ExampleIndex(knowledge.examples[:2], _MustNotEmbed(embeddings.name), tmp_path)


def test_a_failed_cache_write_leaves_no_half_file(knowledge, embeddings, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ExampleIndex(knowledge.examples[:4], embeddings, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_trained_model_does_not_depend_on_the_order_of_the_examples(
        knowledge, example_cache):
    """Cross-validation folds come from the examples' ids, not their lines: appending or
    sorting examples.jsonl changes the model only through what the examples say."""
    signals_of = [signals(e.text, find_cues(e.text, e.language, knowledge))
                  for e in example_cache.examples]
    labels = [e.labels for e in example_cache.examples]
    ids = [e.id for e in example_cache.examples]
    reordered = np.random.default_rng(7).permutation(len(ids))
    first = LevelModel(example_cache.matrix, signals_of, labels, ids)
    second = LevelModel(example_cache.matrix[reordered], [signals_of[i] for i in reordered],
                        [labels[i] for i in reordered], [ids[i] for i in reordered])
    assert (first.lambdas, first.mixes) == (second.lambdas, second.mixes)
    for label, cuts in first.cuts.items():
        assert np.allclose(cuts, second.cuts[label])
    vector, shape = example_cache.matrix[0], signals_of[0]
    one, other = first.predict(vector, shape), second.predict(vector, shape)
    assert all(abs(one[label] - other[label]) < 1e-9 for label in one)


def test_each_label_says_how_sure_it_is_and_unsure_ones_go_to_a_person(offline_assistant):
    """Certainty per ordinal label, in 0..1; a rule-set label is certain; labels under the
    floor are marked for a person to set (`unsure`), and the floor is a setting."""
    late = offline_assistant.classify(ComplaintIn(text="My parcel is a week late."))
    assert set(late.certainty) == {"severity", "effort", "recovery_potential"}
    assert all(0 < value <= 1 for value in late.certainty.values())
    # A label a rubric rule sets is certain: harm read as low by an engine becomes critical.
    text = "We all got food poisoning after the chicken at your restaurant on Friday."
    hits = find_cues(text, "en", offline_assistant.knowledge)
    guessed = Proposal(severity="low", effort="low", recovery_potential="high",
                       category="safety_or_health", certainty={"severity": 0.4, "effort": 0.7})
    ruled = apply_rubric(guessed, hits, None)
    assert ruled.severity == "critical" and ruled.certainty["severity"] == 1.0
    strict = offline_assistant.settings.model_copy(update={"label_certainty_floor": 0.999})
    floor = offline_assistant.settings.label_certainty_floor
    try:
        offline_assistant.settings = strict
        unsure = offline_assistant.classify(ComplaintIn(text="My parcel is a week late."))
    finally:
        offline_assistant.settings = offline_assistant.settings.model_copy(
            update={"label_certainty_floor": floor})
    assert unsure.unsure == [label for label, value in late.certainty.items() if value < 0.999]
    assert late.unsure == [label for label, value in late.certainty.items() if value < floor]


@pytest.mark.parametrize("text", [
    "Die Vase kam zerbrochen an.",                               # zerbrochen is not erbrochen
    "Das Paket wurde dem falschen Nachbarn übergeben und ist weg.",  # handed over, not vomited
    "Die Pizza war total verbrannt.",                            # burnt food, nobody burnt
    "Meine Haare wurden völlig schief geschnitten.",             # a haircut, not a wound
    "Die Rechnung betrug 240 Euro statt 200.",                   # amounted to, not fraud
    "Die Knoblauchpresse ist nach einer Woche gebrochen.",        # a garlic press, not the press
    "Meine Zeitung kam heute nicht.",                            # a newspaper, not going public
    "Your hospitality was disappointing, the room was dusty.",   # not a hospital
    "Det skar sig mellan oss och säljaren, men varan var hel.",    # an idiom: fell out
])
def test_a_word_inside_another_is_no_harm(offline_assistant, text):
    """Harm, fraud and going public are hard floors (critical): their cues must not fire on
    a word that only contains them."""
    assert offline_assistant.classify(ComplaintIn(text=text)).severity != "critical"


@pytest.mark.parametrize("text", [
    "Ich habe mich nach dem Essen die ganze Nacht übergeben.",
    "Mein Sohn hat nach dem Essen erbrochen.",
    "Ich habe mich an der kaputten Tür geschnitten und musste genäht werden.",
    "Das ist Betrug, ihr habt mein Konto ohne Erlaubnis belastet.",
    "We ended up in hospital after the meal.",
    "Min dotter fick en glasbit i munnen och skar sig illa.",   # someone else was hurt
    "Datteren min kuttet seg på en glassbit i salaten.",
    "My son cut himself on a broken glass at your table.",
])
def test_the_same_cues_still_find_harm(offline_assistant, text):
    assert offline_assistant.classify(ComplaintIn(text=text)).severity == "critical"


@pytest.mark.parametrize("text", [
    "Someone broke into my account overnight and changed the email address on it.",
    "A stranger took over my online store profile and ordered three laptops on my card.",
    "After your data breach my card details turned up on some forum.",
    "Mitt konto blev kapat och någon beställde för 8000 kr i mitt namn.",
    "Nogen har logget ind på min profil og ændret min adgangskode.",
    "Kontoen min ble hacket, og noen har bestilt varer i mitt navn.",
    "Mein Kundenkonto wurde gehackt und jemand hat damit bestellt.",
    "Nach dem Datenleck bei Ihnen tauchen meine Adresse und Nummer überall auf.",
])
def test_an_account_taken_over_or_data_leaked_is_critical(offline_assistant, text):
    """The rubric names a data breach and an account takeover as critical (a floor whatever
    an engine reads: tests/test_rubric.py)."""
    assert offline_assistant.classify(ComplaintIn(text=text)).severity == "critical"


@pytest.mark.parametrize(("text", "language"), [
    ("I can't log into my account since the update, please reset it.", "en"),
    ("The new owners took over my favourite café and the coffee is worse now.", "en"),
    ("Jag kommer inte in på mitt konto, lösenordet fungerar inte.", "sv"),
    ("Jeg kan ikke logge ind på min konto efter opdateringen.", "da"),
    ("Jeg har logget inn på kontoen min, men bestillingen er borte.", "nb"),
    ("Mein Konto wurde gesperrt, obwohl ich alles bezahlt habe.", "de"),
])
def test_a_locked_or_lost_login_is_no_breach(knowledge, text, language):
    assert not [h for h in find_cues(text, language, knowledge) if "breach" in h.cue.flags]



@pytest.mark.parametrize(("text", "language", "flag", "expected"), [
    ("I'm contacting the local paper about the way you treated us.", "en", "public", True),
    ("Jag kommer att kontakta tidningen om det här.", "sv", "public", True),
    ("Jeg går til pressen med denne sag.", "da", "public", True),
    ("Jeg skal kontakte avisa om dette.", "nb", "public", True),
    # A newspaper that is the product (a publisher's own customers) is no threat to go public.
    ("My Sunday newspaper has not been delivered for three weeks.", "en", "public", False),
    ("Morgontidningen har inte kommit på tre dagar.", "sv", "public", False),
    ("Avisen er ikke kommet i postkassen i dag.", "da", "public", False),
    ("Jeg ble belastet for helgeavisen etter at jeg sa den opp.", "nb", "public", False),
    ("Min mamma fick läggas in på sjukhus för vätskebrist.", "sv", "harm", True),
    ("Vi måtte på hospitalet med vores søn efter maden.", "da", "harm", True),
    ("Jeg endte på sykehus etter middagen.", "nb", "harm", True),
    ("Ich lag nach dem Essen zwei Tage im Krankenhaus.", "de", "harm", True),
    # A hospital's bill or car park is no one hurt (compounds included).
    ("Sjukhusräkningen skickades till fel adress.", "sv", "harm", False),
    ("Hospitalsregningen kom to gange.", "da", "harm", False),
    ("Sykehusparkeringen trakk meg to ganger.", "nb", "harm", False),
    ("Die Krankenhausrechnung wurde doppelt abgebucht.", "de", "harm", False),
    # A broken bone is harm; a broken appliance named after a body part is not.
    ("She broke her wrist when the shelf you fitted fell.", "en", "harm", True),
    ("I broke my hand mixer's bowl and need a new one.", "en", "harm", False),
    ("Der Handmixer ist gebrochen.", "de", "harm", False),
    # A missed once-in-a-lifetime event; not the event's own order.
    ("We missed our son's graduation because of the cancelled train.", "en", "lifetime", True),
    ("The wedding cake was missing its top tier.", "en", "lifetime", False),
    ("Bröllopstårtan kom en timme sent.", "sv", "lifetime", False),
    # Money taken from an account; not a cart emptied or an account charged.
    ("Fraudsters emptied my savings account overnight.", "en", "breach", True),
    ("The app emptied my cart at checkout.", "en", "breach", False),
    # Someone fainting or taken away by ambulance is harm; fainting at a bill, a server's
    # collapse or an ambulance's invoice is not.
    ("I nearly fainted when I saw the bill.", "en", "harm", False),
    ("The server collapsed under the load and the app was down all day.", "en", "harm", False),
    ("The ambulance service's invoice went to the wrong address.", "en", "harm", False),
    ("Ich bin fast ohnmächtig geworden, als ich die Rechnung sah.", "de", "harm", False),
    ("Das Netz ist am Abend komplett zusammengebrochen.", "de", "harm", False),
    ("Jeg var ved at besvime af grin over jeres svar.", "da", "harm", False),
    ("Ambulanceregningen kom to gange.", "da", "harm", False),
    ("Jag höll på att svimma när jag såg priset.", "sv", "harm", False),
    ("Nettet kollapset i hele byen i går kveld.", "nb", "harm", False),
    # Not reaching an ambulance through an outage is a risk, not harm done; "ohnmächtig" is
    # also "powerless"; "passed out" also hands out.
    ("We couldn't even call an ambulance with your network down.", "en", "harm", False),
    ("Folk kan ikke engang ringe efter en ambulance.", "da", "harm", False),
    ("Man kann bei diesem Netz nicht mal einen Krankenwagen rufen.", "de", "harm", False),
    ("Ich fühle mich eurem Kundenservice gegenüber völlig ohnmächtig.", "de", "harm", False),
    ("Your staff passed out vouchers to everyone but us.", "en", "harm", False),
    # Something ordered or opened in the customer's name by someone else is identity theft;
    # the customer's own booking in their name is not.
    ("The booking was made in my name, but the hotel listed my husband.", "en", "breach", False),
    ("Someone at your shop told me the contract was in my name.", "en", "breach", False),
    ("Jeg bestilte den i mit navn, men den kom til min mand.", "da", "breach", False),
    ("Die Rechnung lautet auf meinen Namen, nicht auf die Firma.", "de", "breach", False),
    # A large sum lost for good is the rubric's "large financial loss"; a sum charged (and
    # refundable), spent, or a receipt lost is not; nor a small sum gone.
    ("I was charged $1,200 twice, please refund one of them.", "en", "loss", False),
    ("I lost my receipt for the $1,500 TV.", "en", "loss", False),
    ("I have spent 20,000 dollars with you over the years.", "en", "loss", False),
    ("Pengene er væk fra kontoen, 12 kr i gebyr.", "da", "loss", False),
    ("Ni drog 15 000 kronor två gånger, jag vill ha tillbaka det ena.", "sv", "loss", False),
    # Views and shares in the thousands are reach; a count of other things is not.
    ("Mit opslag om jer er blevet delt 3.000 gange.", "da", "public", True),
    ("I have ordered from you 1,200 times over the years.", "en", "public", False),
    ("We waited 2,000 seconds on hold.", "en", "public", False),
    # Turned away for a trait is discrimination; a wheelchair as the product is not.
    ("The driver refused to take us because my husband is in a wheelchair.", "en", "legal",
     True),
    ("Der Kellner hat uns wegen seiner Hautfarbe nicht bedient.", "de", "legal", True),
    ("The wheelchair I ordered arrived with a scratch on the frame.", "en", "legal", False),
    # Hurt, or cared for by a doctor; not a price that fell, a doctor's app, a stumbled-upon
    # bargain or a cut subscription.
    ("The price fell and I missed the deal.", "en", "harm", False),
    ("Priserne faldt dagen efter jeg købte.", "da", "harm", False),
    ("Your doctor booking app crashed twice.", "en", "harm", False),
    ("Jeg snublet over en god pris hos dere.", "nb", "harm", False),
    ("I cut my subscription because of the price.", "en", "harm", False),
    ("Ich habe mich über den Service geärgert.", "de", "harm", False),
])
def test_a_floor_cue_needs_its_context(knowledge, text, language, flag, expected):
    """Going to the press, a stay in hospital, a broken bone, a missed wedding, an emptied
    account; not the newspaper, the hospital's bill, the hand mixer or the wedding cake."""
    found = [h for h in find_cues(text, language, knowledge) if flag in h.cue.flags]
    assert bool(found) is expected, found


# Read once after the floors were written (evals/README.md, Severe cases).
_SEVERE_MISSED = {"heldout-09": "'Trauung' (a wedding ceremony) is not an event we know",
                  "heldout3-01": "eviction proceedings our error set off are no floor we know"}


@pytest.mark.parametrize("case", data_cases("severe.jsonl", _SEVERE_MISSED))
def test_harm_a_missed_lifetime_event_or_an_emptied_account_is_critical(
        offline_assistant, case):
    """The rubric's critical cases written in other words (`tests/data/severe.jsonl`): a
    broken bone, a missed wedding or funeral, an account emptied, discrimination, illness,
    a stranger ordering through the customer's account; and look-alikes that are not (a
    partner's order on a shared account, a clerk's typo)."""
    labels = offline_assistant.classify(ComplaintIn(text=case["text"]))
    assert (labels.severity == "critical") is (case["severity"] == "critical"), (
        labels.severity, labels.reasons.severity)
