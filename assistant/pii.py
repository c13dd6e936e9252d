"""Personal numbers out of everything that leaves the machine: model prompts, remote embeddings.

Each kind is found by its shape and, where it has one, its checksum (Luhn for cards and
Swedish personnummer, mod 97 for IBANs, the two mod-11 digits of Norwegian fødselsnummer), so
prices, order numbers, counts and dates stay as they are. A found item becomes a placeholder
such as `[EMAIL_1]`; the same item gets the same placeholder throughout one call, and
`restore` puts the originals back into the model's reply. The offline engine runs here and
sees the original text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

_Check = Callable[[re.Match[str]], bool]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _luhn(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _card(match: re.Match[str]) -> bool:
    number = _digits(match.group())
    return 13 <= len(number) <= 19 and _luhn(number)


def _iban(match: re.Match[str]) -> bool:
    raw = re.sub(r"\s", "", match.group()).upper()
    moved = raw[4:] + raw[:4]
    numeric = "".join(str(int(c, 36)) for c in moved)
    return 15 <= len(raw) <= 34 and int(numeric) % 97 == 1


def _personnummer(match: re.Match[str]) -> bool:
    """Swedish: (YY)YYMMDD-NNNC, Luhn over the last ten digits; day + 60 is a
    samordningsnummer."""
    number = _digits(match.group())[-10:]
    month, day = int(number[2:4]), int(number[4:6])
    day = day - 60 if day > 60 else day
    return _is_date(2000, month, day) and _luhn(number)


def _cpr(match: re.Match[str]) -> bool:
    """Danish: DDMMYY-NNNN with a real date (the mod-11 check was dropped in 2007)."""
    number = _digits(match.group(match.lastindex or 0))
    return _is_date(2000, int(number[2:4]), int(number[0:2]))


def _fodselsnummer(match: re.Match[str]) -> bool:
    """Norwegian: DDMMYYIIICC with both mod-11 check digits; D-numbers add 4 to the day's
    first digit."""
    digits = [int(c) for c in _digits(match.group())]
    day = digits[0] * 10 + digits[1]
    day = day - 40 if day > 40 else day
    if not _is_date(2000, digits[2] * 10 + digits[3], day):
        return False
    for weights, position in (([3, 7, 6, 1, 8, 9, 4, 5, 2], 9),
                              ([5, 4, 3, 2, 7, 6, 5, 4, 3, 2], 10)):
        check = 11 - sum(w * d for w, d in zip(weights, digits, strict=False)) % 11
        check = 0 if check == 11 else check
        if check == 10 or check != digits[position]:
            return False
    return True


_DATE = re.compile(r"^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$")


def _phone(match: re.Match[str]) -> bool:
    value = match.group(match.lastindex or 0)
    return 8 <= len(_digits(value)) <= 15 and not _DATE.match(value)


_STREET_WORDS = (
    r"gatan|gata|gränd|vägen|väg|torget|gade|vej|allé|alle|plads|torv|stræde|veien|vei|gate|"
    r"gaten|plass|straße|strasse|str\.|weg|platz|gasse|allee"
)
_EN_STREET = r"street|st\.|road|rd\.|avenue|ave\.|lane|drive|boulevard|blvd\.|way|close|court"

# Order matters: longer, checked kinds first, so a card is not taken for a phone number.
_AT = r"(?:\s*\(at\)\s*|\s*\[at\]\s*|\s+at\s+)"
_DOT = r"(?:\s*\(dot\)\s*|\s*\[dot\]\s*|\s+dot\s+|\.)"
_PATTERNS: list[tuple[str, re.Pattern[str], _Check | None]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I), None),
    # Spelled out so that a form does not take it: "anna at example dot com", "anna(at)x.se".
    ("EMAIL", re.compile(rf"\b[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*?{_DOT}(?:com|org|net|"
                         r"[a-z]{2})\b", re.I), None),
    # In either case. The first group may be a bank code in letters (GB29 NWBK …); every
    # later group holds a digit, so a word after the number is never taken in.
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2} ?[A-Z0-9]{4}(?: ?(?=[A-Z]{0,3}\d)[A-Z0-9]{4}){1,6}"
                        r"(?: ?(?=[A-Z]{0,3}\d)[A-Z0-9]{1,4})?\b", re.I), _iban),
    ("CARD", re.compile(r"(?<![\d-])\d{4}(?:[ .-]?\d{4}){2}[ .-]?\d{1,7}(?![\d-])"), _card),
    ("CARD", re.compile(r"(?<![\d-])\d{4}[ -]?\d{6}[ -]?\d{5}(?![\d-])"), _card),  # Amex
    ("PERSONNUMMER", re.compile(r"(?<![\d-])(?:19|20)?\d{6}[-+]\d{4}(?![\d-])"),
     _personnummer),
    ("PERSONNUMMER", re.compile(r"(?<![\d-])(?:19|20)\d{10}(?![\d-])"), _personnummer),
    ("PERSONNUMMER", re.compile(r"(?<![\d.-])\d{6} ?\d{4}(?![\d.-])"), _personnummer),
    ("FODSELSNUMMER", re.compile(r"(?<![\d-])\d{6} ?\d{5}(?![\d-])"), _fodselsnummer),
    ("FODSELSNUMMER", re.compile(r"(?<![\d.])\d{2}\.\d{2}\.\d{2} ?\d{5}(?!\d|\.\d)"),
     _fodselsnummer),
    ("CPR", re.compile(r"(?<![\d-])\d{6}-\d{4}(?![\d-])"), _cpr),
    ("CPR", re.compile(r"(?i)\bcpr(?:[- ]?(?:nr|nummer)\.?)?:?\s*(\d{10})\b"), _cpr),
    ("PHONE", re.compile(
        r"(?<![\w+])(?:\+\d{1,3}[ -]?(?:\(0\)[ -]?)?\d{1,4}|\(?0\d{1,4}\)?)"
        r"(?:[ -]?\d{2,4}){2,4}(?![\d])"), _phone),
    ("PHONE", re.compile(
        r"(?i)\b(?:tel(?:efon|ephone)?|tlf|phone|mob(?:il[e]?)?|handy|ring(?:e)?)\b\.?:?\s*"
        r"(?:nr\.?|no\.?|nummer)?:?\s*(\d(?:[ -]?\d){7,11})\b"), _phone),
    # Danish and Norwegian numbers are eight digits, written in pairs: "22 33 44 55".
    ("PHONE", re.compile(r"(?<![\w+.,-])\d{2}(?: \d{2}){3}(?!\d|[.,]\d)"), _phone),
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567.
    ("PHONE", re.compile(r"(?<![\w-])(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[-.])\d{3}[-.]\d{4}(?![\w-])"),
     _phone),
    ("ADDRESS", re.compile(
        rf"(?i)\b[A-ZÅÄÖÆØÜ][\wåäöæøüß.-]*(?:{_STREET_WORDS})\s+\d{{1,4}}(?:\s?[A-Za-z]\b)?"),
     None),
    ("ADDRESS", re.compile(
        rf"(?i)\b(?:[A-ZÅÄÖÆØÜ][\wåäöæøüß-]+\s){{1,3}}(?:{_STREET_WORDS})\s+\d{{1,4}}"
        r"(?:\s?[A-Za-z]\b)?"), None),
    ("ADDRESS", re.compile(
        rf"\b\d{{1,5}}\s+(?:[A-Z][a-z]+\s){{1,3}}(?i:{_EN_STREET})(?=\W|$)"), None),
]


@dataclass
class Redaction:
    """One call's placeholders: the same original always gets the same placeholder, so the
    complaint and the history items stay consistent within one prompt."""

    active: bool = True  # RECOVERY_REDACT_PII
    originals: dict[str, str] = field(default_factory=dict)  # placeholder -> original
    found: Counter[str] = field(default_factory=Counter)

    def redact(self, text: str) -> str:
        if not self.active:
            return text
        for kind, pattern, check in _PATTERNS:
            text = pattern.sub(partial(self._swap, kind=kind, check=check), text)
        return text

    def _swap(self, match: re.Match[str], kind: str, check: _Check | None) -> str:
        """Replaces the match, or only its group 1 when the pattern has one (the words around
        a number that gave it away stay)."""
        whole = match.group()
        if check is not None and not check(match):
            return whole
        group = match.lastindex or 0
        value = match.group(group)
        start, end = match.start(group) - match.start(), match.end(group) - match.start()
        placeholder = next((p for p, o in self.originals.items() if o == value), None)
        if placeholder is None:
            self.found[kind] += 1
            placeholder = f"[{kind}_{self.found[kind]}]"
            self.originals[placeholder] = value
        return whole[:start] + placeholder + whole[end:]

    def restore(self, text: str) -> str:
        """The originals back in place of any placeholder the model kept."""
        return re.sub(r"\[[A-Z]+_\d+\]",
                      lambda m: self.originals.get(m.group(), m.group()), text)


def redact(text: str) -> str:
    """The text with every personal number replaced, for a single use (embeddings, logs)."""
    return Redaction().redact(text)


def scrub(text: str) -> str:
    """The text with every personal number replaced by its kind (`<phone>`, `<email>`), for
    text that is shown to a model as an example of style: nothing in it can be restored."""
    return re.sub(r"\[([A-Z]+)_\d+\]", lambda m: f"<{m.group(1).lower()}>", redact(text))
