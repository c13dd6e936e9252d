"""The schemas the model is held to. Enums mean only valid labels can come back, and every
string and list is bounded, so a model cannot spend its whole output budget on one field.

The ids a model may cite and the gestures it may choose are known only per request: the
schema sent for a request lists exactly those (`labels_schema`, `reply_schema`). Validation
stays lenient on them, so an answer from a server that does not enforce the schema still
parses and fails our checks with a reason (and gets its repair round), instead of failing to
parse at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from ..models import Category, Effort, RecoveryPotential, Severity

LabelName = Literal["severity", "effort", "recovery_potential", "category"]
LABEL_NAMES: tuple[LabelName, ...] = get_args(LabelName)
REASON_CHARS = 120
REPLY_CHARS = 1200
MAX_REASONS = 2
MAX_CITED = 6

Detail = Annotated[str, WithJsonSchema({"type": "string", "maxLength": REASON_CHARS})]


class Why(BaseModel):
    """One reason: a phrase from the complaint or a fact from the history (with its id)."""

    model_config = ConfigDict(extra="forbid")
    detail: Detail
    history_id: str | None


Whys = Annotated[list[Why], Field(min_length=1, max_length=MAX_REASONS)]


class LabelReasons(BaseModel):
    """One to three reasons for each label: the schema itself asks for every label's."""

    model_config = ConfigDict(extra="forbid")
    severity: Whys
    effort: Whys
    recovery_potential: Whys
    category: Whys


class LabelsOut(BaseModel):
    """The model's reading of one complaint (the service applies the rubric's rules to it) and
    the reasons behind each label."""

    model_config = ConfigDict(extra="forbid")
    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    confidence: Annotated[float, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]
    reasons: LabelReasons


class ReplyOut(BaseModel):
    """A draft reply to one complaint."""

    model_config = ConfigDict(extra="forbid")
    reply: Annotated[str, WithJsonSchema({"type": "string", "maxLength": REPLY_CHARS})]
    gesture_kind: str = Field(description='One of the allowed gesture kinds, or "none".')
    history_ids_used: list[str] = Field(max_length=MAX_CITED)
    follow_up_days: Annotated[int | None, WithJsonSchema({"anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 60}, {"type": "null"}]})]


def _one_of(values: Sequence[str]) -> Any:
    """A string the schema limits to `values` (validated as any string)."""
    return Annotated[str, WithJsonSchema({"type": "string", "enum": list(values)})]


def labels_schema(history_ids: Sequence[str]) -> type[LabelsOut]:
    """`LabelsOut` for one prompt: a reason cites one of its history ids, or none."""
    cited: Any = Annotated[str | None, WithJsonSchema(
        {"anyOf": [{"type": "string", "enum": list(history_ids)}, {"type": "null"}]}
        if history_ids else {"type": "null"})]
    why = create_model("Why", __base__=Why, history_id=(cited, ...))
    whys: Any = Annotated[list[why], Field(min_length=1, max_length=MAX_REASONS)]
    reasons = create_model("LabelReasons", __base__=LabelReasons, severity=(whys, ...),
                           effort=(whys, ...), recovery_potential=(whys, ...),
                           category=(whys, ...))
    return create_model("LabelsOut", __base__=LabelsOut, reasons=(reasons, ...))


def reply_schema(gesture_kinds: Sequence[str], history_ids: Sequence[str]) -> type[ReplyOut]:
    """`ReplyOut` for one prompt: one of its gestures or "none", only its history ids."""
    none: Any = Annotated[list[str], WithJsonSchema(
        {"type": "array", "items": {"type": "string"}, "maxItems": 0})]
    cited: Any = list[_one_of(history_ids)] if history_ids else none  # type: ignore[misc]
    return create_model(
        "ReplyOut", __base__=ReplyOut,
        gesture_kind=(_one_of([*gesture_kinds, "none"]), ...),
        history_ids_used=(cited, Field(max_length=MAX_CITED)))
