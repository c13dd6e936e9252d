"""Agreement with the gold labels: accuracy, macro-F1, quadratic kappa with bootstrap
intervals, and the engine against the annotators' own agreement."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..levels import kappa as agreement
from ..models import ORDINAL_LABELS
from .lines import LABELS, EvalLine, label_values

RESAMPLES = 1000  # bootstrap draws behind every kappa interval; a fixed seed keeps them stable


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
        result["quadratic_kappa_ci95"] = kappa_interval(gold, pred, order)
        result["within_one"] = sum(
            abs(order.index(g) - order.index(p)) <= 1 for g, p in zip(gold, pred, strict=True)
        ) / len(gold)
    return result


_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def certainty_metrics(items: list[dict[str, Any]], label: str, order: list[str],
                      coverage: float = 0.8) -> dict[str, Any]:
    """Whether the engine knows when it is unsure: accuracy and kappa on the `coverage`
    share of lines it is surest of, and accuracy per band of stated certainty (a reliable
    engine is right about as often as it says). Lines without a certainty count as unsure."""
    rated = [(item.get("certainty", {}).get(label, 0.0), item["gold"][label],
              item["predicted"][label]) for item in items if label in item["gold"]]
    rated.sort(key=lambda row: -row[0])
    kept = rated[:max(1, round(coverage * len(rated)))] if rated else []
    bands = []
    for low, high in zip(_BINS, _BINS[1:], strict=False):
        inside = [(g, p) for c, g, p in rated if low <= c < high]
        if inside:
            bands.append({"certainty": f"{low:.1f}-{min(high, 1.0):.1f}", "n": len(inside),
                          "accuracy": sum(g == p for g, p in inside) / len(inside)})
    return {
        f"at_{round(coverage * 100)}_coverage": {
            "n": len(kept),
            "accuracy": sum(g == p for _, g, p in kept) / len(kept) if kept else None,
            "quadratic_kappa": quadratic_kappa([g for _, g, _ in kept], [p for _, _, p in kept],
                                               order) if kept else None},
        "reliability": bands,
    }


def quadratic_kappa(gold: list[str], pred: list[str], order: list[str]) -> float:
    return agreement(np.array([order.index(g) for g in gold]),
                     np.array([order.index(p) for p in pred]), len(order))


def _codes(gold: list[str], pred: list[str], order: list[str]) -> np.ndarray:
    return np.array([order.index(g) * len(order) + order.index(p)
                     for g, p in zip(gold, pred, strict=True)], dtype=np.int64)


def _resampled_kappas(codes: np.ndarray, levels: int, picks: np.ndarray) -> np.ndarray:
    """The kappa of each resample (a row of item indices into `codes`, gold * levels + pred);
    NaN where a resample leaves kappa undefined (one gold and one predicted level only)."""
    offsets = np.arange(len(picks))[:, None] * levels * levels
    counts = np.bincount((offsets + codes[picks]).ravel(), minlength=picks.shape[0] * levels ** 2)
    observed = counts.reshape(-1, levels, levels).astype(float)
    grid = np.arange(levels)
    weights = (grid[:, None] - grid[None, :]) ** 2 / (levels - 1) ** 2
    expected = (observed.sum(2)[:, :, None] * observed.sum(1)[:, None, :]
                / observed.sum((1, 2))[:, None, None])
    disagreement = (weights * expected).sum((1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas: np.ndarray = np.where(
            disagreement > 0, 1.0 - (weights * observed).sum((1, 2)) / disagreement, np.nan)
    return kappas


def _interval(values: np.ndarray) -> list[float] | None:
    if np.isnan(values).all():
        return None
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return [round(float(low), 3), round(float(high), 3)]


def _picks(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, n, size=(RESAMPLES, n))


def kappa_interval(gold: list[str], pred: list[str], order: list[str]) -> list[float] | None:
    """A 95% bootstrap interval of the kappa over the items: how far it could move on
    another set of the same size from the same sources (on 18 texts, a lot)."""
    if len(gold) < 2:
        return None
    return _interval(_resampled_kappas(_codes(gold, pred, order), len(order), _picks(len(gold))))


def kappa_change_interval(gold: list[str], before: list[str], after: list[str],
                          order: list[str]) -> list[float] | None:
    """A 95% paired bootstrap interval of the change in kappa between two runs on the same
    items: an interval that holds 0 means the change may be noise."""
    if len(gold) < 2:
        return None
    picks = _picks(len(gold))
    return _interval(_resampled_kappas(_codes(gold, after, order), len(order), picks)
                     - _resampled_kappas(_codes(gold, before, order), len(order), picks))


def human_agreement(lines: list[EvalLine], items: list[dict[str, Any]]) -> dict[str, Any]:
    """On the lines that carry each annotator's label: how well the annotators agree with
    each other (mean pairwise kappa), how well the engine agrees with their consensus, and
    the ratio of the two, which is how targets like "0.85 × the annotators" are stated.
    Overall and per language: a language's own annotator agreement is its fair bar.
    Quadratic kappa for ordinal labels, plain Cohen's kappa for the category."""
    predicted = {item["id"]: item for item in items}
    result: dict[str, Any] = {}
    for label in LABELS:
        rated = [(line, predicted[line.id]) for line in lines
                 if len(line.annotators.get(label, [])) >= 2
                 and label in predicted[line.id]["predicted"]]
        if not rated:
            continue
        by_language: dict[str, list[tuple[EvalLine, dict[str, Any]]]] = {}
        for line, item in rated:
            by_language.setdefault(item["language"], []).append((line, item))
        result[label] = {**_agreement_on(label, rated), "by_language": {
            language: _agreement_on(label, group)
            for language, group in sorted(by_language.items())}}
    return result


def _agreement_on(label: str, rated: list[tuple[EvalLine, dict[str, Any]]]) -> dict[str, Any]:
    values = label_values(label)
    quadratic = label in ORDINAL_LABELS

    def score(first: list[str], second: list[str]) -> float:
        return agreement(np.array([values.index(v) for v in first]),
                         np.array([values.index(v) for v in second]), len(values), quadratic)

    raters = max(len(line.annotators[label]) for line, _ in rated)
    pairwise = []
    for a in range(raters):
        for b in range(a + 1, raters):
            both = [line.annotators[label] for line, _ in rated
                    if len(line.annotators[label]) > b]
            if len(both) >= 2:
                pairwise.append(score([x[a] for x in both], [x[b] for x in both]))
    people = sum(pairwise) / len(pairwise) if pairwise else None
    engine = score([item["gold"][label] for _, item in rated],
                   [item["predicted"][label] for _, item in rated])
    return {"n": len(rated), "annotators": raters, "annotators_kappa": people,
            "engine_kappa": engine,
            "ratio": engine / people if people is not None and people > 0 else None}
