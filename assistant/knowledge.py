"""The knowledge folder: cues, phrase banks, gestures, policy, style rules and our own labelled
examples. Loaded and validated once at start-up, so a broken file fails loudly, not mid-reply."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import AssistantError
from .language import DRAFT_LANGUAGES
from .models import Category, Effort, Severity

Flag = str  # repeat | leaving | negligence | public | legal | harm | breach | lifetime | loss
FLAGS = frozenset({"repeat", "leaving", "negligence", "public", "legal", "harm", "breach",
                   "lifetime", "loss"})


class Cue(BaseModel):
    pattern: str
    category: Category | None = None
    severity: Severity | None = None
    effort: Effort | None = None
    flags: list[Flag] = Field(default_factory=list)
    failure: str | None = None

    @property
    def flags_only(self) -> bool:
        """A cue that only flags (a rubric floor) and reads no label of its own."""
        return self.category is None and self.severity is None and self.effort is None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


class FoodFamily(BaseModel):
    """Food or drink one word of a note can rule out (`knowledge/exclusions.toml`)."""

    names: list[str]  # what a note calls the family: "shellfish", "skaldjur", "dairy"
    words: list[str]  # what an option holding it says: "prawn", "räk", "butter", "grädde"
    unless: list[str] = Field(default_factory=list)  # "hazelnut butter", "ginger beer"
    # Short words that name it as a compound's last part too: "vin" in "portvin", "husvinet"
    # (a longer word does anyway; a short one only where no other language means else by it).
    tails: list[str] = Field(default_factory=list)

    @cached_property
    def not_of_it(self) -> re.Pattern[str] | None:
        """The phrases that hold a word of the family without being of it."""
        return re.compile("|".join(self.unless), re.IGNORECASE) if self.unless else None


class Diet(BaseModel):
    """A word that is a diet in itself ("vegan", "halal", "laktosintolerant")."""

    pattern: str
    rules_out: list[str]

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


class Exclusions(BaseModel):
    families: dict[str, FoodFamily]
    diet: list[Diet]

    @model_validator(mode="after")
    def _families_exist(self) -> Exclusions:
        unknown = {name for d in self.diet for name in d.rules_out} - set(self.families)
        if unknown:
            raise ValueError(f"diet rules out unknown families {sorted(unknown)}")
        for diet in self.diet:
            diet.regex  # noqa: B018 - compile now, fail now
        for family in self.families.values():
            family.not_of_it  # noqa: B018
        return self


class GestureOption(BaseModel):
    kind: str
    value: float
    match: list[str]
    name: dict[str, str]
    generic: bool = False
    only_with: list[str] = Field(default_factory=list, description=(
        "Patterns (regular expressions, any case) that show the customer has what this "
        "gesture gives more of (a free month: a subscription). Unless the tenant's policy "
        "names the kind, it is offered only where the customer's history or complaint "
        "matches one."))

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        """A match word as a whole word or the end of a compound (jordgubbs*smoothie*)."""
        if not self.match:
            return None
        words = "|".join(re.escape(word) for word in self.match)
        return re.compile(rf"\b(\w*(?:{words}))\b", re.IGNORECASE)

    @cached_property
    def shown_by(self) -> re.Pattern[str] | None:
        if not self.only_with:
            return None
        return re.compile("|".join(f"(?:{pattern})" for pattern in self.only_with),
                          re.IGNORECASE)


Offer = Literal["own_items", "catalogue", "generic"]
ALL_OFFERS: list[Offer] = ["own_items", "catalogue", "generic"]


class Policy(BaseModel):
    """The business's compensation policy (`knowledge/policy.toml`; per tenant over the API,
    `PUT /v1/gesture-policy`): what a draft may offer without a manager."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(max_length=40, pattern=r"^[\w.:+-]+$")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR, SEK.")
    caps: dict[Severity, Annotated[float, Field(ge=0, le=1_000_000)]] = Field(
        description="Most a gesture may be worth, by severity.")
    follow_up_days: dict[Effort, Annotated[int, Field(ge=1, le=365)]]
    treat_value: float = Field(8.0, gt=0, le=1_000_000, description=(
        "What a treat from the customer's own history is reckoned at, when the history "
        "gives no price (it stays within the cap)."))
    offers: list[Offer] = Field(
        default_factory=lambda: list(ALL_OFFERS), description=(
            "What a draft may offer: the customer's own items (what they order or said they "
            "like), the catalogue's named gestures, its generic ones (a free month, a "
            "discount)."))
    catalogue_kinds: list[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]] | None = Field(
        None, max_length=100, description=(
        "Only these kinds of `knowledge/gestures.toml` (e.g. late_checkout for a hotel, "
        "free_month only where it sells subscriptions); unset: all."))
    cooldown_days: int | None = Field(None, ge=0, le=3650, description=(
        "A gesture is not repeated within; unset: RECOVERY_GESTURE_COOLDOWN_DAYS."))

    @model_validator(mode="after")
    def _a_cap_for_every_severity(self) -> Policy:
        missing = [s.value for s in Severity if s not in self.caps]
        if missing:
            raise ValueError(f"caps needs a value for every severity; missing: {missing}")
        return self

    def offered(self, option: GestureOption) -> bool:
        kind_ok = self.catalogue_kinds is None or option.kind in self.catalogue_kinds
        return kind_ok and ("generic" if option.generic else "catalogue") in self.offers


