"""The eval report: JSON for tools, Markdown with confusion matrices as PNG for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models import ORDINAL_LABELS
from .lines import LABELS
from .metrics import RESAMPLES


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
