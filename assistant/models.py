"""The pydantic contract shared by the library, the API, the CLI and the eval files."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from .language import SUPPORTED_LANGUAGES, normalise_language_code
from .likes import liked
from .reading import as_text


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Effort(StrEnum):
    trivial = "trivial"
    low = "low"
    medium = "medium"
    high = "high"


class RecoveryPotential(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Category(StrEnum):
    delivery = "delivery"
    billing = "billing"
    product_quality = "product_quality"
    service_behaviour = "service_behaviour"
    outage_or_bug = "outage_or_bug"
    account_access = "account_access"
    plan_or_policy = "plan_or_policy"
    safety_or_health = "safety_or_health"
    other = "other"


class Route(StrEnum):
    quick_win = "quick_win"
    escalate = "escalate"
    standard = "standard"


class HistoryKind(StrEnum):
    preference = "preference"
    order = "order"
    ticket = "ticket"
    gesture = "gesture"
    note = "note"


ORDINAL_LABELS: dict[str, list[str]] = {
    "severity": [s.value for s in Severity],
    "effort": [e.value for e in Effort],
    "recovery_potential": [r.value for r in RecoveryPotential],
}

# Customer ids are system ids: ASCII letters, digits and . _ @ : + - (the same in Python and in
# the JSON-schema regex dialect, where \w is ASCII only).
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_.@:+-]+$"
CustomerId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                      pattern=CUSTOMER_ID_PATTERN),
]
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _without_controls(value: str) -> str:
    """Control characters (other than tab and newlines) and lone surrogates are removed: they
    carry no meaning in a complaint, and PostgreSQL refuses a NUL in text."""
    return _CONTROLS.sub("", value)


def _non_blank(value: str) -> str:
    value = _without_controls(value).strip()
    if not value:
        raise ValueError("is empty once spaces and control characters are removed")
    return value


# The schema says what the validator enforces (some character that is neither space nor
# control), so clients and the fuzzer see the same contract the service keeps.
NonBlank = Annotated[str, AfterValidator(_non_blank),
                     Field(json_schema_extra={"minLength": 1,
                                              "pattern": r"[^\s\x00-\x1f\x7f]"})]
_ID_PATTERN = re.compile(r"^[\w.:-]{1,128}$")


def check_language(code: str | None) -> str | None:
    """A language code as we store it ('sv-SE', 'Swedish' -> 'sv'); unknown ones refused."""
    if code is None:
        return None
    normalised = normalise_language_code(code)
    if normalised is None:
        supported = ", ".join(sorted(SUPPORTED_LANGUAGES))
        raise ValueError(f"unknown language code {code!r}; use an ISO 639-1 code: {supported}")
    return normalised


_LANGUAGES: list[JsonValue] = [*sorted(SUPPORTED_LANGUAGES)]
_LANGUAGE_SCHEMA: dict[str, JsonValue] = {"anyOf": [
    {"type": "string", "enum": _LANGUAGES}, {"type": "null"}]}


def _iso_date(value: object) -> object:
    """YYYY-MM-DD, as documented, or an ISO timestamp's day ("2026-06-01T18:30:00Z", as many
    systems export); pydantic alone would read `0` as 1970-01-01."""
    if isinstance(value, str) and (stamp := _TIMESTAMP.fullmatch(value)):
        return stamp.group(1)
    if not isinstance(value, date) and not (
            isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        raise ValueError("use a date as YYYY-MM-DD")
    return value


_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                        r"(?:Z|[+-]\d{2}:?\d{2})?")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Kinds whose every item is something the customer wants, bare ("Ullsokker i alpakka"): kept
# as a preference that says so ("Wishlist: Ullsokker i alpakka"), so it reads as a like
# (one that already says so, "Loves the alpaca socks", is kept as it is).
_WISHED = ("wishlist", "wish_list", "wish", "wishes", "saved", "saved_item", "interest",
           "interests")
# Other systems' and writers' names for our history kinds (case, spaces and hyphens aside).
HISTORY_KIND_ALIASES: dict[str, str] = {
    **dict.fromkeys(["purchase", "purchased", "bought", "booking", "reservation", "stay",
                     "visit", "transaction", "trip", "journey", "ride", "sale"], "order"),
    **dict.fromkeys(["like", "likes", "favourite", "favorite", "preferences", "pref",
                     "taste", *_WISHED], "preference"),
    **dict.fromkeys(["failure", "earlier_failure", "previous_failure", "complaint",
                     "incident", "issue", "case", "problem", "support_ticket"], "ticket"),
    **dict.fromkeys(["compensation", "goodwill", "voucher", "coupon", "credit", "gift",
                     "apology", "recovery", "gesture_given"], "gesture"),
    **dict.fromkeys(["comment", "remark", "memo", "info", "allergy", "diet", "profile",
                     "customer_note", "internal_note"], "note"),
}


def _history_key(value: str) -> str:
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def _history_kind(value: object) -> object:
    if not isinstance(value, str):
        return value
    key = _history_key(value)
    key = HISTORY_KIND_ALIASES.get(key, key)
    if key not in HistoryKind.__members__:
        raise ValueError(
            f"unknown history kind {value!r}; use one of {', '.join(HistoryKind)} (also "
            f"read: {', '.join(sorted(HISTORY_KIND_ALIASES))})")
    return key


class HistoryItemIn(BaseModel):
    """One thing we know about a customer, as it is ingested."""

    model_config = ConfigDict(extra="forbid")

    kind: Annotated[HistoryKind, BeforeValidator(_history_kind)] = Field(
        description="preference, order, ticket (an earlier failure), gesture or note; other "
        "systems' names for them are read too (purchase, booking, complaint, voucher, …).")
    text: Annotated[NonBlank, AfterValidator(as_text)] = Field(
        max_length=4_000, description="Plain text; HTML (a CRM's note, a shop's order line) "
        "is stored as the text it shows.")
    at: IsoDate = Field(validation_alias=AliasChoices("at", "date"),
                        description="When it happened (ISO date; a timestamp's day).")
    id: str | None = Field(None, description="Your id for the item; one is made if absent.")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ID_PATTERN.match(value):
            raise ValueError("id must be 1-128 letters, digits, '.', ':', '_' or '-'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _wished(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("kind"), str) \
                and isinstance(data.get("text"), str) \
                and _history_key(data["kind"]) in _WISHED and liked(data["text"]) is None:
            label = _history_key(data["kind"]).replace("_", " ").capitalize()
            return data | {"text": f"{label}: {data['text']}"}
        return data


class HistoryItem(BaseModel):
    """A stored history item: always tied to exactly one customer."""

    id: str
    customer_id: str
    kind: HistoryKind
    text: str
    at: date
    language: str | None = None


class RecalledItem(HistoryItem):
    relevance: float = Field(description="Cosine similarity to the complaint, 0..1.")


class CustomerFacts(BaseModel):
    """What the history tells us beyond similarity: the facts the rubric and the reply use."""

    earlier_failures: list[HistoryItem] = Field(
        default_factory=list, description="Tickets in the failure window before this complaint."
    )
    gestures_given: list[HistoryItem] = Field(default_factory=list)
    preferences: list[HistoryItem] = Field(default_factory=list)
    orders: list[HistoryItem] = Field(
        default_factory=list, description="The most recent orders (up to 50), newest first.")
    notes: list[HistoryItem] = Field(default_factory=list)
    order_count: int = Field(0, description="Orders we know of: the customer's value to us.")


class Recall(BaseModel):
    customer_id: str
    items: list[RecalledItem] = Field(default_factory=list)
    facts: CustomerFacts = Field(default_factory=CustomerFacts)


class ComplaintIn(BaseModel):
    """A complaint as it comes in."""

    model_config = ConfigDict(extra="forbid")

    text: NonBlank = Field(description="The customer's own words.")
    customer_id: CustomerId | None = None
    language: str | None = Field(None, description="ISO 639-1; detected when absent.",
                                 json_schema_extra=_LANGUAGE_SCHEMA)

    _normalise_language = field_validator("language")(check_language)


class DraftRequest(ComplaintIn):
    signer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80),
                      AfterValidator(_without_controls)] | None = Field(
        None, description="Who signs the reply, e.g. 'Tyler, CEO' (control characters are "
        "removed).")


class Reason(BaseModel):
    """Why a label came out as it did: a phrase from the text, a history fact, or a rule."""

    source: Literal["text", "history", "rule", "examples", "input"]
    detail: str
    history_id: str | None = None


class Reasons(BaseModel):
    severity: list[Reason] = Field(default_factory=list)
    effort: list[Reason] = Field(default_factory=list)
    recovery_potential: list[Reason] = Field(default_factory=list)
    category: list[Reason] = Field(default_factory=list)
    language: list[Reason] = Field(default_factory=list)
    route: list[Reason] = Field(default_factory=list)


class DraftStatus(StrEnum):
    pending_review = "pending_review"
    approved = "approved"
    edited = "edited"
    rejected = "rejected"


class Usage(BaseModel):
    """Tokens and cost of the model calls behind one response (zero for the offline engine)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = Field(
        0.0, description="USD from the price table; null when the model has no price there."
    )
    calls: int = Field(0, description="Model calls made, retries and repairs included.")

    def plus(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else (
            self.cost_usd + other.cost_usd)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=cost, calls=self.calls + other.calls,
        )


