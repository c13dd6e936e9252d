"""PII redaction: each kind in each language, no false positives on ordinary numbers, and
nothing personal in what the LLM engine sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.models import ComplaintIn, DraftRequest, HistoryItemIn, HistoryKind
from assistant.pii import Redaction, redact

# (language, text, the personal item in it, its kind)
FOUND = [
    ("en", "Please email me at anna.berg@example.com about it.", "anna.berg@example.com", "EMAIL"),
    ("sv", "Skicka kvittot till erik_s+order@mail.se tack", "erik_s+order@mail.se", "EMAIL"),
    ("da", "Min mail er mette.hansen@firma.dk", "mette.hansen@firma.dk", "EMAIL"),
    ("nb", "Svar til ola.nordmann@epost.no", "ola.nordmann@epost.no", "EMAIL"),
    ("de", "Meine Adresse: k.mueller@web.de bitte", "k.mueller@web.de", "EMAIL"),
    ("en", "Call me on +44 20 7946 0958 tomorrow.", "+44 20 7946 0958", "PHONE"),
    ("sv", "Ring mig på 070-123 45 67 efter fem", "070-123 45 67", "PHONE"),
    ("sv", "Mitt nummer är +46 70 123 45 67", "+46 70 123 45 67", "PHONE"),
    ("da", "Ring på +45 12 34 56 78 i aften", "+45 12 34 56 78", "PHONE"),
    ("da", "Mit telefon nr: 12 34 56 78", "12 34 56 78", "PHONE"),
    ("nb", "Mobil: 912 34 567, ring etter kl 16", "912 34 567", "PHONE"),
    ("de", "Rückruf bitte unter 030 1234567", "030 1234567", "PHONE"),
    ("en", "You charged my card 4111 1111 1111 1111 twice", "4111 1111 1111 1111", "CARD"),
    ("sv", "Kortet 5555-5555-5555-4444 drogs två gånger", "5555-5555-5555-4444", "CARD"),
    ("da", "Kort 4012888888881881 er trukket", "4012888888881881", "CARD"),
    ("sv", "Betala tillbaka till SE45 5000 0000 0583 9825 7466", "SE45 5000 0000 0583 9825 7466",
     "IBAN"),
    ("da", "Min konto er DK50 0040 0440 1162 43", "DK50 0040 0440 1162 43", "IBAN"),
    ("nb", "Kontoen min: NO93 8601 1117 947", "NO93 8601 1117 947", "IBAN"),
    ("de", "Bitte an DE89 3704 0044 0532 0130 00 erstatten", "DE89 3704 0044 0532 0130 00",
     "IBAN"),
    ("en", "Refund to GB29 NWBK 6016 1331 9268 19 please", "GB29 NWBK 6016 1331 9268 19",
     "IBAN"),
    ("sv", "Mitt personnummer är 811228-9874", "811228-9874", "PERSONNUMMER"),
    ("sv", "personnr 198112289874 står på fakturan", "198112289874", "PERSONNUMMER"),
    ("da", "Mit CPR er 010190-1234", "010190-1234", "CPR"),
    ("da", "cpr-nr 0101901234 står forkert", "0101901234", "CPR"),
    ("nb", "Fødselsnummeret mitt er 01010101006", "01010101006", "FODSELSNUMMER"),
    ("sv", "Leverera till Storgatan 12 i Umeå", "Storgatan 12", "ADDRESS"),
    ("da", "Jeg bor på Vesterbrogade 3, 2. tv", "Vesterbrogade 3", "ADDRESS"),
    ("nb", "Pakken skulle til Karl Johans gate 22", "Karl Johans gate 22", "ADDRESS"),
    ("de", "Lieferung an Hauptstraße 5, Berlin", "Hauptstraße 5", "ADDRESS"),
    ("en", "Deliver to 221 Baker Street, London", "221 Baker Street", "ADDRESS"),
]

# Ordinary numbers that must stay: prices, counts, dates, times, order and room numbers.
KEPT = [
    "Order 4711 cost 1 299 kr and arrived on 2026-11-23.",
    "I have ordered 3 times this month, 12 items in total.",
    "Leveransen 23.11.2026 kl 14:30 kom aldrig.",
    "Bestilling 03-11-2026, pris 499,00 kr.",
    "Ticket #12345678 is still open after 14 days.",
    "Ordrenummer 1234567890 blev aldrig sendt.",
    "Rechnung 2026-0042 über 1.299,00 € ist falsch.",
    "Flight SK1234 was 3 hours late, seat 14C, room 214.",
    "Jeg har betalt 12 500 kr for 2 stk.",
    "Tracking JJD0001234567890 shows nothing since 19/11.",
    "Order 12345678901 was charged 2 times.",
]


@pytest.mark.parametrize(("language", "text", "item", "kind"), FOUND,
                         ids=[f"{k}-{lang}-{n}" for n, (lang, _, _, k) in enumerate(FOUND)])
def test_each_kind_is_found(language, text, item, kind):
    pii = Redaction()
    redacted = pii.redact(text)
    assert item not in redacted, redacted
    assert f"[{kind}_1]" in redacted, redacted
    assert pii.restore(redacted) == text


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_stay(text):
    assert redact(text) == text


def test_checksums_decide():
    assert redact("card 4111 1111 1111 1112") == "card 4111 1111 1111 1112"  # Luhn fails
    assert redact("SE45 5000 0000 0583 9825 7467") == "SE45 5000 0000 0583 9825 7467"
    assert redact("personnummer 811228-9875") == "personnummer 811228-9875"


def test_the_same_item_keeps_its_placeholder():
    pii = Redaction()
    first = pii.redact("Mail anna@example.com, not bo@example.com")
    second = pii.redact("Again: anna@example.com")
    assert first == "Mail [EMAIL_1], not [EMAIL_2]" and second == "Again: [EMAIL_1]"


def test_the_llm_engine_sends_no_personal_numbers(tmp_path):
    """Complaint and history go to the model redacted; the reply gets the originals back;
    the offline pre-pass and the stored draft keep the original text."""
    from assistant.service import Assistant
    from assistant.settings import Settings
    from tests.conftest import TODAY
    from tests.fake_openai import Answer, FakeOpenAI, Seen
    from tests.test_llm import labels, reply

    def answer(seen: Seen) -> Answer:
        if seen.schema_name == "LabelsOut":
            return Answer(labels())
        return Answer(reply(reply="I'm so sorry about the double charge. I've refunded it to "
                            "[IBAN_1] today and I'll email the receipt to [EMAIL_1]. Is that "
                            "all right?", gesture_kind="none", history_ids_used=[]))

    fake = FakeOpenAI(default=answer)
    complaint = ("You charged card 4111 1111 1111 1111 twice! Refund to "
                 "SE45 5000 0000 0583 9825 7466 and mail me at anna.berg@example.com, "
                 "or call 070-123 45 67.")
    with fake.running():
        assistant = Assistant(Settings(data_dir=tmp_path, engine="llm",
                                       openai_base_url=fake.base_url, openai_api_key="sk-t"),
                              today=lambda: TODAY)
        assistant.add_history("c1", [HistoryItemIn(
            id="n1", kind=HistoryKind.note, at=TODAY,
            text="Customer personnummer 811228-9874, lives at Storgatan 12")])
        labelled = assistant.classify(ComplaintIn(text=complaint, customer_id="c1"))
        draft = assistant.draft(DraftRequest(text=complaint, customer_id="c1"))
    sent = "\n".join(s.text() for s in fake.seen)
    for secret in ("4111 1111 1111 1111", "SE45 5000", "anna.berg@example.com",
                   "070-123 45 67", "811228-9874", "Storgatan 12"):
        assert secret not in sent, f"{secret} reached the model"
    assert "[CARD_1]" in sent and "[PERSONNUMMER_1]" in sent
    assert labelled.engine == "llm"
    assert "SE45 5000 0000 0583 9825 7466" in draft.reply
    assert "anna.berg@example.com" in draft.reply and "[" not in draft.reply
    assert draft.complaint == complaint


def _scored(secrets: list[tuple[str, str, str]], lookalikes: list[tuple[str, str, str]]
            ) -> tuple[float, float, list[str]]:
    """Recall over the planted items, precision over everything that was redacted (a changed
    look-alike is a false positive), and what went wrong."""
    wrong = []
    found = 0
    for _, text, item in secrets:
        redacted = redact(text)
        if item in redacted:
            wrong.append(f"missed: {text} -> {redacted}")
        else:
            found += 1
    false = 0
    for _, text, _ in lookalikes:
        if (redacted := redact(text)) != text:
            false += 1
            wrong.append(f"changed: {text} -> {redacted}")
    return found / len(secrets), found / max(1, found + false), wrong


def test_the_generated_corpus_in_five_languages():
    """224 planted items of 32 shapes and 216 look-alikes of 24 shapes (`pii_corpus.py`);
    the patterns were written against this set, so it guards what they already do."""
    from tests.pii_corpus import lookalikes, secrets

    planted, alike = secrets(), lookalikes()
    assert len(planted) >= 200 and len(alike) >= 200
    assert {language for language, _, _ in planted} == {"en", "sv", "da", "nb", "de"}
    recall, precision, wrong = _scored(planted, alike)
    print(f"generated corpus: recall {recall:.3f}, precision {precision:.3f}")
    assert recall == 1.0 and precision == 1.0, "\n".join(wrong)


def test_the_held_out_sentences():
    """25 items and 25 look-alikes written by hand after the patterns and never tuned on
    (`tests/data/pii-heldout.jsonl`). Measured 2026-11-28 on first run: 22 of 25 found; 23
    after a British IBAN with a bank code in letters was fixed for an older unit test. Still
    missed: a hyphenated Danish number, a Norwegian mobile in 3-2-3 groups; one look-alike
    changed (a 22-digit tracking number). These are floors; the misses are known gaps, not
    accepted behaviour."""
    rows = [json.loads(line) for line in
            (Path(__file__).parent / "data" / "pii-heldout.jsonl").read_text().splitlines()]
    planted = [(r["language"], r["text"], r["item"]) for r in rows if r["kind"] == "secret"]
    alike = [(r["language"], r["text"], "") for r in rows if r["kind"] == "lookalike"]
    recall, precision, wrong = _scored(planted, alike)
    print(f"held-out sentences: recall {recall:.3f}, precision {precision:.3f}")
    assert recall >= 23 / 25 and precision >= 23 / 24, "\n".join(wrong)
