"""Generated helpdesk exports in the shapes of Zendesk, Freshdesk and Intercom, with the flaws
real exports have: a row without text, a duplicate id, bytes that are not UTF-8, an odd rating."""

from __future__ import annotations

import csv
import html
import io
import json
import random
from pathlib import Path

COMPLAINTS = [
    "My order {n} arrived three days late and the box was damaged.",
    "The promo code doesn't work at checkout, order {n}.",
    "You charged me twice for invoice {n}.",
    "Ni har dragit pengar två gånger för order {n}.",
    "Paketet {n} har inte kommit och ingen svarar.",
    "Pakken {n} er ikke kommet, og ingen svarer på mine mails.",
    "Dere har trukket meg to ganger for bestilling {n}.",
    "Die App stürzt bei jedem Start ab, Ticket {n}.",
    "Could you resend the receipt for order {n}? The link expired.",
    "The chicken in my wrap was raw, order {n}. That is dangerous.",
    "We all got food poisoning after dinner, table {n}.",
    "Third time this month order {n} is missing items. I'm cancelling.",
    "My invoice {n} has my name misspelled.",
    "The wifi in room {n} is painfully slow.",
]
FLAWS = 4  # rows per export that must end up in problems.jsonl


def _text(rng: random.Random, n: int) -> str:
    return rng.choice(COMPLAINTS).format(n=n)


def write_export(kind: str, path: Path, tickets: int, seed: int = 7) -> int:
    """Writes an export; returns how many rows are usable and rated below 7/10."""
    rng = random.Random(seed)
    low = 0
    rows: list[dict[str, object]] = []
    for n in range(1, tickets + 1):
        text, customer = _text(rng, n), f"cust-{rng.randrange(tickets // 3 + 1)}"
        roll = rng.random()
        if kind == "zendesk":
            score = "bad" if roll < 0.2 else "unoffered" if roll < 0.3 else "good"
            low += score == "bad"
            rows.append({"Id": n, "Subject": "", "Description": text, "Requester id": customer,
                         "Satisfaction Score": score, "Solved at": "2026-11-20 10:00",
                         "Via": "Mail"})
        elif kind == "freshdesk":
            rating = "unhappy" if roll < 0.15 else "neutral" if roll < 0.25 else "happy"
            low += rating in {"unhappy", "neutral"}
            rows.append({"id": n, "subject": "", "description_text": text,
                         "requester_id": customer, "satisfaction_rating": rating,
                         "closed_at": "2026-11-20T10:00:00Z", "source": 1})
        else:
            rating = 1 if roll < 0.1 else 2 if roll < 0.15 else 3 if roll < 0.25 else (
                4 if roll < 0.5 else 5)
            low += rating <= 3
            rows.append({"id": str(n), "source": {"type": "conversation", "body": _html(text),
                                                  "subject": ""},
                         "contacts": {"contacts": [{"id": customer}]},
                         "conversation_rating": {"rating": rating},
                         "statistics": {"last_close_at": 1763632800}})
    # The flaws: each makes one bad rated row unusable or doubled.
    bad_rating = {"zendesk": "bad", "freshdesk": "unhappy", "intercom": 1}[kind]
    flaws = [dict(rows[0]), dict(rows[1]), dict(rows[2])]
    _set(kind, flaws[0], "id", "flaw-empty", text="  ", rating=bad_rating)
    _set(kind, flaws[1], "id", "1", rating=bad_rating)  # duplicate of ticket 1
    _set(kind, flaws[2], "id", "flaw-rating", rating="meh")
    rows += flaws
    body = _serialise(kind, rows)
    body += _serialise(kind, [_set(kind, dict(rows[0]), "id", "flaw-bytes", text="BYTES",
                                   rating=bad_rating)], header=False)
    path.write_bytes(body.replace(b"BYTES", b"caf\xe9 bad bytes"))
    return low


def _set(kind: str, row: dict[str, object], _: str, ticket_id: str, text: str | None = None,
         rating: object = None) -> dict[str, object]:
    key = {"zendesk": "Id"}.get(kind, "id")
    row[key] = ticket_id
    if text is not None:
        if kind == "zendesk":
            row["Description"] = text
        elif kind == "freshdesk":
            row["description_text"] = text
        else:
            row["source"] = {"type": "conversation", "body": _html(text), "subject": ""}
    if rating is not None:
        if kind == "zendesk":
            row["Satisfaction Score"] = rating
        elif kind == "freshdesk":
            row["satisfaction_rating"] = rating
        else:
            row["conversation_rating"] = {"rating": rating}
    return row


def _html(text: str) -> str:
    """A body as Intercom's API gives it: paragraphs of escaped HTML."""
    return "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n")) + "<p><br></p>"


def _serialise(kind: str, rows: list[dict[str, object]], header: bool = True) -> bytes:
    if kind == "zendesk":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        if header:
            writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def write_planted_export(path: Path, planted: Path, counts: dict[str, int], seed: int = 3,
                         background: int = 300) -> dict[str, int]:
    """A CSV export in which each planted theme (`tests/data/themes-*.jsonl`: one complaint in
    other words and languages) is `counts[theme]` tickets, dressed as real tickets are (a
    greeting, an order number), among `background` different complaints from our own eval set.
    Every ticket is rated low and has its own customer. Returns the planted counts."""
    rng = random.Random(seed)
    lines = [json.loads(line) for line in planted.read_text(encoding="utf-8").splitlines()]
    greeting = {"en": ["", "Hi, ", "Hello. "], "sv": ["", "Hej! "], "de": ["", "Hallo, "],
                "da": ["", "Hej. "], "nb": ["", "Hei, "]}
    sign_off = ["", " Order {n}.", " Ref {n}", " Thanks", " !!", " (customer since 2019)"]
    texts: list[str] = []
    for theme, count in counts.items():
        said = [line for line in lines if line["theme"] == theme]
        for i in range(count):
            line = said[i % len(said)]
            texts.append(rng.choice(greeting[line["language"]]) + line["text"]
                         + rng.choice(sign_off).format(n=rng.randrange(10_000, 99_999)))
    own = Path(__file__).parent.parent / "evals" / "data" / "recovery-v1.jsonl"
    others = [json.loads(line)["text"] for line in own.read_text(encoding="utf-8").splitlines()]
    texts += rng.sample(others, background)
    rng.shuffle(texts)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket_id", "text", "customer_id", "csat"])
        for n, text in enumerate(texts):
            writer.writerow([f"p{n}", text, f"pc{n}", n % 6])
    return counts