class EngineInfo(BaseModel):
    engine: str
    model: str
    prompt_version: str
    fallback_reason: str | None = Field(
        None, description="Why the offline engine answered instead of the configured model."
    )


class Remembered(BaseModel):
    """A complaint the team already labelled (`recovery learn`, a reviewer's correction) that
    this one repeats, in the same words or nearly: its labels stand."""

    line: str = Field(description="The learned line's id.")
    similarity: float = Field(description="Cosine of the two complaints' e5 vectors.")
    labels: dict[str, str]


class Classification(EngineInfo):
    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    language: str
    route: Route
    confidence: float = Field(ge=0, le=1)
    certainty: dict[str, float] = Field(
        default_factory=dict, description="Per ordinal label, how likely it is right: the "
        "offline model's estimate, calibrated on its out-of-fold predictions; 1.0 where a "
        "rubric rule set the label; empty for the LLM engine.")
    unsure: list[str] = Field(
        default_factory=list, description="Labels a person should set: certainty under "
        "RECOVERY_LABEL_CERTAINTY_FLOOR.")
    reasons: Reasons
    history_used: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    warnings: list[str] = Field(
        default_factory=list, description="What a reviewer should know, e.g. text in the "
        "complaint or history that reads like instructions to the model.")
    remembered: Remembered | None = Field(
        None, description="The team's labelled complaint this one repeats, whose labels it "
        "carries (a rubric floor aside).")


