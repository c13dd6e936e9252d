"""The pipeline's `gesture` step: a personal gesture drawn from what this customer actually
comes back for, in their history's own words ("the Yirgacheffe you always order").

Where an option comes from, in order: what the customer said they like (a preference item,
in any words: `likes.py`), what they ordered twice or more (newest first), what a note says
they like, and only then the catalogue's named gestures and its generic ones
(`knowledge/gestures.toml`). Never: another customer's
items (recall is per customer), anything given within the cooldown or that already failed (a
complaint came after it), anything a note says the
customer cannot or will not have (an allergy, "does not drink"), anything the customer ended
(a note, or the complaint: "charged for the plan I cancelled"), or any treat where the harm
is serious (`no_treat`: a person decides)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .items import Price, is_no_gift, item_parts, order_name, unit_price
from .knowledge import Exclusions, FoodFamily, Knowledge, Policy
from .likes import liked
from .models import Classification, Gesture, HistoryItem, Recall, Severity

# What a note says the customer will not have: the words after it are excluded. German may put
# words between the verb and its "kein" ("isst seit dem Frühjahr kein Schweinefleisch").
_EXCLUDES = re.compile(
    r"(?:allerg\w*\s+(?:to|against|mot|over\s+for|for|gegen)?|"
    r"(?:does\s+not|doesn'?t|do\s+not|don'?t|never)\s+(?:drink|eat)|"
    r"(?:no\s+longer|not\s+any\s?more)\s+(?:drinks?|eats?)|"
    r"(?:stopped|quit|gave\s+up)\s+(?:drinking|eating)|no\s+|"
    r"dricker\s+inte|äter\s+inte|drikker\s+ikke|spiser\s+ikke|tåler\s+ikke|tål\s+inte|"
    r"kan\s+(?:ikke|inte)\s+tål[ae]|"
    r"(?:trinkt|isst|verträgt)\s+(?:[^\W\d]+\s+){0,4}?kein\w*|vegan\w*|vegetar\w*)\s*(\w+)?"
    r"(?:(?=[ -](\w+)))?",  # the next word, not consumed: it may start the next phrase
    re.IGNORECASE)
# "Nut allergy", "Nussallergie", "nötallergi": the allergen before the word for allergy.
_ALLERGEN_FIRST = re.compile(r"\b([^\W\d_]{3,}?)[- ]?allerg", re.IGNORECASE)
_NOT_AN_ALLERGEN = frozenset({"has", "have", "had", "with", "severe", "mild", "strong", "food",
                              "known", "any", "har", "hat", "mit", "med", "svær", "alvorlig",
                              "kraftig", "schwere", "starke", "stark"})
_FOLD = str.maketrans("üöäøæå", "uoaoaa")
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
    since: date  # the newest item that grounds it
    price: Price | None = None  # one of the item, as the newest order gives it


@dataclass(frozen=True)
class RuledOut:
    """What this customer is not offered now, asked of any words (an option, a liked text)."""

    recent: list[str]  # gestures given within the cooldown, or that failed
    excluded: set[str]  # words a note or the complaint rules out ("nuts")
    foods: list[FoodFamily]  # families an allergy or a diet rules out, by meaning
    ended: set[str]  # stems of what the customer ended (`_ended_stems`)

    @classmethod
    def of(cls, recall: Recall, today: date, cooldown_days: int, complaint: str = "",
           exclusions: Exclusions | None = None) -> RuledOut:
        facts = recall.facts
        # Not again: what was given within the cooldown, and a gesture that already failed
        # (the customer complained again after it), whenever it was.
        complaints = [item.at for item in facts.earlier_failures]
        recent = [g.text for g in facts.gestures_given
                  if g.at >= today - timedelta(days=cooldown_days)
                  or any(at > g.at for at in complaints)]
        # What the customer cannot or will not have: in a note or preference, or said in the
        # complaint itself ("I'm vegetarian now and got ham again", "allergisk over for nødder").
        notes = [item.text for item in [*facts.notes, *facts.preferences]]
        excluded, named = _excluded_words(notes, complaint)
        foods = _ruled_out_foods([*notes, complaint], named, exclusions)
        # A family's name is left to its family, which knows what is not of it ("alkoholfri øl").
        names = {name.lower() for food in foods for name in food.names}
        excluded -= names | {_singular(name) for name in names}
        ended = _ended_stems([complaint, *(note.text for note in facts.notes)])
        return cls(recent, excluded, foods, ended)

    def __call__(self, words: str) -> bool:
        return (_overlaps(words, self.recent) or _excluded(words, self.excluded)
                or _holds(words, self.foods) or any(stem in words.lower() for stem in self.ended))


def from_history(recall: Recall | None, today: date, cooldown_days: int, complaint: str = "",
                 exclusions: Exclusions | None = None) -> list[Choice]:
    """This customer's own options, best first: likes, then repeat orders; none the
    customer ended (`complaint`, as read, may say so), none a note rules out (by its words,
    and by meaning through `exclusions`: a vegan is offered no cheese)."""
    if recall is None:
        return []
    facts = recall.facts
    ruled_out = RuledOut.of(recall, today, cooldown_days, complaint, exclusions)
    # What they said they like, then what a note says they like ("Asks for the blueberry
    # facial every visit": said of this one thing, where a repeat booking may be the service
    # itself), then what they come back for.
    stated, noted = ([Choice(like.words, [item.id], f"said they {'want' if like.wish else 'like'}"
                             f" it ({item.id}, {item.at})", item.at)
                      for item in items if (like := liked(item.text, preference))]
                     for items, preference in ((facts.preferences, True), (facts.notes, False)))
    choices = [choice for choice in [*stated, *noted, *_repeat_orders(facts.orders)]
               if not ruled_out(choice.words)]
    return _since_restriction(choices, [*facts.notes, *facts.preferences], exclusions)


def _since_restriction(choices: list[Choice], notes: list[HistoryItem],
                       exclusions: Exclusions | None) -> list[Choice]:
    """Options grounded only before the newest allergy or diet note go after those grounded
    since, and say so. Nobody says they love what they are allergic to, so a like stated after
    the note suits them; one stated before it may hold what they cannot have now in a dish
    whose name does not say so ("pad thai" before "developed a peanut allergy"), while what
    they ordered since is known to suit them. Nothing is dropped: a person reads the reason."""
    newest = max((note for note in notes if _restricts(note.text, exclusions)),
                 key=lambda note: note.at, default=None)
    if newest is None:
        return choices
    before = [replace(choice, reason=f"{choice.reason}; older than {newest.id} ({newest.at}),"
                      " which may rule it out") for choice in choices if choice.since < newest.at]
    return [choice for choice in choices if choice.since >= newest.at] + before


def _restricts(text: str, exclusions: Exclusions | None) -> bool:
    """The text says what the customer cannot or will not have (an allergy, a diet, "doesn't
    drink"); a bare "no" ("no sugar", "no calls after six") is a wish, not a restriction."""
    return (any(not match.group(0).lower().startswith("no") for match in _EXCLUDES.finditer(text))
            or any(match.group(1).lower() not in _NOT_AN_ALLERGEN
                   for match in _ALLERGEN_FIRST.finditer(text))
            or (exclusions is not None and any(diet.regex.search(text)
                                               for diet in exclusions.diet)))


def no_treat(classification: Classification) -> bool:
    """No treat where the harm is serious (critical: harm done, a breach, a missed lifetime
    event): the reply offers a call and a person decides. Tried and not kept: a health or
    safety complaint labelled high as well (every such line of `recovery-v1` is critical by
    gold, 3 of 3), because the labels call burnt toast that too (evals/README.md)."""
    return classification.severity is Severity.critical


def own_gestures(
    knowledge: Knowledge, recall: Recall | None, severity: Severity, today: date,
    cooldown_days: int, complaint: str,
) -> list[tuple[Gesture, list[str]]]:
    """The customer's own options within the policy cap, best first, each with the history
    items that ground it; none where the policy offers no own items (the catalogue then
    decides, `draft.gesture_options`). Whether any treat fits at all is `no_treat`'s. An
    item is worth what its order says one costs, else the policy's treat value; one worth
    more than the cap is not offered."""
    policy = knowledge.policy
    if "own_items" not in policy.offers:
        return []
    cap = policy.caps[severity]
    options = []
    for choice in from_history(recall, today, cooldown_days, complaint, knowledge.exclusions):
        value, priced = _value(choice.price, policy, cap)
        if value <= cap:
            options.append((Gesture(
                kind="history", text=choice.words, value=value, currency=policy.currency,
                based_on=choice.history_ids[0], reason=choice.reason + priced),
                choice.history_ids))
    return options


def _value(price: Price | None, policy: Policy, cap: float) -> tuple[float, str]:
    """What one of the item is worth in the policy's currency, and how we know; a price in
    another currency is not converted (the treat value stands in)."""
    kronor = policy.currency in {"SEK", "DKK", "NOK"}
    if price and (price.currency == policy.currency or (price.currency is None and kronor)):
        return price.amount, f"; {price.amount:g} {policy.currency} each, as ordered"
    return min(policy.treat_value, cap), ""


def _repeat_orders(orders: list[HistoryItem]) -> list[Choice]:
    """Items ordered twice or more, the most often and most recently first, in the words of
    the newest order. An order that names several items counts for each of them, where the
    order as a whole is not a repeat ("Oat latte, banana bread" and "Cheese toastie, oat
    latte" are two oat lattes). A booked table or a medicine is no item to treat them to."""
    wholes: dict[str, list[tuple[HistoryItem, str]]] = {}
    for order in orders:  # newest first
        if is_no_gift(order.text):
            continue
        name = order_name(order.text)
        if key := _key(name):
            wholes.setdefault(key, []).append((order, name))
    groups = {key: items for key, items in wholes.items() if len(items) >= 2}
    # An order's price is the item's only where the order is that item alone.
    priced = set(groups)
    parts = _parts([items for key, items in wholes.items() if key not in priced])
    groups |= {key: items for key, items in parts.items()
               if len(items) >= 2 and key not in groups}
    # A repeat's own parts come last, for when the whole is ruled out ("Diavola + garlic
    # dip" after the garlic dip was the gesture); split at "and" only, as its commas may
    # hold a variant or a size.
    inner = _parts([items for key, items in wholes.items() if key in priced], commas=False)
    later = {key: items for key, items in inner.items() if len(items) >= 2 and key not in groups}

    def ranked(found: dict[str, list[tuple[HistoryItem, str]]]) -> list[str]:
        return sorted(found, key=lambda key: (-len(found[key]), -found[key][0][0].at.toordinal()))

    keys = [*ranked(groups), *ranked(later)]
    groups |= later
    return [Choice(groups[key][0][1], [order.id for order, _ in groups[key]],
                   f"ordered {len(groups[key])} times "
                   f"({', '.join(order.id for order, _ in groups[key])})", groups[key][0][0].at,
                   unit_price(groups[key][0][0].text) if key in priced else None)
            for key in keys]


def _parts(wholes: list[list[tuple[HistoryItem, str]]],
           commas: bool = True) -> dict[str, list[tuple[HistoryItem, str]]]:
    """Each item of these orders, by its key, with the orders that name it."""
    parts: dict[str, list[tuple[HistoryItem, str]]] = {}
    for items in wholes:
        for order, _ in items:
            for name in dict.fromkeys(item_parts(order.text, commas)):
                if part := _key(name):
                    parts.setdefault(part, []).append((order, name))
    return parts


def _key(name: str) -> str:
    """What makes two orders the same item: its words, case and digits aside; '' for a size
    or code of two letters or fewer ("XL", "W32 L34"), which is no item."""
    key = " ".join(re.sub(r"\d+", " ", name).lower().split())
    return key if len(re.findall(r"[^\W\d_]", key)) >= 3 else ""


def _excluded_words(notes: list[str], complaint: str) -> tuple[set[str], set[str]]:
    """What notes and the complaint rule out, each word as written and in its singular
    ("nuts", "nut"); a complaint's bare "no"s do not ("there was no milk in it"). Second, the
    same with the word after each, which may name a family ("allergic to tree nuts") but is
    too loose to exclude by itself ("no longer drinks")."""
    words: set[str] = set()
    following: set[str] = set()
    for text, said in [*((note, False) for note in notes), (complaint, True)]:
        for match in _EXCLUDES.finditer(text):
            if match.group(1) and not (said and match.group(0).lower().startswith(
                    ("no", "vegan", "vegetar"))):
                words.add(match.group(1).lower())
                following.update([match.group(2).lower()] if match.group(2) else [])
        words.update(match.group(1).lower() for match in _ALLERGEN_FIRST.finditer(text)
                     if match.group(1).lower() not in _NOT_AN_ALLERGEN)
    words |= {_singular(word) for word in words}
    return words, words | following | {_singular(word) for word in following}


def _ruled_out_foods(texts: list[str], excluded: set[str],
                     exclusions: Exclusions | None) -> list[FoodFamily]:
    """Every family a diet ("Vegan") or an excluded family name ("Allergic to shellfish",
    "doesn't drink alcohol", "tål inte mjölkprodukter": a compound on the name) rules out."""
    if exclusions is None:
        return []
    names = {_singular(word) for word in excluded} | {w.translate(_FOLD) for w in excluded}
    families = {name for name, family in exclusions.families.items()
                if names & ({_singular(n) for n in family.names}
                            | {n.translate(_FOLD) for n in family.names})
                or any(word.startswith(n.translate(_FOLD)) for word in names
                       for n in family.names if len(n) >= 4)}
    families |= {name for text in texts for diet in exclusions.diet
                 if diet.regex.search(text) for name in diet.rules_out}
    return [exclusions.families[name] for name in sorted(families)]


def _holds(words: str, families: list[FoodFamily]) -> bool:
    """An option holds a family by one of its words, or by the family's own name ("the
    seafood platter" for a shellfish allergy, "Meeresfrüchte-Risotto" for a vegan), or by a
    compound on one of its `tails` ("tawny portvin" for a non-drinker)."""
    for family in families:
        said = family.not_of_it.sub(" ", words) if family.not_of_it else words
        if _names_food(said, [*family.words, *family.names]) or any(
                re.fullmatch(rf"\w{{3,}}{tail}(?:et|en|er|e)?", token)
                for token in re.findall(r"\w+", said.lower()) for tail in family.tails):
            return True
    return False


def _names_food(words: str, foods: list[str]) -> bool:
    """The option names one of `foods`: a word's start, a compound's head, a phrase; a word
    of three letters or fewer only as a whole word ("gin", not "ginger")."""
    text = _folded(words)
    tokens = text.split()
    for food in (f.translate(_FOLD) for f in foods):
        if " " in food:
            if food in text:
                return True
        elif len(food) <= 3:
            if any(token in (food, food + "s") for token in tokens):
                return True
        elif any(token.startswith(stem) or stem in token[3:] for token in tokens
                 for stem in {food, food.rstrip("aeiou") if len(food) >= 5 else food}):
            return True  # "grädde" in "gräddtårta": a compound may drop the final vowel
    return False


def _singular(word: str) -> str:
    """A plural's base, roughly and in any of our languages, for matching only: "nuts" ->
    "nut", "strawberries" -> "strawberry", "nötter" -> "not", "Nüsse" -> "nuss"."""
    word = word.lower().translate(_FOLD)
    for plural, base in (("ies", "y"), ("es", ""), ("s", ""), ("er", ""), ("ar", ""),
                         ("or", ""), ("en", ""), ("e", "")):
        if word.endswith(plural) and len(word) - len(plural) >= 3:
            word = word[: -len(plural)] + base
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "s":
        word = word[:-1]  # "nött" -> "nöt"; "nuss" stays
    return word


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
    """An option holds a ruled-out word: at a word's start ("peanut" in "peanut butter"), or
    as a compound's head ("nut" in "hazelnut", "nöt" in "hasselnötsbiskvier", "nuss" in
    "Haselnusstorte")."""
    mine = _stems(words)
    if any(stem[:3] == word[:3] and len(word) >= 3 and (
            stem.startswith(word[:5]) or word.startswith(stem))
           for stem in mine for word in excluded):
        return True
    tokens = _folded(words).split()
    return any(len(word) >= 3 and word.translate(_FOLD) in token[3:]
               for token in tokens for word in excluded)


def _folded(words: str) -> str:
    """Words in lower case, single-spaced, with ü ö ä ø æ å folded: "Gräddtårta" -> "graddtarta"."""
    return " ".join(re.findall(r"\w+", words.lower())).translate(_FOLD)


def _overlaps(words: str, given: list[str]) -> bool:
    """The option was given recently: it shares a word (five letters of it, or its singular:
    "PT-timmar" and "PT-timme") with a gesture."""
    mine = {stem for stem in _stems(words) if len(stem) >= 5}
    singular = _singulars(words)
    return any(mine & _stems(text) or singular & _singulars(text) for text in given)


def _singulars(text: str) -> set[str]:
    return {base for word in re.findall(r"\w+", text.lower())
            if len(word) >= 5 and len(base := _singular(word)) >= 3}
