"""The offline drafter: a short recovery reply from the phrase bank and the customer's history.

Wording varies between complaints (each part is picked from interchangeable phrasings by a hash
of the complaint), yet the same complaint always gets the same draft: deterministic.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .cues import CueHit
from .errors import InvalidInput
from .gesture import RuledOut, no_treat, own_gestures
from .knowledge import GestureOption, Knowledge, SomeoneHurt
from .language import DRAFT_LANGUAGES
from .likes import liked
from .models import Classification, Draft, FollowUp, Gesture, HistoryItem, Recall, Severity
from .rubric import FLOOR_FLAGS
from .style import run_checks
from .understand import Understood

_SEVERITY_ORDER = ["low", "medium", "high", "critical"]


def _failure_weight(hit: CueHit) -> int:
    """How much a cue's failure weighs in naming it: a floor's cue (an injury, a breach)
    weighs as critical even when it sets no severity of its own."""
    severity = "critical" if FLOOR_FLAGS.intersection(hit.cue.flags) else hit.cue.severity or "low"
    return _SEVERITY_ORDER.index(severity)


def _failure(understood: Understood, someone_hurt: SomeoneHurt) -> str | None:
    """The failure in the complaint's own cues, the weightiest first; an injury or illness
    of someone the customer names ("my son") names them; None where no cue words one."""
    text = understood.reading.text
    hits = [h for h in understood.reading.hits if h.cue.failure or "harm" in h.cue.flags]
    for hit in sorted(hits, key=_failure_weight, reverse=True):
        if "harm" in hit.cue.flags and (named := someone_hurt.named(_sentence(text, hit.phrase))):
            return named
        if hit.cue.failure:
            return hit.cue.failure
    return None


def _sentence(text: str, phrase: str) -> str:
    """The sentence of `text` that holds `phrase` (the whole text if it is not found)."""
    at = text.find(phrase)
    if at < 0:
        return text
    start = max(text.rfind(mark, 0, at) for mark in ".!?\n") + 1
    ends = [end for mark in ".!?\n" if (end := text.find(mark, at + len(phrase))) >= 0]
    return text[start:min(ends, default=len(text))]


_LEAD_WORDS = {"a", "an", "the", "my", "his", "her", "ordered", "orders", "order", "likes",
               "loves", "prefers", "en", "ett", "et", "ein", "eine", "min", "mit", "mein"}


_SLOT = re.compile(r"\{\w+\}")


class Wording:
    """Picks one of interchangeable phrasings: deterministically by a hash of the complaint,
    among the ones the team kept in replies it approved or edited (its voice), if any."""

    def __init__(self, text: str, team_replies: Sequence[str] = ()) -> None:
        self.text = text
        self.team_replies = [reply.lower() for reply in team_replies]

    def _kept(self, option: str) -> bool:
        fragments = [f.strip().lower() for f in _SLOT.split(option)]
        fragments = [f for f in fragments if len(f) >= 3]
        return bool(fragments) and any(
            all(f in reply for f in fragments) for reply in self.team_replies)

    def pick(self, options: list[str], part: str) -> str:
        kept = [option for option in options if self._kept(option)] if self.team_replies else []
        choices = kept or options
        digest = hashlib.sha256(f"{part}\n{self.text}".encode()).digest()
        return choices[int.from_bytes(digest[:4], "big") % len(choices)]


@dataclass(frozen=True)
class Switched:
    """A reviewer's choice of gesture (None: no gesture) for a draft worded again."""

    gesture: Gesture | None


def gesture_options(
    knowledge: Knowledge, recall: Recall | None, severity: Severity, language: str,
    today: date, cooldown_days: int, complaint: str,
) -> tuple[list[tuple[Gesture, list[str]]], list[str]]:
    """What a draft may offer, best first, each with the history items that ground it: a
    stated preference in the customer's own words, the catalogue gesture it names, the
    customer's other own items, then the largest generic gesture within the cap; and the
    history items that ruled some out. The first is drafted; a reviewer may switch."""
    catalogue, ruled_out = choose_gesture(knowledge, recall, severity, language, today,
                                          cooldown_days, complaint)
    own = own_gestures(knowledge, recall, severity, today, cooldown_days, complaint)
    if catalogue is None:
        return own, ruled_out
    if catalogue.based_on is not None:
        ruled_out.remove(catalogue.based_on)
        # The customer's own words for the same liked thing come first ("the blueberry
        # porridge", not the catalogue's "breakfast" that the preference mentions).
        same = [option for option in own if option[0].based_on == catalogue.based_on]
        rest = [option for option in own if option[0].based_on != catalogue.based_on]
        return [*same, (catalogue, [catalogue.based_on]), *rest], ruled_out
    return [*own, (catalogue, [])], ruled_out


