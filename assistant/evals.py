"""`recovery eval`: run labelled complaints through the engine and score labels and drafts.

Each line's `history` is loaded under a namespace of its own, so one line never sees another
line's history (the same as a fresh, empty store per line)."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from .errors import AssistantError, InvalidInput
from .learned import kappa as agreement
from .models import ORDINAL_LABELS, Category, Draft, DraftRequest, HistoryItemIn, Usage
from .service import Assistant
from .style import word_count

LABELS = ["severity", "effort", "recovery_potential", "category"]
RESAMPLES = 1000  # bootstrap draws behind every kappa interval; a fixed seed keeps them stable


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
    # Each annotator's own label behind a consensus label, in the same annotator order on
    # every line, for `human_agreement` (optional).
    annotators: dict[str, list[str]] = Field(default_factory=dict)

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


def label_values(label: str) -> list[str]:
    """A label's values: in order for the ordinal labels, the categories otherwise."""
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


def run_eval(assistant: Assistant, lines: list[EvalLine]) -> dict[str, Any]:
    """Runs every line as the service would (language detected, not given) and scores it.
    `items` keeps each line's gold and predicted labels (no text), so that `compare` can
    tell a real change from noise on the same lines."""
    items: list[dict[str, Any]] = []
    gold: dict[str, list[str]] = {label: [] for label in LABELS}
    pred: dict[str, list[str]] = {label: [] for label in LABELS}
    by_language: dict[str, dict[str, tuple[list[str], list[str]]]] = {}
    checks: dict[str, list[bool]] = {}
    gestures, forbidden, language_match = [], [], []
    words: list[int] = []
    latencies: list[float] = []
    usage = Usage()
    fallbacks = 0
    for line in lines:
        customer = _load_history(assistant, line)
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
        fallbacks += bool((draft or classification).fallback_reason)
        language = line.language or classification.language
        predicted = {label: getattr(classification, label).value
                     for label in LABELS if label in line.labels}
        items.append({"id": line.id, "language": language,
                      "gold": {label: line.labels[label] for label in predicted},
                      "predicted": predicted})
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
        reply = draft.reply.lower()
        if line.expect and line.expect.gesture_mentions_any:
            gestures.append(any(w in reply for w in line.expect.gesture_mentions_any))
        if line.expect and line.expect.must_not_mention:
            forbidden.append(not any(w in reply for w in line.expect.must_not_mention))

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
            "fallbacks": fallbacks,
        },
        **({"human_agreement": against_people} if against_people else {}),
        "items": items,
    }


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


def _load_history(assistant: Assistant, line: EvalLine) -> str | None:
    """Loads a line's history under a namespace of its own; returns the customer id to use."""
    namespace = f"eval.{line.id}"
    by_customer: dict[str, list[HistoryItemIn]] = {}
    for item in line.history:
        owner = f"{namespace}.{item.customer_id or line.customer_id or 'unknown'}"
        by_customer.setdefault(owner, []).append(
            HistoryItemIn(kind=item.kind, text=item.text, at=item.at, id=item.id))
    for owner, items in by_customer.items():
        assistant.add_history(owner, items)
    return f"{namespace}.{line.customer_id}" if line.customer_id else None


# Gates and comparisons work on the flat view of a report: "labels.severity.quadratic_kappa".
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


