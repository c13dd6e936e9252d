"""`recovery eval`: run labelled complaints through the engine and score labels and drafts.

Each line's `history` is loaded under a namespace of its own, so one line never sees another
line's history (the same as a fresh, empty store per line)."""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from typing import Any

from ..errors import AssistantError
from ..models import ORDINAL_LABELS, Draft, DraftRequest, HistoryItemIn, Usage
from ..service import Assistant
from ..style import word_count
from .lines import LABELS, EvalLine, folded
from .metrics import certainty_metrics, human_agreement, label_metrics


def run_eval(assistant: Assistant, lines: list[EvalLine]) -> dict[str, Any]:
    """Runs every line as the service would (language detected, not given) and scores it.
    `items` keeps each line's gold and predicted labels (no text), so that `compare` can
    tell a real change from noise on the same lines, and for a scenario whether the reply
    named the right gesture (`gesture_right`) and which forbidden words it named."""
    items: list[dict[str, Any]] = []
    gold: dict[str, list[str]] = {label: [] for label in LABELS}
    pred: dict[str, list[str]] = {label: [] for label in LABELS}
    by_language: dict[str, dict[str, tuple[list[str], list[str]]]] = {}
    checks: dict[str, list[bool]] = {}
    gestures, forbidden, language_match = [], [], []
    words: list[int] = []
    latencies: list[float] = []
    usage = Usage()
    fallbacks: list[str] = []
    for number, line in enumerate(lines):
        customer = _load_history(assistant, line, number)
        request = DraftRequest(text=line.text, customer_id=customer)
        started = time.perf_counter()
        draft: Draft | None = None
        try:
            draft = assistant.draft(request, store=False)
            classification = draft.classification
        except AssistantError:  # a language we classify but do not write replies in
            classification = assistant.classify(request)
        usage = usage.plus(draft.usage if draft else classification.usage)
        latencies.append(time.perf_counter() - started)
        answered = draft or classification
        if answered.fallback_reason:
            fallbacks.append(answered.fallback_reason)
        language = line.language or classification.language
        predicted = {label: getattr(classification, label).value
                     for label in LABELS if label in line.labels}
        items.append({"id": line.id, "language": language,
                      "gold": {label: line.labels[label] for label in predicted},
                      "predicted": predicted, "labels_engine": classification.engine,
                      "certainty": classification.certainty,
                      "engine": answered.engine, "model": answered.model,
                      "fallback_reason": answered.fallback_reason})
        for label, value in predicted.items():
            gold[label].append(line.labels[label])
            pred[label].append(value)
            pair = by_language.setdefault(language, {}).setdefault(label, ([], []))
            pair[0].append(line.labels[label])
            pair[1].append(value)
        if line.language:
            language_match.append(classification.language == line.language)
        if draft is None:
            continue
        for name, result in draft.checks.items():
            checks.setdefault(name, []).append(result.passed)
        words.append(word_count(draft.reply))
        reply = folded(draft.reply)
        if line.expect and line.expect.gesture_mentions_any:
            gestures.append(any(w in reply for w in line.expect.gesture_mentions_any))
            items[-1]["gesture_right"] = gestures[-1]
        if line.expect and line.expect.must_not_mention:
            named = [w for w in line.expect.must_not_mention if w in reply]
            forbidden.append(not named)
            items[-1]["forbidden_named"] = named

    def rate(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    n = max(1, len(lines))
    latencies.sort()
    against_people = human_agreement(lines, items)
    return {
        "n": len(lines),
        "engine": assistant.engine,
        "labels": {
            label: label_metrics(gold[label], pred[label], ORDINAL_LABELS.get(label))
            for label in LABELS if gold[label]
        },
        "labels_by_language": {
            language: {label: label_metrics(g, p, ORDINAL_LABELS.get(label))
                       for label, (g, p) in sorted(found.items())}
            for language, found in sorted(by_language.items())
        },
        "drafts": {
            "n": len(words),
            "checks": {name: rate(values) for name, values in sorted(checks.items())},
            "gesture_mentions_any": rate(gestures),
            "must_not_mention": rate(forbidden),
            "language_match": rate(language_match),
            "words_per_reply": sum(words) / len(words) if words else None,
        },
        "cost": {
            "prompt_tokens_per_item": usage.prompt_tokens / n,
            "completion_tokens_per_item": usage.completion_tokens / n,
            "cost_usd": usage.cost_usd,
            "cost_usd_per_item": None if usage.cost_usd is None else usage.cost_usd / n,
            "latency_ms_p50": 1000 * latencies[len(latencies) // 2] if latencies else None,
            "latency_ms_p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))]
            if latencies else None,
            "calls_per_item": usage.calls / n,
            "fallbacks": len(fallbacks),
            "fallback_rate": len(fallbacks) / n if lines else None,
        },
        "fallback_reasons": _most_common_reasons(fallbacks),
        "certainty": {label: certainty_metrics(items, label, order)
                      for label, order in ORDINAL_LABELS.items() if gold[label]},
        **({"human_agreement": against_people} if against_people else {}),
        "items": items,
    }


def _most_common_reasons(reasons: list[str], keep: int = 5) -> list[dict[str, Any]]:
    """Why the engine fell back, most frequent first, numbers and ids blurred so that the
    same cause counts once ("timed out after 20s" and after 21s alike)."""
    counted = Counter(re.sub(r"\d+(\.\d+)?", "N", reason) for reason in reasons)
    return [{"reason": reason, "count": count} for reason, count in counted.most_common(keep)]


def _load_history(assistant: Assistant, line: EvalLine, number: int) -> str | None:
    """Loads a line's history under a namespace of its own (by its place in the file, so two
    lines with one id never share a history); returns the customer id to use. Each customer
    id is hashed into it: any valid id fits, and ids a digit apart stay apart."""
    def owner(customer: str) -> str:
        return f"eval.{number}.{hashlib.sha256(customer.encode()).hexdigest()[:24]}"

    by_customer: dict[str, list[HistoryItemIn]] = {}
    for item in line.history:
        by_customer.setdefault(owner(item.customer_id or line.customer_id or ""), []).append(
            HistoryItemIn(kind=item.kind, text=item.text, at=item.at or assistant.today(),
                          id=item.id))
    for customer, items in by_customer.items():
        assistant.add_history(customer, items)
    return owner(line.customer_id) if line.customer_id else None
