"""What a history item names, without the wrapping other systems export it in: labels and
order numbers, quantities, prices, sizes, pipes and parentheses ("Order #4502: 1 x Merino
hiking socks (grey, size 42)" -> "Merino hiking socks"). Judged by shape, never by a list of
items, so it holds for items nobody here has seen; `tests/data/history-formats.jsonl`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LETTERS = r"[^\W\d_]"
_SEPARATOR = r"(?::|\||\s[-–—]\s)"
# A label first: a word with a number or date ("Order #4411:", "Köp 2026-10-02:", "Booking
# 2231 -", "#10233 |"), a word alone before a colon ("Bought:"), or a code ("SKU 88123 ").
_LABEL = re.compile(
    rf"^\s*(?:(?:{_LETTERS}+\.?\s*)?#?\d[\w/.\-]*\s*{_SEPARATOR}|{_LETTERS}+\s*:"
    rf"|{_LETTERS}+[.-]?\s*#?\d{{3,}}(?=\s)(?!\s*(?:g|kg|mg|ml|cl|dl|l|oz|lb|min|cm|mm)\b))\s*",
    re.IGNORECASE)  # "SKU 88123 …", not "Coffee 500 g"
# A sentence that says the customer ordered or bought: the verb is not the item.
_BOUGHT = re.compile(
    r"^(?:ordered|bought|purchased|beställde|köpte|bestilte|bestilt|kjøpte|købte|"
    r"bestellte|bestellt|kaufte|gekauft)\b\s*", re.IGNORECASE)
_PRICE = re.compile(
    r"(?:\s(?P<each>à|@|each)\s*)?(?:(?P<sign>[€$£]|\b(?:eur|sek|dkk|nok|usd|gbp|kr\.?)(?=\s?\d))"
    r"\s*(?P<before>\d[\d.,]*)|\b(?P<after>\d{1,3}(?:\s\d{3})+(?:[.,]\d\d)?|\d[\d.,]*)"
    r"\s*(?P<code>€|\$|£|eur|sek|dkk|nok|usd|gbp|kr\.?|:-)(?=\W|$))", re.IGNORECASE)
_CURRENCIES = {"€": "EUR", "$": "USD", "£": "GBP", ":-": "SEK", "kr": None, "kr.": None}
_COUNT = re.compile(r"^\s*(\d+)\s*(?:[x×]|pcs|pc|stk|st|pk|pack|stück|\w+\s+of)?\.?\s+\D|"
                    r"\s[x×]\s*(\d+)\b|\bqty\.?:?\s*(\d+)", re.IGNORECASE)
# A size, pack or length of time, one or several ("500 g", "6x1L", "24 x 330 ml", "6-pack",
# "6er-Pack", "2 h", "4 timer", "1 Std.").
_SIZE = re.compile(
    r"\b(?:\d+\s*[x×]\s*)?\d[\d.,]*(?:er)?[\s-]*(?:g|kg|mg|ml|cl|dl|l|oz|lb|lbs|min|cm|mm|"
    r"h|hrs?|hours?|tim|timme|timmar|time|timer|std|stunden?|"
    r"pack|packs|pk|pak|pakke|pakning|packung|förp|förpackning|pcs|stk|st|stück)\.?(?=\W|$)",
    re.IGNORECASE)
# A price with no currency after "@" or "à", at the end ("… x1 @ 6.50").
_AT_PRICE = re.compile(r"\s*(?:@|à)\s*\d[\d.,]*\s*$")
_COUNT_FIRST = re.compile(  # a count, not an ordinal ("1. klasse")
    r"^\d+\s*(?:(?:[x×]|pcs|pc|stk|st|pk|pack|stück|\w+\s+of)\.?)?\s+", re.IGNORECASE)
_COUNT_LAST = re.compile(r"\s+(?:[x×]\s*\d+|\d+\s*[x×])$", re.IGNORECASE)
_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_DETAIL = re.compile(r"\s*(?:[,;]|\s[-–—](?:\s|$)).*$")  # "…, sage", "… — 3.40 EUR"
# Articles, possessives and intensifiers around the item: grammar.
# A measure before "of" goes too ("a jar of our fig chutney", "a bucket of caramel popcorn").
_BEFORE = re.compile(
    r"^(?:(?:(?:a|an)\s+[^\W\d_]+\s+of|[^\W\d_]+\s+of\s+(?:our|your)|"
    r"the|a|an|our|your|den|det|de|en|ett|et|ei|der|die|das|einen|eine|ein|unser\w*|"
    r"våra|vår|vårt|våre|vores|jeres|dere|er|ert|era|"
    r"really|truly|verkligen|virkelig|wirklich|særligt|spesielt|besonders|også|också|auch|"
    r"also|veldig|godt)\s+)+",
    re.IGNORECASE)
_AFTER = re.compile(
    r"(?:\s+(?:våre|vores|våra|vår|vårt|deres|jeres|dere|very\s+much|so\s+much|a\s+lot|sehr|mycket|meget|"
    r"über\s+alles|more\s+than\s+anything|above\s+all|mer\s+än\s+allt|mer\s+enn\s+alt|"
    r"over\s+alt|mehr\s+als\s+alles|"
    r"veldig|with|at|on|in|after|before|med|mit|på|i|am|im|efter|etter|før|innan|nach|vor))+$",
    re.IGNORECASE)
# "the new …", "en god …": a plain adjective after an article is no part of the item's name
# (lowercase only: "the New York cheesecake" keeps its name).
_PLAIN_ADJECTIVE = re.compile(r"^(?:new|nya|nye|nyt|ny|neue[nrs]?|good|nice|god|gode|godt|"
                              r"gute[nrs]?)\s+")
# When and for whom, around the item ("… for his wife every month", "jeden Monat Tulpen …"):
# a time adverbial or a beneficiary is not part of what they buy.
_WHEN = r"(?:(?:almost|nästan|næsten|nesten|fast)\s+)?(?:every|each|varje|hver|jeden|jede|jedes)"
_WHEN_FIRST = re.compile(rf"^{_WHEN}\s+[^\W\d_]+\s+", re.IGNORECASE)
_WHEN_OR_WHOM_AFTER = re.compile(
    rf"\s+(?:{_WHEN}|for|till|til|für|when|whenever|while|när|medan|når|mens|wenn|sobald|"
    rf"solange)\b.*$", re.IGNORECASE)  # "… when he dines with us", "… når hun er her"
# A relative clause after the item ("walnut loaf we bake on Fridays", "kakan som vi bakar").
_RELATIVE_AFTER = re.compile(r"\s+(?:that|which|we|they|som|vi|ni|dere|wir)\s+.*$",
                             re.IGNORECASE)
# When in the day or week, after the item ("… at breakfast", "… am Morgen", "… on Fridays").
_MEALTIME_AFTER = re.compile(
    r"\s+(?:at|in|on|for|with|over|zum|zur|am|im|beim|vid|till|på|til|ved|om|i)\s+"
    r"(?:the\s+)?(?:breakfast|brunch|lunch|dinner|supper|mornings?|evenings?|nights?|"
    r"weekends?|frukost(?:en)?|middag(?:en)?|kvällen|morgonen|helgen|frokost(?:en)?|"
    r"aftensmad(?:en)?|morgenen|aftenen|kvelden|weekenden|frühstück|mittag|abend|morgen|"
    r"wochenende|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|"
    r"(?:månd|tisd|onsd|torsd|fred|lörd|sönd)ag\w*|(?:man|tirs|tys|ons|tors|fre|lør|søn)dag\w*|"
    r"(?:mon|diens|donners|frei|sams|sonn)tag\w*|mittwoch\w*)\b.*$", re.IGNORECASE)
# "… some day", "… next time": when they hope to have it.
_SOME_TIME_AFTER = re.compile(
    r"\s+(?:some\s*day|one\s+day|one\s+of\s+these\s+days|next\s+time|nästa\s+gång|"
    r"næste\s+gang|neste\s+gang|en\s+dag|nächstes\s+mal|irgendwann)$", re.IGNORECASE)
# When they took to it, at the end: "… sedan i somras", "… since last spring", "… i december".
_SEASON_AFTER = re.compile(
    r"\s+(?:since|sedan|siden|seit|from|last|this|every|each|varje|hver|jeden|jede|in|i|im|om)"
    r"\s+(?:(?:last|the|dem|den|i|sidste|forrige|förra|letzten?)\s+)?"
    r"(?:summer|winter|spring|autumn|fall|somras|vintras|våras|höstas|sommaren|sommar|"
    r"vintern|vinter|våren|vår|hösten|höst|sommeren|sommer|vinteren|foråret|forår|efteråret|"
    r"efterår|høsten|høst|frühling|herbst|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|januari|februari|mars|maj|juni|juli|augusti|"
    r"januar|februar|marts|mai|oktober|desember|dezember|märz|christmas|julen|jul|"
    r"weihnachten|easter|påsken|påsk|påske|ostern)(?:\s+\d{4})?$", re.IGNORECASE)
# Connectors between items of one order.
_AND = re.compile(r"\s*(?:,|\s(?:and|och|og|und|&|\+)\s)\s*", re.IGNORECASE)
_AND_ONLY = re.compile(r"\s+(?:and|och|og|und|&|\+)\s+", re.IGNORECASE)


def item_name(text: str) -> str:
    """The item an order, visit or like names, in its own words; '' when nothing is left."""
    if "|" in text:  # a table row: the field with the most letters is the item
        text = max(text.split("|"), key=lambda field: len(re.findall(_LETTERS, field)))
    text = _BOUGHT.sub("", _LABEL.sub("", text.strip()))
    return _bare(text)


# What an order says after a comma that is no variant of its item: a size or a frequency
# (a small closed class); a variant is one word that is neither ("Honung, lind", "Kaffebønner,
# Kenya"), or single words joined by "and" ("Hundefôr, laks og ris"). Two words otherwise
# are a second item ("Oat latte, banana bread").
_NO_VARIANT = re.compile(
    r"small|medium|large|regular|mini|maxi|stor|stort|stora|liten|litet|lilla|små|mellan|"
    r"mellem|lille|store|groß|große|großer|klein|kleine|mittel|daily|weekly|monthly|daglig|"
    r"dagligen|ugentlig|ukentlig|månedlig|månatlig|veckovis|månadsvis|täglich|wöchentlich|"
    r"monatlich|(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?:månd|tisd|onsd|torsd|fred|lörd|"
    r"sönd)ag|(?:man|tirs|tys|ons|tors|fre|lør|søn)dag|(?:mon|diens|donners|frei|sams|"
    r"sonn)tag|mittwoch", re.IGNORECASE)
_VARIANT_AND = re.compile(r"\s+(?:and|och|og|und|&)\s+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'-]*")

# What no reply treats a customer to, though they order it again and again: a table
# ("Table for 2", "Bord til tre": the booking, not what they eat; a meal "for two" is an
# item, and so is a stay the guest keeps coming back for), and a medicine on prescription.
_HOW_MANY = (r"(?:\d+|two|three|four|five|six|seven|eight|två|tre|fyra|fem|sex|sju|åtta|to|fire|"
             r"seks|syv|otte|åtte|zwei|drei|vier|fünf|sechs|sieben|acht)")
_NO_GIFT = re.compile(
    rf"\b(?:table|bord|tisch)\b[^,]*?\b(?:for|för|til|für)\s+{_HOW_MANY}\b|"
    r"\b(?:prescriptions?|recept\w*|resept\w*|rezept\w*|medication|medicines?|"
    r"läkemedel\w*|lægemiddel\w*|legemiddel\w*|arznei\w*|medikament\w*)", re.IGNORECASE)


def is_no_gift(text: str) -> bool:
    """The order is a table booked or a medicine (see `_NO_GIFT`)."""
    return bool(_NO_GIFT.search(text))


def order_name(text: str) -> str:
    """An order's item with the variant it names after a comma: "Honung, lind, 500 g" ->
    "Honung (lind)", so that two variants are two items and the reply names the one they
    buy; "Caesar salad, large" -> "Caesar salad"."""
    name = item_name(text)
    fields = [field.strip() for field in _LABEL.sub("", text.strip()).split(",")]
    if not name or "|" in text or len(fields) < 2:
        return name
    variant = fields[1]
    if all(_WORD.fullmatch(word) and not _NO_VARIANT.fullmatch(word)
           for word in _VARIANT_AND.split(variant)):
        return f"{name} ({variant})"
    return name


def item_parts(text: str, commas: bool = True) -> list[str]:
    """The items of an order that names several ("Oat latte, banana bread"); with `commas`
    off, only those joined by "and" or "+" ("Large Diavola + garlic dip")."""
    if "|" in text:
        return [item_name(text)]
    text = _BOUGHT.sub("", _LABEL.sub("", text.strip()))
    text = _PARENTHESES.sub("", text)
    parts = (_AND if commas else _AND_ONLY).split(_PRICE.sub("", text))
    return [name for part in parts if (name := _bare(part))]


@dataclass(frozen=True)
class Price:
    """What one of an item cost, as the order says; `currency` None for a bare "kr"."""

    amount: float
    currency: str | None


def unit_price(text: str) -> Price | None:
    """The price of one item of an order ("2 x … 29.90 EUR" -> 14.95 EUR; "à 2,80 €" is one
    already); None when the order gives no price."""
    match = _PRICE.search(text)
    if not match:
        return None
    digits = match.group("before") or match.group("after")
    amount = _amount(digits)
    if amount is None or amount <= 0:
        return None
    mark = (match.group("sign") or match.group("code")).lower()
    currency = _CURRENCIES.get(mark, mark.upper())
    count = 1
    if not match.group("each"):
        counted = _COUNT.search(_LABEL.sub("", text.strip()))
        count = int(next((group for group in counted.groups() if group), "1")) if counted else 1
    return Price(round(amount / max(count, 1), 2), currency)


def _amount(digits: str) -> float | None:
    """'29.90', '39,95', '1.299,00', '1,299.00', '1 980', '12' as a number: the last mark is
    the decimal one when both are used or when one to two digits follow it."""
    digits = digits.replace(" ", "").rstrip(".,")
    last = max(digits.rfind("."), digits.rfind(","))
    decimal = last != -1 and (("." in digits and "," in digits) or len(digits) - last - 1 <= 2)
    whole, cents = (digits[:last], digits[last + 1:]) if decimal else (digits, "0")
    try:
        return float(f"{whole.replace('.', '').replace(',', '') or 0}.{cents}")
    except ValueError:
        return None


def _bare(text: str) -> str:
    text = _PARENTHESES.sub("", text)
    text = _SIZE.sub("", _AT_PRICE.sub("", _PRICE.sub("", text)))
    text = _COUNT_LAST.sub("", _COUNT_FIRST.sub("", text.strip()))
    text = _DETAIL.sub("", text)
    text = _WHEN_OR_WHOM_AFTER.sub("", _WHEN_FIRST.sub("", text.strip()))
    text = _SOME_TIME_AFTER.sub("", _MEALTIME_AFTER.sub("", _RELATIVE_AFTER.sub("", text)))
    text = _SEASON_AFTER.sub("", text)
    text = text.strip(" .!:-–—")
    without_article = _BEFORE.sub("", text)
    if without_article != text:
        without_article = _PLAIN_ADJECTIVE.sub("", without_article)
    return _AFTER.sub("", without_article).strip(" .!:-–—")