def check_gates(report: dict[str, Any], gates: dict[str, float]) -> list[str]:
    """Every gate a report misses: below its threshold, or the metric is missing."""
    flat = flatten(report)
    failures = []
    for metric, threshold in sorted(gates.items()):
        if metric not in flat:
            failures.append(f"{metric}: missing from the report (threshold {threshold:g})")
            continue
        value = flat[metric]
        if value is not None and value < threshold:  # None: no line of this set applies
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
        good = delta < 0 if any(part in metric for part in LOWER_IS_BETTER) else delta > 0
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


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_report(report: dict[str, Any], path: Path, gates: list[str] | None = None) -> None:
    """A Markdown report beside a PNG of the confusion matrices (`<name>-confusion.png`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = path.with_name(f"{path.stem}-confusion.png")
    _confusion_chart(report["labels"], chart)
    out = [f"# Eval report: {report['n']} complaints, engine `{report['engine']}`", ""]
    if gates is not None:
        out += ["**Gates: all passed.**" if not gates else "**Gates failed:**", ""]
        out += [f"- {failure}" for failure in gates] + ([""] if gates else [])
    out += ["## Labels", "", "| label | n | accuracy | macro-F1 | QWK | within one |",
            "|---|---|---|---|---|---|"]
    for label, m in report["labels"].items():
        out.append(f"| {label} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
                   f"{_kappa(m)} | {_num(m.get('within_one'))} |")
    languages = report.get("labels_by_language", {})
    if languages:
        out += ["", "### By language (QWK for ordinal labels, accuracy for category)", "",
                "| language | n | " + " | ".join(LABELS) + " |",
                "|---|---|" + "---|" * len(LABELS)]
        for language, found in languages.items():
            n = max((m["n"] for m in found.values()), default=0)
            cells = [("–" if label not in found else _kappa(found[label])
                      if "quadratic_kappa" in found[label] else _num(found[label]["accuracy"]))
                     for label in LABELS]
            out.append(f"| {language} | {n} | " + " | ".join(cells) + " |")
    out += ["", "In brackets: the 95% bootstrap interval of each kappa over these lines "
            f"({RESAMPLES} resamples). A change inside it may be noise; `--compare` tests "
            "changes on the same lines."]
    out += _agreement_section(report.get("human_agreement", {}))
    out += ["", f"![confusion matrices]({chart.name})", "", "## Drafts", ""]
    drafts = report["drafts"]
    out += ["| metric | value |", "|---|---|"]
    for name, value in drafts["checks"].items():
        out.append(f"| check `{name}` | {_num(value)} |")
    for name in ("gesture_mentions_any", "must_not_mention", "language_match",
                 "words_per_reply"):
        out.append(f"| {name} | {_num(drafts.get(name))} |")
    out += ["", "## Cost and latency per item", "", "| metric | value |", "|---|---|"]
    out += [f"| {name} | {_num(value)} |" for name, value in report["cost"].items()]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _agreement_section(against_people: dict[str, Any]) -> list[str]:
    if not against_people:
        return []
    out = ["", "## Against the annotators", "",
           "The engine's kappa with the consensus label beside the annotators' mean pairwise "
           "kappa on the same lines (quadratic for ordinal labels, Cohen's for category). A "
           "target such as \"0.85 × the annotators\" reads off the last column.", "",
           "| label | language | n | annotators | engine | engine ÷ annotators |",
           "|---|---|---|---|---|---|"]
    for label, m in against_people.items():
        rows = [("all", m), *m["by_language"].items()]
        out += [f"| {label} | {language} | {row['n']} | {_num(row['annotators_kappa'])} | "
                f"{_num(row['engine_kappa'])} | {_num(row['ratio'])} |"
                for language, row in rows]
    return out


def _kappa(metrics: dict[str, Any]) -> str:
    """A kappa with its bootstrap interval, e.g. `0.665 [0.58, 0.74]`."""
    interval = metrics.get("quadratic_kappa_ci95")
    spread = f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""
    return _num(metrics.get("quadratic_kappa")) + spread


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _confusion_chart(labels: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(labels)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.2 * max(1, len(names)), 4.2))
    for ax, label in zip(list(getattr(axes, "flat", [axes])), names, strict=False):
        confusion = labels[label]["confusion"]
        order = ORDINAL_LABELS.get(label) or sorted(
            set(confusion) | {p for row in confusion.values() for p in row})
        grid = [[confusion.get(g, {}).get(p, 0) for p in order] for g in order]
        ax.imshow(grid, cmap="Blues")
        ax.set_xticks(range(len(order)), order, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(order)), order, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(label)
        top = max((max(row) for row in grid), default=0)
        for i, row in enumerate(grid):
            for j, count in enumerate(row):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                            color="white" if count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