def choose_gesture(
    knowledge: Knowledge, recall: Recall | None, severity: Severity, language: str,
    today: date, cooldown_days: int, complaint: str,
) -> tuple[Gesture | None, list[str]]:
    """A gesture from the customer's own preferences within the cap, never one given recently.

    Returns the gesture and the ids of the history items that shaped the choice."""
    cap = knowledge.policy.caps[severity]
    allowed, used = allowed_gestures(knowledge, recall, severity, today, cooldown_days,
                                     complaint)
    currency = knowledge.policy.currency
    if not allowed:
        return None, used
    ruled_out = RuledOut.of(recall, today, cooldown_days, complaint, knowledge.exclusions) \
        if recall else None
    for pref in (recall.facts.preferences if recall else []):
        like = liked(pref.text, preference=True)
        if ruled_out and ruled_out(like.words if like else pref.text):
            continue  # a vegan's old "loves our cheesecake" grounds no dessert either
        for option in allowed:
            match = option.regex.search(pref.text) if option.regex and not option.generic else None
            if match:
                used.append(pref.id)
                return Gesture(
                    kind=option.kind, text=option.name[language], value=option.value,
                    currency=currency, based_on=pref.id,
                    reason=f"preference {pref.id} ({pref.at}): {pref.text[:80]}",
                ), used
    generic = max((g for g in allowed if g.generic), key=lambda g: g.value, default=None)
    if generic is None:
        return None, used
    return Gesture(
        kind=generic.kind, text=generic.name[language], value=generic.value, currency=currency,
        reason=f"no preference fits; the largest generic gesture within the cap of {cap:g}",
    ), used


def allowed_gestures(
    knowledge: Knowledge, recall: Recall | None, severity: Severity, today: date,
    cooldown_days: int, complaint: str,
) -> tuple[list[GestureOption], list[str]]:
    """Gestures within the policy cap that were not given within the cooldown and that fit
    what the customer has (no free month without a subscription), and the ids of the gesture
    history items that ruled some out."""
    cap = knowledge.policy.caps[severity]
    used: list[str] = []
    recent = _recently_given(knowledge.gestures, recall, today, cooldown_days, used)
    return [g for g in knowledge.gestures if g.value <= cap and g.kind not in recent
            and knowledge.policy.offered(g) and _fits(g, knowledge, recall, complaint)], used


def _fits(option: GestureOption, knowledge: Knowledge, recall: Recall | None,
          complaint: str) -> bool:
    """A gesture that gives more of something the customer has (`only_with`) fits where the
    tenant's policy names its kind, or the complaint or history says they have it."""
    named = knowledge.policy.catalogue_kinds is not None \
        and option.kind in knowledge.policy.catalogue_kinds
    if option.shown_by is None or named:
        return True
    facts = recall.facts if recall else None
    said = [complaint, *(item.text for item in ([
        *facts.orders, *facts.preferences, *facts.notes, *facts.gestures_given,
        *facts.earlier_failures] if facts else []))]
    return any(option.shown_by.search(text) for text in said)


def sign_off(knowledge: Knowledge, language: str, wording: Wording, signer: str | None) -> str:
    """The closing line with the reviewer's name; empty when no signer is given."""
    if not signer:
        return ""
    bank = knowledge.phrases[language]
    return "\n\n" + wording.pick(bank.signoff, "signoff").format(signer=signer)


def _recently_given(
    options: list[GestureOption], recall: Recall | None, today: date, cooldown_days: int,
    used: list[str],
) -> set[str]:
    since = today - timedelta(days=cooldown_days)
    kinds: set[str] = set()
    for given in (recall.facts.gestures_given if recall else []):
        if given.at < since:
            continue
        for option in options:
            if (option.regex and option.regex.search(given.text)) or option.kind in given.text:
                kinds.add(option.kind)
                used.append(given.id)
    return kinds


