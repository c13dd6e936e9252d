"""Which language the customer wrote in: lingua's offline n-gram models, good on two-line texts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from threading import Lock

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

# The languages the detector chooses among. Fewer candidates = faster and fewer confusions;
# Nordic neighbours are all in so that da / nb / sv are told apart, not guessed.
_DETECTABLE: dict[str, Language] = {
    "en": Language.ENGLISH,
    "sv": Language.SWEDISH,
    "da": Language.DANISH,
    "nb": Language.BOKMAL,
    "nn": Language.NYNORSK,
    "de": Language.GERMAN,
    "fi": Language.FINNISH,
    "nl": Language.DUTCH,
    "fr": Language.FRENCH,
    "es": Language.SPANISH,
    "it": Language.ITALIAN,
    "pt": Language.PORTUGUESE,
    "pl": Language.POLISH,
}
SUPPORTED_LANGUAGES = frozenset(_DETECTABLE)
DRAFT_LANGUAGES = frozenset({"en", "sv", "da", "nb", "de"})
_ALIASES = {"no": "nb", "nob": "nb", "nno": "nn", "eng": "en", "swe": "sv", "dan": "da",
            "deu": "de", "ger": "de",
            # Our languages by name, in English and their own ("Swedish", "svenska", "norsk").
            "english": "en", "swedish": "sv", "svenska": "sv", "danish": "da", "dansk": "da",
            "norwegian": "nb", "norsk": "nb", "bokmål": "nb", "bokmal": "nb", "german": "de",
            "deutsch": "de", "finnish": "fi", "suomi": "fi"}
_BY_LINGUA = {lang: code for code, lang in _DETECTABLE.items()}
_lock = Lock()
# Danish and Bokmål share most words; these differ in spelling and settle a close call.
_NB_MARKERS = frozenset({"dere", "meg", "deg", "seg", "noe", "hva", "ble", "etter", "fikk",
                         "kjøpt", "ingenting", "hvorfor", "bestilling", "uker", "penger",
                         "igjen", "noen", "mye", "også", "kveld", "gikk", "ganger", "dager",
                         "uten", "uke", "uka", "maten", "nå"})
_DA_MARKERS = frozenset({"jer", "mig", "dig", "sig", "noget", "hvad", "blev", "efter", "fik",
                         "købt", "intet", "hvorfor", "bestilling", "uger", "penge",
                         "igen", "nogen", "meget", "også", "aften", "gik", "gange", "dage",
                         "uden", "uge", "ugen", "maden", "nu", "af"})
# Spelling rules, not words: Bokmål writes kje/kjø/gje/skje (not gjo: Danish "gjort" too),
# -sjon, -het, final -kk, opp-, -ått, and puts the possessive after the noun ("pakken min",
# "kona mi"); Danish writes -tion, -hed, op-, -ået, and -ede in the past tense ("ventede";
# Bokmål "ventet").
_NB_SPELLING = re.compile(
    r"\b(?:kj|skj|gj)[eøæ]\w*|\w+sjon(?:en|er|ene)?\b|\w{2,}het(?:en|er|ene)?\b|\w+kk\b|"
    r"\bopp[a-zæøå]\w*|\b\w+(?:en|et|ene|a) (?:min|mitt|mine|din|ditt|dine|vår|vårt|våre|"
    r"deres|mi|di)\b|\w*ått\b", re.IGNORECASE)  # "fått", "utgått"; Danish "fået", "udløbet"
_DA_SPELLING = re.compile(
    r"\w+tion(?:en|er|erne)?\b|\w{2,}hed(?:en|er|erne)?\b|\w{3,}ede\b|"
    r"\bop[bcdfghjklmnrstv]\w*|\w+ået\b", re.IGNORECASE)
# Danish addresses a company as "I" (Bokmål: "dere"); inside a sentence a capital I is that
# pronoun, while at a sentence's start it may be Bokmål's preposition ("I går …").
_DA_YOU = re.compile(r"(?<=[a-zæøå,]\s)I\b")
# Nynorsk is told from Bokmål only by its own words; without them a Norwegian text is nb.
_NN_MARKERS = frozenset({"ikkje", "eg", "kva", "korleis", "frå", "berre", "fekk", "vart",
                         "heime", "noko", "dykk", "sjølv"})
_NORDIC_PAIR = {"da", "nb", "nn"}
_WORDS = re.compile(r"\w+", re.UNICODE)


def normalise_language_code(code: str) -> str | None:
    """'SV', 'sv-SE', 'no' → 'sv', 'sv', 'nb'; None when we do not know the language."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    base = _ALIASES.get(base, base)
    return base if base in SUPPORTED_LANGUAGES else None


@dataclass(frozen=True)
class Detection:
    code: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    """Every language's models are read when the detector is built, on all cores at once
    (lingua's preloading): the same models the first detection would read one by one, in
    0.9 s instead of 1.4 s here (`bench/bench_startup.py`)."""
    return (LanguageDetectorBuilder.from_languages(*_DETECTABLE.values())
            .with_preloaded_language_models().build())


def warm_up() -> None:
    """Load the models now rather than on the first request."""
    detect("warm up the detector")


def detect(text: str, default: str = "en") -> Detection:
    """The most likely language and lingua's confidence in it; `default` when text has none."""
    with _lock:
        values = _detector().compute_language_confidence_values(text[:2_000])
    if not values:
        return Detection(default, 0.0)
    best = values[0]
    code = _BY_LINGUA[best.language]
    if code in _NORDIC_PAIR:
        code = _settle_nordic(text, code, [_BY_LINGUA[v.language] for v in values[1:3]])
    return Detection(code, float(best.value))


def _settle_nordic(text: str, code: str, runners_up: list[str]) -> str:
    """Danish, Bokmål and Nynorsk share most words: their own spellings settle a close call."""
    words = set(_WORDS.findall(text.lower()))
    if code == "nn" and not words & _NN_MARKERS:
        code = "nb"
    if code in {"da", "nb"} and set(runners_up) & _NORDIC_PAIR:
        nb, da = _nordic_spellings(text)
        if nb != da:
            code = "nb" if nb > da else "da"
    return code


def _nordic_spellings(text: str) -> tuple[int, int]:
    """How many words of `text` are spelt the Bokmål way, and how many the Danish way."""
    words = set(_WORDS.findall(text.lower()))
    return (len(words & (_NB_MARKERS - _DA_MARKERS)) + len(_NB_SPELLING.findall(text)),
            len(words & (_DA_MARKERS - _NB_MARKERS)) + len(_DA_SPELLING.findall(text))
            + bool(_DA_YOU.search(text)))


def settled_by_context(text: str, code: str, context: str) -> str:
    """A text read as Danish or Bokmål with no spelling of its own either way (a short
    complaint: "Frokosten var tom for alt klokken halv ti.") takes the side its `context`
    spells (the customer's history); one that has its own spelling keeps it."""
    if code not in {"da", "nb"} or len(set(_nordic_spellings(text))) > 1:
        return code
    nb, da = _nordic_spellings(context)
    return code if nb == da else ("nb" if nb > da else "da")