class Gesture(BaseModel):
    kind: str
    text: str = Field(description="The gesture as the reply words it.")
    value: float = Field(description="Estimated value in the policy currency.")
    currency: str
    based_on: str | None = Field(None, description="History item id of the preference it uses.")
    reason: str


class FollowUp(BaseModel):
    in_days: int
    due: date


class CheckResult(BaseModel):
    passed: bool
    detail: str


class Draft(EngineInfo):
    id: str
    status: DraftStatus = DraftStatus.pending_review
    created_at: datetime
    customer_id: str | None
    complaint: str
    language: str
    signer: str | None
    classification: Classification
    reply: str
    gesture: Gesture | None
    gesture_options: list[Gesture] = Field(
        default_factory=list, description="What the draft could offer, best first (the "
        "first is drafted): a reviewer may switch to another, or to none.")
    follow_up: FollowUp | None
    history_used: list[str]
    checks: dict[str, CheckResult]
    usage: Usage = Field(default_factory=Usage)
    repair_rounds: int = Field(0, description="LLM rewrites after failed style checks (max 1).")
    triage_run: str | None = Field(
        None, description="The triage run that drafted it (tonight's list), if one did.")
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


# The review desk: drafts are stored objects that people approve, edit or reject.


class ReviewAction(StrEnum):
    approve = "approve"
    edit = "edit"
    reject = "reject"


