"""The pipeline's `gesture` step: a personal gesture drawn from what this customer actually
comes back for, in their history's own words ("the Yirgacheffe you always order").

Where an option comes from, in order: what the customer said they like (a preference item,
in any words), what they ordered twice or more (newest first), and only then the catalogue's
named gestures and its generic ones (`knowledge/gestures.toml`). Never: another customer's
items (recall is per customer), anything given within the cooldown or that already failed (a
complaint came after it), anything a note says the
customer cannot or will not have (an allergy, "does not drink"), anything the customer ended
(a note, or the complaint: "charged for the plan I cancelled"), or any treat where the harm
is serious (critical severity: a person decides)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from .knowledge import Knowledge
from .models import Gesture, HistoryItem, Recall, Severity

# How people state what they like, before the thing itself: grammar, not a list of items.
_LIKES = re.compile(
    r"^(?:(?:he|she|they|customer)\s+)?(?:always\s+(?:orders|asks\s+for|buys|takes)|"
    r"(?:really\s+)?(?:likes|loves|enjoys|prefers)|favou?rite(?:\s+is)?:?|"
    r"beställer\s+alltid|tycker\s+(?:mycket\s+)?om|älskar|gillar|föredrar|"
    r"er\s+(?:vild|glad|vilde)\s+med|elsker|kan\s+lide|bestiller\s+altid|"
    r"bestiller\s+alltid|liker|foretrekker|"
    r"bestellt\s+immer|mag|liebt|bevorzugt)\s+", re.IGNORECASE)
_ARTICLE = re.compile(
    r"^(?:the|a|an|your|den|det|de|en|ett|et|ei|der|die|das|einen|eine|ein|jeres|dere|er)"
    r"\s+", re.IGNORECASE)
# What a note says the customer will not have: the words after it are excluded.
_EXCLUDES = re.compile(
    r"(?:allerg\w*\s+(?:to|against|mot|over\s+for|for|gegen)?|"
    r"(?:does\s+not|doesn'?t|do\s+not|don'?t|never)\s+(?:drink|eat)|no\s+|"
    r"dricker\s+inte|äter\s+inte|drikker\s+ikke|spiser\s+ikke|tåler\s+ikke|"
    r"trinkt\s+kein\w*|isst\s+kein\w*|verträgt\s+kein\w*|vegan\w*|vegetar\w*)\s*(\w+)?",
    re.IGNORECASE)
_ALCOHOL = ("wine", "beer", "prosecco", "champagne", "spirit", "vin", "øl", "öl", "wein",
            "bier", "sekt", "cocktail")
_TRAILING_DETAIL = re.compile(r"\s*[,(;].*$")
# The customer ended something (a plan, a membership, a service): in the Nordic and German
# verbs the customer is the one who ends; in English only with "I" or at a note's start, since
# "the cinema cancelled our screening" is the business's doing.
_ENDED = re.compile(
    r"(?:^|\bI\s+(?:\w+\s+){0,2}?|\b(?:customer|they|has|have)\s+)"
    r"(?:cancel+ed|ended|terminated|unsubscribed)\b|"
    r"\b(?:sade|sagt|sa)\s+(?:\w+\s+)?(?:upp|opp)\b|\bavslut(?:ade|at|tet|tede)\b|"
    r"\bopsag(?:de|t)\b|\bafmeldt?e?\b|\bgekündigt\b|\bkündigte\b|\babbestellt\b",
    re.IGNORECASE)
_CLAUSE_END = re.compile(r"(?<!\d)[.!?;]+|\n")  # "zum 31. Mai" is one clause


@dataclass(frozen=True)
class Choice:
    """A gesture from the customer's own history, and the items that ground it."""

    words: str
    history_ids: list[str]
    reason: str


def from_history(recall: Recall | None, today: date, cooldown_days: int, complaint: str = ""
                 ) -> list[Choice]:
    """This customer's own options, best first: stated likes, then repeat orders; none the
    customer ended (`complaint`, as read, may say so)."""
    if recall is None:
        return []
    facts = recall.facts
    # Not again: what was given within the cooldown, and a gesture that already failed (the
    # customer complained again after it), whenever it was.
    complaints = [item.at for item in facts.earlier_failures]
    recent = [g for g in facts.gestures_given if g.at >= today - timedelta(days=cooldown_days)
              or any(at > g.at for at in complaints)]
    excluded = _excluded_words([*facts.notes, *facts.preferences])
    ended = _ended_stems([complaint, *(note.text for note in facts.notes)])
    choices = [Choice(words, [item.id], f"said they like it ({item.id}, {item.at})")
               for item in facts.preferences if (words := _liked(item.text))]
    choices += _repeat_orders(facts.orders)
    return [choice for choice in choices
            if not _overlaps(choice.words, [g.text for g in recent])
            and not _excluded(choice.words, excluded)
            and not any(stem in choice.words.lower() for stem in ended)]