def _preference_detail(pref: HistoryItem, option: GestureOption, language: str) -> str:
    """'Ordered a strawberry smoothie twice' → 'strawberry smoothie' (same language only)."""
    if pref.language != language or option.regex is None:
        return re.sub(r"^(a|an|en|ett|et|ein|eine|einen)\s+", "", option.name[language])
    match = option.regex.search(pref.text)
    assert match is not None
    before = pref.text[: match.start()].split()
    word = match.group(1)
    if before and word.lower() in option.match and before[-1].lower() not in _LEAD_WORDS:
        return f"{before[-1]} {word}"
    return word


def require_draft_language(language: str) -> str:
    if language not in DRAFT_LANGUAGES:
        raise InvalidInput(
            f"the complaint reads as {language!r}; replies are written in "
            f"{', '.join(sorted(DRAFT_LANGUAGES))}: pass one of them as 'language'"
        )
    return language


def compose(
    understood: Understood, classification: Classification, recall: Recall | None,
    knowledge: Knowledge, today: date, cooldown_days: int, signer: str | None = None,
    team_replies: Sequence[str] = (), switched: Switched | None = None,
) -> Draft:
    """The reply from the phrase bank, naming the failure by the complaint's own cues;
    `team_replies` are the team's approved replies of the same language and category, whose
    phrasings are preferred. `switched` is a reviewer's choice among the gesture options
    (or no gesture), worded instead of the first option."""
    text, language = understood.text, classification.language
    wording = Wording(text, team_replies)
    bank = knowledge.phrases[language]
    severity, effort, category = (
        classification.severity, classification.effort, classification.category)
    failure = _failure(understood, bank.someone_hurt) or wording.pick(
        bank.failure[category], "failure")

    parts = [wording.pick(bank.greeting, "greeting")]
    gesture: Gesture | None = None
    options: list[Gesture] = []
    used: list[str] = list(classification.history_used)
    if severity is Severity.critical:
        parts += [wording.pick(bank.apology_critical, "apology").format(failure=failure),
                  wording.pick(bank.fix_critical, "fix"),
                  wording.pick(bank.question_critical, "question")]
    else:
        when = wording.pick(bank.when[effort], "when")
        parts += [wording.pick(bank.apology, "apology").format(failure=failure),
                  wording.pick(bank.ownership, "ownership"),
                  wording.pick(bank.fix[category], "fix").format(when=when) + "."]
        grounded, ruled_out = ([], []) if no_treat(classification) else gesture_options(
            knowledge, recall, severity, language, today, cooldown_days, understood.reading.text)
        options = [option for option, _ in grounded]
        gesture, grounds = grounded[0] if grounded else (None, [])
        if switched is not None:
            gesture = switched.gesture
            grounds = next((ids for option, ids in grounded if option == gesture), [])
        used += ruled_out + grounds
        if gesture and gesture.kind == "history":
            # "your usual …" only for what they keep ordering; a like or a wish is worded
            # without claiming a habit.
            ordered = recall is not None and any(
                order.id == gesture.based_on for order in recall.facts.orders)
            templates = bank.gesture_item if ordered else bank.gesture_liked
            parts.append(wording.pick(templates, "gesture").format(item=gesture.text))
        elif gesture and gesture.based_on and recall:
            pref = next(p for p in recall.facts.preferences if p.id == gesture.based_on)
            option = next(g for g in knowledge.gestures if g.kind == gesture.kind)
            line = wording.pick(bank.gesture_preference, "gesture").format(
                gesture=gesture.text, detail=_preference_detail(pref, option, language))
            parts.append(line)
        elif gesture:
            parts.append(wording.pick(bank.gesture_generic, "gesture").format(gesture=gesture.text))
        parts.append(wording.pick(bank.question, "question"))
    follow_up = None
    days = knowledge.policy.follow_up_days.get(effort)
    if days:
        due = today + timedelta(days=days)
        follow_up = FollowUp(in_days=days, due=due)
        parts.append(wording.pick(bank.follow_up, "follow_up").format(
            day=bank.weekdays[due.weekday()]))
    reply = " ".join(parts[1:])
    reply = f"{parts[0]}\n\n{reply}"
    reply += sign_off(knowledge, language, wording, signer)
    checks = run_checks(reply, language, severity, gesture, knowledge)
    return Draft(
        id=uuid.uuid4().hex, created_at=datetime.now(UTC), customer_id=(
            recall.customer_id if recall else None),
        complaint=text, language=language, signer=signer, classification=classification,
        reply=reply, gesture=gesture, gesture_options=options, follow_up=follow_up,
        history_used=list(dict.fromkeys(used)), checks=checks,
        engine=classification.engine, model=classification.model,
        prompt_version=classification.prompt_version,
    )
