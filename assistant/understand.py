"""The pipeline's first step: a complaint read once, for every step after it.

Its language is decided here and nowhere else (given, or by the detector: a model cannot
override it), its phrase cues are found once, the sentences addressed to the model are set
apart, and personal numbers are redacted once for anything that goes to a model, with one set
of placeholders for the whole request."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .cues import CueHit, find_cues
from .injection import without_instructions
from .knowledge import Knowledge
from .language import detect
from .models import ComplaintIn, Reason
from .pii import Redaction
from .reading import plain, read


@dataclass(frozen=True)
class Reading:
    """One text of a complaint as an engine reads it: the words and their cues."""

    text: str
    hits: list[CueHit]


@dataclass(frozen=True)
class Understood:
    complaint: ComplaintIn
    language: str
    language_reason: Reason
    reading: Reading
    own_words: str | None = None  # the text without its sentences addressed to the model
    redaction: Redaction = field(default_factory=Redaction)

    @property
    def text(self) -> str:
        return self.complaint.text

    @property
    def language_given(self) -> bool:
        return self.complaint.language is not None

    @cached_property
    def for_model(self) -> str:
        """The complaint as a model may see it: personal numbers as placeholders."""
        return self.redaction.redact(self.complaint.text)


def understand(complaint: ComplaintIn, knowledge: Knowledge, redact_pii: bool) -> Understood:
    """The complaint read once: its words without the wrapping they came in (`reading.read`:
    a greeting, a signature, links, form fields), in which its language and cues are found."""
    reading = read(complaint.text)
    words = reading.text
    if complaint.language:
        language = complaint.language
        reason = Reason(source="input", detail=f"given as {language!r}")
    else:
        found = detect(words)
        language = found.code
        reason = Reason(source="text", detail=f"detected {language} ({found.confidence:.2f})")
    if reading.dropped:  # the reviewer sees that the engine read less than the whole text
        reason.detail += f"; read without {', '.join(reading.dropped)}"
    own_words = without_instructions(complaint.text, knowledge.injection)
    return Understood(
        complaint=complaint, language=language, language_reason=reason,
        reading=Reading(words, find_cues(words, language, knowledge)),
        own_words=None if own_words is None else plain(own_words),
        redaction=Redaction(active=redact_pii),
    )
