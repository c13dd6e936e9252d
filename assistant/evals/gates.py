"""Gates and comparisons, on the flat view of a report: "labels.severity.quadratic_kappa"."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..models import ORDINAL_LABELS
from .metrics import kappa_change_interval

LOWER_IS_BETTER = ("cost.", "latency", "fallbacks", "words_per_reply")


def flatten(report: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    """Numeric metrics by dotted path; None where a metric did not apply (no such lines)."""
    flat: dict[str, float | None] = {}
    for key, value in report.items():
        path = f"{prefix}{key}"
        if key == "confusion":
            continue
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            flat[path] = None if value is None else float(value)
    return flat


def load_gates(path: Path, engine: str) -> dict[str, float]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"eval gates {path} cannot be read: {exc}") from exc
    section = data.get(engine, {})
    if not isinstance(section, dict) or not all(
            isinstance(v, int | float) for v in section.values()):
        raise InvalidInput(f"{path}: [{engine}] must map metric paths to numbers")
    return {str(key): float(value) for key, value in section.items()}


def lower_is_better(metric: str) -> bool:
    return any(part in metric for part in LOWER_IS_BETTER)


def check_gates(report: dict[str, Any], gates: dict[str, float]) -> list[str]:
    """Every gate a report misses: below its floor (above its ceiling, for the metrics where
    lower is better: fallbacks, cost, latency), or the metric is missing."""
    flat = flatten(report)
    failures = []
    for metric, threshold in sorted(gates.items()):
        if metric not in flat:
            failures.append(f"{metric}: missing from the report (threshold {threshold:g})")
            continue
        value = flat[metric]
        if value is None:  # no line of this set applies
            continue
        if lower_is_better(metric) and value > threshold:
            failures.append(f"{metric}: {value:.3f} > {threshold:g}")
        elif not lower_is_better(metric) and value < threshold:
            failures.append(f"{metric}: {value:.3f} < {threshold:g}")
    return failures


def compare(old: dict[str, Any], new: dict[str, Any], tolerance: float = 1e-9) -> list[str]:
    """What got better and worse between two reports, worst news first."""
    before = {k: v for k, v in flatten(old).items() if v is not None}
    after = {k: v for k, v in flatten(new).items() if v is not None}
    worse: list[str] = []
    better: list[str] = []
    for metric in sorted(set(before) & set(after)):
        delta = after[metric] - before[metric]
        if abs(delta) <= tolerance or metric.endswith(".n") or metric == "n":
            continue
        good = delta < 0 if lower_is_better(metric) else delta > 0
        line = (f"{metric}: {before[metric]:.3f} → {after[metric]:.3f} ({delta:+.3f})"
                + _noise_note(old, new, metric))
        (better if good else worse).append(line)
    only_old, only_new = len(set(before) - set(after)), len(set(after) - set(before))
    notes = [f"({only_old} metrics only in the old report, {only_new} only in the new one)"]
    return ([f"worse  {line}" for line in worse] + [f"better {line}" for line in better]
            + (notes if only_old or only_new else []))


def _noise_note(old: dict[str, Any], new: dict[str, Any], metric: str) -> str:
    """For a kappa, whether its change stands out of the noise of resampling the lines both
    reports scored (a paired bootstrap); empty when the reports do not share their items."""
    parts = metric.split(".")
    if parts[-1] != "quadratic_kappa" or parts[0] not in {"labels", "labels_by_language"}:
        return ""
    language, label = (parts[1], parts[2]) if parts[0] == "labels_by_language" else (
        None, parts[1])
    order = ORDINAL_LABELS.get(label)
    before, after = _items_by_id(old), _items_by_id(new)
    if order is None or before is None or after is None:
        return ""
    shared = [(after[key]["gold"][label], before[key]["predicted"][label],
               after[key]["predicted"][label]) for key in after
              if key in before and label in after[key]["gold"] and label in before[key]["gold"]
              and before[key]["gold"][label] == after[key]["gold"][label]
              and (language is None or after[key].get("language") == language)]
    if len(shared) < 2:
        return ""
    gold, was, now = (list(column) for column in zip(*shared, strict=True))
    interval = kappa_change_interval(gold, was, now, order)
    if interval is None:
        return ""
    verdict = "within noise" if interval[0] <= 0 <= interval[1] else "beyond noise"
    moved = [abs(order.index(n) - order.index(g)) - abs(order.index(w) - order.index(g))
             for g, w, n in shared]
    return (f" [{verdict}: paired 95% interval {interval[0]:+.3f} to {interval[1]:+.3f}"
            f" on {len(shared)} shared lines; {sum(m < 0 for m in moved)} moved closer to gold,"
            f" {sum(m > 0 for m in moved)} further]")


def _items_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """A report's items by line id; None for reports without items or with repeated ids."""
    items = report.get("items")
    if not isinstance(items, list):
        return None
    by_id = {str(item.get("id")): item for item in items if isinstance(item, dict)
             and isinstance(item.get("gold"), dict) and isinstance(item.get("predicted"), dict)}
    return by_id if len(by_id) == len(items) else None