def own_gestures(
    knowledge: Knowledge, recall: Recall | None, severity: Severity, today: date,
    cooldown_days: int, complaint: str,
) -> list[tuple[Gesture, list[str]]]:
    """The customer's own options within the policy cap, best first, each with the history
    items that ground it; none where the harm is serious or the policy offers no own items
    (the catalogue then decides, `draft.gesture_options`)."""
    policy = knowledge.policy
    if severity is Severity.critical or "own_items" not in policy.offers:
        return []
    value = min(policy.treat_value, policy.caps[severity])
    return [(Gesture(kind="history", text=choice.words, value=value, currency=policy.currency,
                     based_on=choice.history_ids[0], reason=choice.reason), choice.history_ids)
            for choice in from_history(recall, today, cooldown_days, complaint)]


def _liked(text: str) -> str | None:
    """'Loves the cardamom buns from the lobby bakery' -> 'cardamom buns from the lobby
    bakery'; None when the item does not say what they like."""
    match = _LIKES.match(text.strip())
    if not match:
        return None
    rest = _ARTICLE.sub("", text.strip()[match.end():]).strip(" .!")
    return _TRAILING_DETAIL.sub("", rest) or None


def _repeat_orders(orders: list[HistoryItem]) -> list[Choice]:
    """Items ordered twice or more, the most often and most recently first, in the words of
    the newest order."""
    groups: dict[str, list[HistoryItem]] = {}
    for order in orders:  # newest first
        key = _key(order.text)
        if key:
            groups.setdefault(key, []).append(order)
    counted = Counter({key: len(items) for key, items in groups.items() if len(items) >= 2})
    return [Choice(_TRAILING_DETAIL.sub("", groups[key][0].text).strip(),
                   [item.id for item in groups[key]],
                   f"ordered {count} times ({', '.join(i.id for i in groups[key])})")
            for key, count in sorted(counted.items(),
                                     key=lambda kv: (-kv[1], -groups[kv[0]][0].at.toordinal()))]


def _key(text: str) -> str:
    """An order's item, without sizes, counts and prices: "Lingonsylt, 400 g" -> "lingonsylt"."""
    return " ".join(re.sub(r"\d+", " ", _TRAILING_DETAIL.sub("", text)).lower().split())


def _excluded_words(items: list[HistoryItem]) -> set[str]:
    words: set[str] = set()
    for item in items:
        for match in _EXCLUDES.finditer(item.text):
            cue = match.group(0).lower()
            if any(w in cue for w in ("drink", "dricker", "drikker", "trinkt")) or (
                    match.group(1) and match.group(1).lower().startswith(("alko", "alco"))):
                words.update(_ALCOHOL)
            if match.group(1):
                words.add(match.group(1).lower())
    return words


def _ended_stems(texts: list[str]) -> set[str]:
    """The first five letters of each longer word, the ending verb left out, in a clause that
    says the customer ended something ("Sade upp tjänsten 1 oktober" -> "tjäns", "oktob"): an
    option holding one of them anywhere, as a compound's head too ("tjäns" in
    "Streamingtjänst"), is not offered."""
    stems: set[str] = set()
    for text in texts:
        for clause in _CLAUSE_END.split(text):
            if _ENDED.search(clause.strip()):
                rest = _ENDED.sub(" ", clause.strip()).lower()  # not "ended" in "blended"
                stems.update(word[:5] for word in re.findall(r"\w[\w-]*", rest)
                             if len(word) >= 5)
    return stems


def _stems(text: str) -> set[str]:
    return {word[:5] for word in re.findall(r"\w+", text.lower()) if len(word) >= 3}


def _excluded(words: str, excluded: set[str]) -> bool:
    mine = _stems(words)
    return any(stem[:3] == word[:3] and len(word) >= 3 and (
        stem.startswith(word[:5]) or word.startswith(stem)) for stem in mine for word in excluded)


def _overlaps(words: str, given: list[str]) -> bool:
    """The option was given recently: it shares a word (five letters of it) with a gesture."""
    mine = {stem for stem in _stems(words) if len(stem) >= 5}
    return any(mine & _stems(text) for text in given)
