"""The schemas the model is held to. Enums mean only valid labels can come back."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..models import Category, Effort, RecoveryPotential, Severity

LabelName = Literal["severity", "effort", "recovery_potential", "category"]
LABEL_NAMES: tuple[LabelName, ...] = get_args(LabelName)


class LabelReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: LabelName
    detail: str
    history_id: str | None


class LabelsOut(BaseModel):
    """The model's reading of one complaint (the service applies the rubric's rules to it) and
    the reasons behind each label."""

    model_config = ConfigDict(extra="forbid")
    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    confidence: float
    reasons: list[LabelReason] = Field(min_length=4)

    @model_validator(mode="after")
    def _every_label_has_a_reason(self) -> LabelsOut:
        missing = set(LABEL_NAMES) - {reason.label for reason in self.reasons}
        if missing:
            raise ValueError(f"no reason given for {sorted(missing)}")
        return self


class ReplyOut(BaseModel):
    """A draft reply to one complaint."""

    model_config = ConfigDict(extra="forbid")
    reply: str
    gesture_kind: str = Field(description='One of the allowed gesture kinds, or "none".')
    history_ids_used: list[str]
    follow_up_days: int | None
