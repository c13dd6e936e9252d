"""The eval file format: labelled complaints, one JSON object a line, refused with the line
number and the values allowed when a line is wrong."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InvalidInput
from ..models import (
    ORDINAL_LABELS,
    Category,
    CustomerId,
    HistoryItemIn,
    IsoDate,
    Route,
    check_language,
)

LABELS = ["severity", "effort", "recovery_potential", "category", "route"]


def folded(text: str) -> str:
    """Text as the eval compares words: NFC, case-folded."""
    return unicodedata.normalize("NFC", text).casefold()


Folded = Annotated[str, AfterValidator(folded)]
# One word may be written bare ("smoothie") rather than as a list of one.
Words = Annotated[list[Folded], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class EvalHistoryItem(HistoryItemIn):
    """A history item of an eval line: another customer's (a distractor) when it names one;
    a writer's own notes on it (`"source": "crm"`) are no error, and an item without a date
    happened on the day the set is judged on (`--as-of`, else today)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    customer_id: CustomerId | None = None
    at: IsoDate | None = Field(None, validation_alias=AliasChoices("at", "date"))  # type: ignore[assignment]


class EvalExpect(BaseModel):
    """Words of which a good reply names one, and words it must not name; compared
    case-folded and NFC-normalised, however the writer typed them ("Yirgacheffe")."""

    gesture_mentions_any: Words = Field(default_factory=list)
    must_not_mention: Words = Field(default_factory=list)


class EvalLine(BaseModel):
    # A writer's numeric ids ("id": 17, "customer_id": 4021) are ids all the same.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str
    text: str
    language: str | None = None
    customer_id: CustomerId | None = None
    history: list[EvalHistoryItem] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    expect: EvalExpect | None = None
    # Each annotator's own label behind a consensus label, in the same annotator order on
    # every line, for `human_agreement` (optional).
    annotators: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _language_among_labels(cls, data: Any) -> Any:
        """A writer may list the language with the labels (PRODUCT.md names it one), and
        write a value as "High" or "product quality"."""
        if isinstance(data, dict) and isinstance(data.get("labels"), dict):
            labels = dict(data["labels"])
            if "language" in labels:
                language = labels.pop("language")
                data = {**data, "language": data.get("language") or language}
            data = {**data, "labels": {name: _value(value) for name, value in labels.items()}}
        return data

    _normalise_language = field_validator("language")(check_language)

    @model_validator(mode="after")
    def _known_labels(self) -> EvalLine:
        """An unknown label or value is a mistake in the file, said with what is allowed."""
        given = list(self.labels.items())
        given += [(label, value) for label, values in self.annotators.items()
                  for value in values]
        for label, value in given:
            if label not in LABELS:
                raise ValueError(f"unknown label {label!r}; labels are {', '.join(LABELS)}")
            if value not in label_values(label):
                raise ValueError(f"{label} {value!r} is not one of "
                                 f"{', '.join(label_values(label))}")
        return self


def _value(value: Any) -> Any:
    return re.sub(r"[\s-]+", "_", value.strip().lower()) if isinstance(value, str) else value


def label_values(label: str) -> list[str]:
    """A label's values: in order for the ordinal labels, else the categories or routes."""
    if label == "route":
        return [r.value for r in Route]
    return ORDINAL_LABELS.get(label) or [c.value for c in Category]


def read_eval_file(path: Path) -> list[EvalLine]:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip():
            try:
                lines.append(EvalLine.model_validate_json(raw))
            except ValidationError as exc:
                raise InvalidInput(f"{path}:{number}: {exc.errors()[0]['msg']}") from exc
    return lines
