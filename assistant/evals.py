"""`recovery eval`: run labelled complaints through the engine and score labels and drafts.

Each line's `history` is loaded under a namespace of its own, so one line never sees another
line's history (the same as a fresh, empty store per line)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from .errors import AssistantError, InvalidInput
from .models import ORDINAL_LABELS, DraftRequest, HistoryItemIn
from .service import Assistant

LABELS = ["severity", "effort", "recovery_potential", "category"]


class EvalHistoryItem(HistoryItemIn):
    customer_id: str | None = None


class EvalExpect(BaseModel):
    gesture_mentions_any: list[str] = Field(default_factory=list)
    must_not_mention: list[str] = Field(default_factory=list)


class EvalLine(BaseModel):
    id: str
    text: str
    language: str | None = None
    customer_id: str | None = None
    history: list[EvalHistoryItem] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    expect: EvalExpect | None = None


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


def label_metrics(gold: list[str], pred: list[str], order: list[str] | None) -> dict[str, Any]:
    values = order or sorted(set(gold) | set(pred))
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, pred, strict=True):
        confusion.setdefault(g, {}).setdefault(p, 0)
        confusion[g][p] += 1
    f1s = []
    for v in values:
        tp = sum(g == v == p for g, p in zip(gold, pred, strict=True))
        fp = sum(p == v != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == v != p for g, p in zip(gold, pred, strict=True))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    result: dict[str, Any] = {
        "n": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold),
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "confusion": confusion,
    }
    if order:
        result["quadratic_kappa"] = quadratic_kappa(gold, pred, order)
        result["within_one"] = sum(
            abs(order.index(g) - order.index(p)) <= 1 for g, p in zip(gold, pred, strict=True)
        ) / len(gold)
    return result


def quadratic_kappa(gold: list[str], pred: list[str], order: list[str]) -> float:
    k, n = len(order), len(gold)
    observed = Counter((order.index(g), order.index(p)) for g, p in zip(gold, pred, strict=True))
    rows = Counter(order.index(g) for g in gold)
    cols = Counter(order.index(p) for p in pred)
    num = sum(((i - j) ** 2) * observed[(i, j)] for i in range(k) for j in range(k))
    den = sum(((i - j) ** 2) * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return 1.0 - num / den if den else 1.0


def run_eval(assistant: Assistant, lines: list[EvalLine]) -> dict[str, Any]:
    gold: dict[str, list[str]] = {label: [] for label in LABELS}
    pred: dict[str, list[str]] = {label: [] for label in LABELS}
    checks: dict[str, list[bool]] = {}
    gestures, forbidden, language_match = [], [], []
    for line in lines:
        namespace = f"eval.{line.id}"
        customer = f"{namespace}.{line.customer_id}" if line.customer_id else None
        by_customer: dict[str, list[HistoryItemIn]] = {}
        for item in line.history:
            owner = f"{namespace}.{item.customer_id or line.customer_id or 'unknown'}"
            by_customer.setdefault(owner, []).append(
                HistoryItemIn(kind=item.kind, text=item.text, at=item.at, id=item.id))
        for owner, items in by_customer.items():
            assistant.add_history(owner, items)
        request = DraftRequest(text=line.text, language=line.language, customer_id=customer)
        try:
            draft = assistant.draft(request, store=False)
            classification = draft.classification
        except AssistantError:
            classification = assistant.classify(request)
            draft = None
        for label in LABELS:
            if label in line.labels:
                gold[label].append(line.labels[label])
                pred[label].append(getattr(classification, label).value)
        if draft is None:
            continue
        for name, result in draft.checks.items():
            checks.setdefault(name, []).append(result.passed)
        if line.language:
            language_match.append(draft.language == line.language)
        reply = draft.reply.lower()
        if line.expect and line.expect.gesture_mentions_any:
            gestures.append(any(w in reply for w in line.expect.gesture_mentions_any))
        if line.expect and line.expect.must_not_mention:
            forbidden.append(not any(w in reply for w in line.expect.must_not_mention))

    def rate(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "n": len(lines),
        "engine": "offline",
        "labels": {
            label: label_metrics(gold[label], pred[label], ORDINAL_LABELS.get(label))
            for label in LABELS if gold[label]
        },
        "drafts": {
            "n": len(checks.get("length", [])),
            "checks": {name: rate(values) for name, values in checks.items()},
            "gesture_mentions_any": rate(gestures),
            "must_not_mention": rate(forbidden),
            "language_match": rate(language_match),
        },
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