class StyleRules(BaseModel):
    max_words: int
    banned: dict[str, list[str]]
    first_person: dict[str, list[str]]
    money_words: dict[str, list[str]]
    full_refund: dict[str, list[str]]
    full_refund_min_cap: float


class SomeoneHurt(BaseModel):
    """How a reply names someone the customer says was hurt or made ill ("my son" -> "what
    happened to your son"), rather than "you getting hurt"."""

    template: str  # "what happened to {who}"
    possessives: list[str]  # before the word, one word may come between ("my little boy")
    after: list[str]  # behind it ("sønnen min")
    who: dict[str, str]  # the word as the customer writes it -> as the reply says it

    @cached_property
    def regex(self) -> re.Pattern[str]:
        words = "|".join(sorted(map(re.escape, self.who), key=len, reverse=True))
        pattern = (rf"\b(?:{'|'.join(map(re.escape, self.possessives))})\s+(?:\w+\s+)?"
                   rf"({words})\b(?!['’]s)")
        if self.after:
            pattern += rf"|\b({words})\s+(?:{'|'.join(map(re.escape, self.after))})\b"
        return re.compile(pattern, re.IGNORECASE)

    def named(self, sentence: str) -> str | None:
        """The reply's words for the first such person the sentence names, or None."""
        match = self.regex.search(sentence)
        if match is None:
            return None
        return self.template.format(who=self.who[(match.group(1) or match.group(2)).lower()])


class PhraseBank(BaseModel):
    """Interchangeable wordings for each part of a reply, in one language."""

    greeting: list[str]
    apology: list[str]
    ownership: list[str]
    apology_critical: list[str]
    fix_critical: list[str]
    question_critical: list[str]
    gesture_preference: list[str]
    gesture_item: list[str]  # an item they keep ordering ("your usual …")
    gesture_liked: list[str]  # an item they like or want, never bought as a habit
    gesture_generic: list[str]
    question: list[str]
    follow_up: list[str]
    signoff: list[str]
    weekdays: list[str] = Field(min_length=7, max_length=7)
    when: dict[Effort, list[str]]
    fix: dict[Category, list[str]]
    failure: dict[Category, list[str]]
    someone_hurt: SomeoneHurt


class Example(BaseModel):
    id: str
    text: str
    language: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Knowledge:
    cues: dict[str, list[Cue]]
    gestures: list[GestureOption]
    exclusions: Exclusions
    policy: Policy
    style: StyleRules
    phrases: dict[str, PhraseBank]
    examples: list[Example]
    injection: re.Pattern[str]  # words addressed to the model (injection.py)
    fingerprint: str  # changes whenever any knowledge file changes

    @property
    def version(self) -> str:
        return f"offline-{self.policy.version}-{self.fingerprint[:8]}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssistantError(f"cannot read knowledge file {path}: {exc}") from exc


def load_knowledge(folder: Path) -> Knowledge:
    """Read and validate every knowledge file; errors name the file and the field."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in {".toml", ".jsonl"})
    digest = hashlib.sha256()
    for path in files:
        if "demo" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    current = "?"
    try:
        current = "cues.toml"
        cues = {
            lang: [Cue.model_validate(c) for c in entries]
            for lang, entries in _read_toml(folder / "cues.toml").items()
        }
        for entries in cues.values():
            for cue in entries:
                cue.regex  # noqa: B018 - compile now, fail now
                unknown = set(cue.flags) - FLAGS
                if unknown:
                    raise AssistantError(f"cues.toml: unknown flags {sorted(unknown)}")
        current = "gestures.toml"
        gestures = [
            GestureOption.model_validate(g) for g in _read_toml(folder / "gestures.toml")["gesture"]
        ]
        current = "exclusions.toml"
        exclusions = Exclusions.model_validate(_read_toml(folder / "exclusions.toml"))
        current = "policy.toml"
        policy = Policy.model_validate(_read_toml(folder / "policy.toml"))
        current = "style.toml"
        style = StyleRules.model_validate(_read_toml(folder / "style.toml"))
        phrases = {}
        for lang in sorted(DRAFT_LANGUAGES):
            current = f"phrases/{lang}.toml"
            bank = _read_toml(folder / "phrases" / f"{lang}.toml")
            phrases[lang] = PhraseBank.model_validate(bank)
        current = "injection.toml"
        injection = re.compile("|".join(
            f"(?:{p})" for p in _read_toml(folder / "injection.toml")["patterns"]), re.IGNORECASE)
        current = "examples.jsonl"
        examples = [
            Example.model_validate(json.loads(line))
            for line in (folder / "examples.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (ValidationError, KeyError, OSError, json.JSONDecodeError, re.error) as exc:
        raise AssistantError(f"knowledge file {folder / current} is invalid: {exc}") from exc
    return Knowledge(
        cues=cues,
        gestures=gestures,
        exclusions=exclusions,
        policy=policy,
        style=style,
        phrases=phrases,
        examples=examples,
        injection=injection,
        fingerprint=digest.hexdigest(),
    )
