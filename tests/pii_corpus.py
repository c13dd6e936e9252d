"""A corpus for the redaction: personal numbers planted in complaint sentences in en, sv, da,
nb and de, in the shapes people type them (with and without separators, dots, spaces,
brackets, "at … dot …"), and look-alikes that must survive: order and invoice numbers,
tracking ids, dates, prices, postcodes, flight and booking codes, times and counts.

Generated from a fixed seed, with real checksums where a kind has one, so the same corpus is
scored every run. `secrets()` and `lookalikes()` give (language, sentence, item) triples; for
a secret the item must be gone after redaction, for a look-alike the sentence must be
unchanged."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

Case = tuple[str, str, str]
_SEED = 20261128

FRAMES = {
    "en": ["Please call me on {x} about the refund.", "My details: {x}. The order never came.",
           "You can reach me at {x} after five.", "Reference for the complaint: {x}, thanks."],
    "sv": ["Ring mig på {x} om återbetalningen.", "Mina uppgifter: {x}. Paketet kom aldrig.",
           "Ni når mig på {x} efter fem.", "Uppgifter till reklamationen: {x}, tack."],
    "da": ["Ring til mig på {x} om refusionen.", "Mine oplysninger: {x}. Pakken kom aldrig.",
           "I kan fange mig på {x} efter klokken fem.", "Til klagen: {x}, tak."],
    "nb": ["Ring meg på {x} om refusjonen.", "Mine opplysninger: {x}. Pakken kom aldri.",
           "Dere når meg på {x} etter fem.", "Til klagen: {x}, takk."],
    "de": ["Rufen Sie mich unter {x} wegen der Erstattung an.",
           "Meine Angaben: {x}. Das Paket kam nie.", "Erreichbar bin ich unter {x} ab fünf.",
           "Für die Reklamation: {x}, danke."],
}


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def _date6(rng: random.Random) -> str:
    return f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def personnummer(rng: random.Random) -> str:
    body = _date6(rng) + f"{rng.randint(0, 999):03d}"
    return body + _luhn_digit(body)


def fodselsnummer(rng: random.Random) -> str:
    while True:
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(50, 99)
        digits = [int(c) for c in f"{day:02d}{month:02d}{year:02d}{rng.randint(0, 499):03d}"]
        checks = []
        for weights in ([3, 7, 6, 1, 8, 9, 4, 5, 2], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]):
            check = 11 - sum(w * d for w, d in zip(weights, digits + checks, strict=False)) % 11
            check = 0 if check == 11 else check
            checks.append(check)
        if 10 not in checks:
            return "".join(map(str, digits + checks))


def card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return body + _luhn_digit(body)


def iban(rng: random.Random, country: str, length: int) -> str:
    bban = "".join(str(rng.randint(0, 9)) for _ in range(length - 4))
    moved = bban + country + "00"
    numeric = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - numeric % 97:02d}{bban}"


def _groups(text: str, sizes: list[int], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(text[at:at + size])
        at += size
    return sep.join(parts)


def _pairs(rng: random.Random) -> str:
    """A Danish or Norwegian number as people write it: "22 33 44 55"."""
    number = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
    return _groups(number, [2, 2, 2, 2], " ")


def _secret_shapes() -> list[tuple[str, Callable[[random.Random], str]]]:
    def digits(rng: random.Random, n: int) -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(n))

    first = ["anna.berg", "lars_holm", "jens.nielsen", "kari.nordmann", "j.mueller", "ola+shop"]
    hosts = ["example.com", "mail.example.se", "post.example.dk", "example.no", "example.de"]
    return [
        ("email", lambda r: f"{r.choice(first)}@{r.choice(hosts)}"),
        ("email spelled out", lambda r: f"{r.choice(first)} at {r.choice(hosts).split('.')[0]}"
                                        f" dot {r.choice(['com', 'se', 'dk'])}"),
        ("email in brackets", lambda r: f"{r.choice(first)}(at){r.choice(hosts)}"),
        ("dk/no phone in pairs", lambda r: f"tlf. {_pairs(r)}"),
        ("dk/no phone bare", _pairs),
        ("dk/no phone run", lambda r: f"mobil {r.randint(4, 9)}{digits(r, 7)}"),
        ("dk phone +45", lambda r: f"+45 {_pairs(r)}"),
        ("no phone +47", lambda r: "+47 " + _groups(str(r.randint(4, 9)) + digits(r, 7),
                                                     [3, 2, 3], " ")),
        ("us phone dashes", lambda r: f"{r.randint(201, 989)}-{r.randint(200, 999)}-"
                                      f"{digits(r, 4)}"),
        ("us phone brackets", lambda r: f"({r.randint(201, 989)}) {r.randint(200, 999)}-"
                                        f"{digits(r, 4)}"),
        ("us phone +1", lambda r: f"+1 {r.randint(201, 989)} {r.randint(200, 999)} "
                                  f"{digits(r, 4)}"),
        ("se mobile", lambda r: f"07{r.randint(0, 9)}-{digits(r, 3)} {digits(r, 2)} "
                                f"{digits(r, 2)}"),
        ("se phone +46", lambda r: f"+46 7{r.randint(0, 9)} {digits(r, 3)} {digits(r, 2)} "
                                   f"{digits(r, 2)}"),
        ("de phone", lambda r: f"0{r.randint(30, 89)} {digits(r, 7)}"),
        ("de mobile +49", lambda r: f"+49 15{r.randint(1, 9)} {digits(r, 8)}"),
        ("personnummer dash", lambda r: (lambda p: f"{p[:6]}-{p[6:]}")(personnummer(r))),
        ("personnummer bare", personnummer),
        ("personnummer space", lambda r: (lambda p: f"{p[:6]} {p[6:]}")(personnummer(r))),
        ("personnummer 12 digits", lambda r: "19" + personnummer(r)),
        ("fødselsnummer", fodselsnummer),
        ("fødselsnummer space", lambda r: (lambda f: f"{f[:6]} {f[6:]}")(fodselsnummer(r))),
        ("fødselsnummer dots", lambda r: (lambda f: f"{f[:2]}.{f[2:4]}.{f[4:6]} {f[6:]}")(
            fodselsnummer(r))),
        ("cpr", lambda r: f"{r.randint(1, 28):02d}{r.randint(1, 12):02d}{r.randint(50, 99):02d}"
                          f"-{digits(r, 4)}"),
        ("visa spaces", lambda r: _groups(card(r, "4", 16), [4, 4, 4, 4], " ")),
        ("visa dashes", lambda r: _groups(card(r, "4", 16), [4, 4, 4, 4], "-")),
        ("visa dots", lambda r: _groups(card(r, "4", 16), [4, 4, 4, 4], ".")),
        ("mastercard run", lambda r: card(r, "51", 16)),
        ("amex 4-6-5", lambda r: _groups(card(r, "37", 15), [4, 6, 5], " ")),
        ("iban se", lambda r: _groups(iban(r, "SE", 24), [4] * 6, " ")),
        ("iban de lower", lambda r: _groups(iban(r, "DE", 22), [4] * 5 + [2], " ").lower()),
        ("iban dk run", lambda r: iban(r, "DK", 18)),
        ("iban no", lambda r: _groups(iban(r, "NO", 15), [4, 4, 4, 3], " ")),
    ]


def _lookalike_shapes() -> list[tuple[str, Callable[[random.Random], str]]]:
    def digits(rng: random.Random, n: int) -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(n))

    return [
        ("order number", lambda r: f"order #{r.randint(100000, 999999)}"),
        ("order code", lambda r: f"ORD-2026-{r.randint(10, 99)}-{digits(r, 4)}"),
        ("invoice", lambda r: f"invoice INV-{digits(r, 6)}"),
        ("iso date", lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"),
        ("nordic date", lambda r: f"{r.randint(1, 28)}.{r.randint(1, 12)}.2026"),
        ("us date", lambda r: f"{r.randint(1, 12)}/{r.randint(1, 28)}/2026"),
        ("price kr", lambda r: f"{r.randint(1, 9)} {digits(r, 3)},00 kr"),
        ("price eur", lambda r: f"€{r.randint(1, 9)},{digits(r, 3)}.{digits(r, 2)}"),
        ("price dot thousands", lambda r: f"{r.randint(1, 99)}.{digits(r, 3)} kr"),
        ("ups tracking", lambda r: f"1Z{digits(r, 3)}AA{digits(r, 10)}"),
        ("postal tracking", lambda r: f"RR{digits(r, 9)}SE"),
        ("postcode se", lambda r: f"{r.randint(100, 989)} {digits(r, 2)} Stockholm"),
        ("postcode de", lambda r: f"{r.randint(10000, 99999)} Berlin"),
        ("flight", lambda r: f"flight SK{r.randint(100, 9999)}"),
        ("booking", lambda r: f"booking {r.choice('ABCDEFGH')}{r.choice('KLMNPQ')}{digits(r, 4)}"),
        ("time span", lambda r: f"{r.randint(8, 11)}:{r.choice(['00', '15', '30'])}-"
                                f"{r.randint(12, 18)}:{r.choice(['00', '45'])}"),
        ("count and size", lambda r: f"{r.randint(2, 12)} x {r.randint(100, 999)} g"),
        ("year range", lambda r: f"2019-{r.randint(2020, 2026)}"),
        ("percent", lambda r: f"{r.randint(10, 90)} %"),
        ("ticket id", lambda r: f"ticket {r.randint(1000000, 9999999)}"),
        ("customer no.", lambda r: f"kundnummer {r.randint(10000, 999999)}"),
        ("version", lambda r: f"app version {r.randint(1, 9)}.{r.randint(0, 20)}."
                              f"{r.randint(0, 9)}"),
        ("room", lambda r: f"room {r.randint(101, 950)}"),
        ("seat", lambda r: f"car {r.randint(1, 9)}, seat {r.randint(10, 99)}"),
    ]


def _cases(shapes: list[tuple[str, Callable[[random.Random], str]]], per_shape: int,
           salt: int) -> Iterator[Case]:
    rng = random.Random(_SEED + salt)
    languages = list(FRAMES)
    for index, (_name, make) in enumerate(shapes):
        for n in range(per_shape):
            language = languages[(index + n) % len(languages)]
            item = make(rng)
            yield language, rng.choice(FRAMES[language]).format(x=item), item


def secrets() -> list[Case]:
    return list(_cases(_secret_shapes(), 7, 1))


def lookalikes() -> list[Case]:
    return list(_cases(_lookalike_shapes(), 9, 2))


def shape_names(kind: str) -> list[str]:
    return [name for name, _ in (_secret_shapes() if kind == "secrets" else _lookalike_shapes())]
