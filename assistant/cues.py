"""Phrase cues (`knowledge/cues.toml`): what a complaint's own words say about its labels.

Found once per reading of a complaint; the offline engine learns from them, the rubric's
floors and the repeat raise read their flags, and the drafter names the failure from them."""

from __future__ import annotations

from dataclasses import dataclass

from .knowledge import Cue, Knowledge


@dataclass(frozen=True)
class CueHit:
    cue: Cue
    phrase: str


def find_cues(text: str, language: str, knowledge: Knowledge) -> list[CueHit]:
    """Each cue's first phrase in the text that is not part of a longer phrase of another
    cue: in "I will never order from you again" the "again" belongs to the leaving cue's
    "never … again" and is no repeated failure."""
    cues = knowledge.cues.get(language) or knowledge.cues.get("en", [])
    matches = [list(cue.regex.finditer(text)) for cue in cues]
    spans = [(i, m.start(), m.end()) for i, found in enumerate(matches) for m in found
             if not cues[i].flags_only]
    hits = []
    for i, (cue, found) in enumerate(zip(cues, matches, strict=True)):
        for match in found:
            inside = any(j != i and start <= match.start() and match.end() <= end
                         and end - start > match.end() - match.start()
                         for j, start, end in spans)
            if not inside:
                hits.append(CueHit(cue, match.group(0).strip()))
                break
    return hits


def flags_of(hits: list[CueHit]) -> set[str]:
    return {flag for hit in hits for flag in hit.cue.flags}
