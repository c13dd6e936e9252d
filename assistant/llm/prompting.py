"""What goes into a prompt: customer words as data the model cannot break out of, and the
customer's history within a token budget, most useful first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import HistoryItem, Recall
from ..pii import Redaction
from ..tokens import count_tokens

_TAGS = re.compile(r"</?\s*(complaint|history|reply|team_replies)\s*>", re.IGNORECASE)
_SHINGLE = 6



def shingles(text: str) -> set[tuple[str, ...]]:
    """Every run of six words: a reply sharing one with our prompt is repeating it."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def as_data(text: str) -> str:
    """Customer words go between our tags; tags inside them are removed so they cannot close
    the block early and pose as instructions."""
    return _TAGS.sub("", text)


@dataclass(frozen=True)
class HistoryBlock:
    text: str
    ids: list[str]
    items: dict[str, HistoryItem]


def history_block(
    recall: Recall | None, budget_tokens: int, encoding: str, pii: Redaction | None = None
) -> HistoryBlock:
    """History lines for the prompt within a token budget, most useful first: preferences and
    gestures given (they shape the gesture), earlier failures (they move labels), then the items
    most relevant to this complaint."""
    if recall is None:
        return HistoryBlock("(no customer id given: no history)", [], {})
    facts = recall.facts
    relevant = sorted(recall.items, key=lambda hit: hit.relevance, reverse=True)
    ranked = [*facts.preferences, *facts.gestures_given, *facts.earlier_failures, *relevant]
    lines: list[str] = []
    items: dict[str, HistoryItem] = {}
    used = 0
    for item in ranked:
        if item.id in items:
            continue
        text = pii.redact(item.text) if pii else item.text
        line = f"[{item.id}] {item.at.isoformat()} {item.kind.value}: {as_data(text)}"
        cost = count_tokens(line, encoding) + 1
        if used + cost > budget_tokens:
            continue
        used += cost
        lines.append(line)
        items[item.id] = item
    if not lines:
        return HistoryBlock("(no history items)", [], {})
    return HistoryBlock("\n".join(lines), list(items), items)