class ReviewIn(BaseModel):
    """A person's decision on a pending draft. Nothing is ever sent to the customer by us."""

    model_config = ConfigDict(extra="forbid")

    action: ReviewAction
    reviewer: Annotated[NonBlank, StringConstraints(max_length=80)]
    text: NonBlank | None = Field(None, description="The new reply; required for edit.")
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=500),
        AfterValidator(_without_controls),
    ] | None = Field(None, description="Why; required for reject.")


CORRECTABLE_LABELS = ("severity", "effort", "recovery_potential", "category")


class LabelCorrection(BaseModel):
    """A reviewer's corrected labels for a draft's complaint: audited, and taught to this
    tenant's offline model from its next classification on."""

    model_config = ConfigDict(extra="forbid")

    reviewer: Annotated[NonBlank, StringConstraints(max_length=80)]
    severity: Severity | None = None
    effort: Effort | None = None
    recovery_potential: RecoveryPotential | None = None
    category: Category | None = None

    @model_validator(mode="after")
    def _something(self) -> LabelCorrection:
        if not self.given():
            raise ValueError("give at least one of severity, effort, recovery_potential, "
                             "category")
        return self

    def given(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in CORRECTABLE_LABELS
                if getattr(self, name) is not None}


class GestureSwitch(BaseModel):
    """A reviewer's choice among a pending draft's `gesture_options` (by position, 0 the
    first), or `null` for no gesture; the reply is worded again with it."""

    model_config = ConfigDict(extra="forbid")

    reviewer: Annotated[NonBlank, StringConstraints(max_length=80)]
    option: int | None = Field(ge=0, le=50)


class CorrectedLabels(BaseModel):
    draft_id: str
    labels: dict[str, str] = Field(description="The complaint's labels as the reviewer left "
                                   "them (this tenant's model learns them), and the route "
                                   "the rubric gives them.")


class ReviewEvent(BaseModel):
    """One line of a draft's audit log: who did what, when, and the text before and after."""

    at: datetime
    actor: str
    action: str
    before: str | None = None
    after: str | None = None
    note: str | None = None


class DraftPage(BaseModel):
    total: int
    items: list[Draft]


class FollowUpDue(BaseModel):
    draft_id: str
    customer_id: str | None
    due: date
    status: DraftStatus
    category: Category
    summary: str


class ReviewStats(BaseModel):
    drafts: int
    reviewed: int
    acceptance_rate: float | None = Field(description="Approved as drafted / reviewed.")
    edit_rate: float | None = Field(description="Edited, then approved / reviewed.")
    rejection_rate: float | None
    mean_edit_distance: float | None = Field(
        description="Mean word-level edit distance of edited replies (words changed).")
    mean_edit_ratio: float | None = Field(
        description="Mean edit distance / words of the draft, 0..1, over edited replies.")


class LabelAgreement(BaseModel):
    """How often people left the engine's labels as they were."""

    period: str = Field(description="'all', or an ISO week (2026-W48) of the drafts' creation.")
    checked: int = Field(description="Drafts a person reviewed or relabelled.")
    agreement: dict[str, float | None] = Field(
        description="Per label, the share of checked drafts whose label nobody corrected.")


class StatsReport(ReviewStats):
    by: dict[str, dict[str, ReviewStats]] = Field(
        description="The same figures by category, severity, effort, language and engine.")
    label_agreement: list[LabelAgreement] = Field(
        default_factory=list, description="Engine vs reviewers: overall, then by week.")
