"""What a triage run writes: `triage.jsonl`, `triage.csv`, `themes.json`, `problems.jsonl`,
`report.md` with the themes' bar chart and the severity × effort heatmap; rows ranked by
tonight's score."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..models import (
    Category,
    Classification,
    Effort,
    Recall,
    RecoveryPotential,
    Route,
    Severity,
)
from .exports import RowProblem, Ticket

if TYPE_CHECKING:
    from .themes import Theme


class TriageRow(BaseModel):
    """One selected ticket with its labels and reasons, in `triage.jsonl` / `triage.csv`."""

    rank: int = 0
    ticket_id: str
    customer_id: str | None
    csat_0_10: float | None
    closed_at: str | None
    channel: str | None
    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    language: str
    route: Route
    escalate: bool
    confidence: float
    customer_orders: int
    reasons: dict[str, list[str]]
    history_used: list[str]
    draft_id: str | None
    engine: str
    fallback_reason: str | None
    text: str
    score: float | None = Field(None, description="What one evening buys (`tonight.py`).")
    score_parts: dict[str, float] = Field(default_factory=dict)
    tonight: bool = Field(False, description="On tonight's list.")
    other_tickets: list[str] = Field(
        default_factory=list, description="The customer's other low-rated tickets in this run.")
    theme: int | None = Field(None, description="Its theme in `themes.json`, if it has one.")


def triage_row(
    ticket: Ticket, labels: Classification, recall: Recall | None, draft_id: str | None
) -> TriageRow:
    reasons = {name: [r.detail for r in getattr(labels.reasons, name)]
               for name in ("severity", "effort", "recovery_potential", "category", "route")}
    return TriageRow(
        ticket_id=ticket.id, customer_id=ticket.customer_id, csat_0_10=ticket.csat,
        closed_at=ticket.closed_at, channel=ticket.channel, severity=labels.severity,
        effort=labels.effort, recovery_potential=labels.recovery_potential,
        category=labels.category, language=labels.language, route=labels.route,
        escalate=labels.route == "escalate", confidence=labels.confidence,
        customer_orders=recall.facts.order_count if recall else 0, reasons=reasons,
        history_used=labels.history_used,
        draft_id=draft_id, engine=labels.engine, fallback_reason=labels.fallback_reason,
        text=ticket.text,
    )


@dataclass
class _Tally:
    """What the report says of all rows, gathered while they stream to the files."""

    grid: Counter[tuple[Severity, Effort]] = field(default_factory=Counter)
    routes: Counter[Route] = field(default_factory=Counter)
    categories: Counter[Category] = field(default_factory=Counter)
    listed: list[TriageRow] = field(default_factory=list)
    quick_wins: list[str] = field(default_factory=list)  # the report's lines
    escalations: list[str] = field(default_factory=list)

    def add(self, row: TriageRow) -> None:
        self.grid[(row.severity, row.effort)] += 1
        self.routes[row.route] += 1
        self.categories[row.category] += 1
        if row.tonight:
            self.listed.append(row)
        if row.route == Route.quick_win:
            self.quick_wins.append(
                f"| {row.rank} | {row.ticket_id} | {row.customer_id or ''} | {row.severity} | "
                f"{row.effort} | {row.category} | {row.draft_id or 'no draft language'} | "
                f"{_snippet(row.text)} |")
        if row.escalate:
            self.escalations.append(f"- {row.ticket_id} ({row.severity}, {row.category}): "
                                    f"{'; '.join(row.reasons['severity'][:2])}")


def write_outputs(rows: Iterable[TriageRow], themes: list[Theme], problems: list[RowProblem],
                  out: Path, csat_below: float) -> Counter[Route]:
    """The run's files, from rows streamed once in rank order (never all held at once);
    returns how many rows took each route."""
    tally = _Tally()
    columns = [name for name in TriageRow.model_fields if name != "reasons"] + ["reasons"]
    with (out / "triage.jsonl").open("w", encoding="utf-8") as lines, \
            (out / "triage.csv").open("w", encoding="utf-8", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            tally.add(row)
            lines.write(row.model_dump_json() + "\n")
            data = row.model_dump()
            data["reasons"] = "; ".join(f"{k}: {' | '.join(v)}" for k, v in row.reasons.items())
            data["history_used"] = " ".join(row.history_used)
            data["other_tickets"] = " ".join(row.other_tickets)
            data["score_parts"] = " × ".join(f"{k} {v:.2f}" for k, v in row.score_parts.items())
            writer.writerow({name: _inert(value) for name, value in data.items()})
    with (out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(problem.model_dump_json() + "\n")
    (out / "themes.json").write_text("[" + ",\n".join(t.model_dump_json() for t in themes)
                                     + "]\n", encoding="utf-8")
    _heatmap(tally.grid, out / "severity-effort.png")
    _theme_bars(themes, out / "themes.png")
    (out / "report.md").write_text(_report(tally, themes, problems, csat_below),
                                   encoding="utf-8")
    return tally.routes


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's
    advice for CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _report(tally: _Tally, themes: list[Theme], problems: list[RowProblem],
            csat_below: float) -> str:
    severity, effort = list(Severity), list(Effort)
    routes = tally.routes
    out = [f"# Triage: {routes.total()} closed tickets rated below {csat_below:g}/10", "",
           *_systemic_section(themes), *_tonight_section(tally.listed),
           *_themes_section(themes),
           f"Quick wins **{routes[Route.quick_win]}**, escalations **{routes[Route.escalate]}**, "
           f"standard {routes[Route.standard]}. Rows not usable: {len(problems)} "
           "(see `problems.jsonl`).", "", "## Severity × effort", "",
           "| severity \\ effort | " + " | ".join(effort) + " |",
           "|---|" + "---|" * len(effort)]
    for level in reversed(severity):
        out.append(f"| {level} | " + " | ".join(str(tally.grid[(level, e)]) for e in effort)
                   + " |")
    out += ["", "![severity × effort](severity-effort.png)", "", "## By category", "",
            "| category | tickets |", "|---|---|"]
    out += [f"| {name} | {count} |" for name, count in tally.categories.most_common()]
    out += ["", "## Quick wins, in order", "",
            "| rank | ticket | customer | severity | effort | category | draft | complaint |",
            "|---|---|---|---|---|---|---|---|", *tally.quick_wins]
    if tally.escalations:
        out += ["", "## Escalations", "", *tally.escalations]
    return "\n".join(out) + "\n"


def _tonight_section(listed: list[TriageRow]) -> list[str]:
    out = [f"## Tonight's list ({len(listed)})", "",
           "Score = potential × ease × paradox window × customer weight (README, Tonight's "
           "list).", "",
           "| # | customer | ticket | score (parts) | severity / effort / potential | draft | "
           "other low tickets | complaint |", "|---|---|---|---|---|---|---|---|"]
    for row in listed:
        parts = " × ".join(f"{v:.2f}" for v in row.score_parts.values())
        out.append(f"| {row.rank} | {row.customer_id or ''} | {row.ticket_id} | "
                   f"{row.score:.2f} ({parts}) | {row.severity} / {row.effort} / "
                   f"{row.recovery_potential} | {row.draft_id or '-'} | "
                   f"{', '.join(row.other_tickets) or '-'} | {_snippet(row.text)} |")
    return [*out, ""]


def _systemic_section(themes: list[Theme]) -> list[str]:
    systemic = [t for t in themes if t.systemic]
    if not systemic:
        return []
    out = [f"## Fix once, for many ({len(systemic)})", "",
           "Themes many customers share: one decision (a policy, a bug, an outage) answers "
           "all of them, before any single recovery.", ""]
    out += [f"- **{t.name}**: {t.count} tickets from {t.customers} customers "
            f"({t.share:.0%} of the run){_change(t)}. E.g. \"{_snippet(t.examples[0].text)}\""
            for t in systemic]
    return [*out, ""]


def _themes_section(themes: list[Theme], shown: int = 12) -> list[str]:
    if not themes:
        return ["## Themes", "", "No theme: no complaint came from five or more tickets.", ""]
    top = max(t.count for t in themes)
    out = [f"## Themes ({len(themes)})", "", "![themes](themes.png)", "",
           "| # | theme | tickets | | share | quick wins | since last run | e.g. |",
           "|---|---|---|---|---|---|---|---|"]
    for t in themes[:shown]:
        bar = "█" * max(1, round(20 * t.count / top))
        flag = " (systemic)" if t.systemic else ""
        out.append(f"| {t.id} | {t.name}{flag} | {t.count} | {bar} | {t.share:.0%} | "
                   f"{t.quick_win_share:.0%} | {_change(t).strip(' ,') or 'new'} | "
                   f"{' / '.join(_snippet(e.text, 60) for e in t.examples)} |")
    if len(themes) > shown:
        out.append(f"\n{len(themes) - shown} smaller themes in `themes.json`.")
    return [*out, ""]


def _change(theme: Theme) -> str:
    if theme.change is None:
        return ""
    return f", {theme.change:+d} since run {theme.previous_run}"


def _snippet(text: str, limit: int = 90) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _heatmap(grid: Counter[tuple[Severity, Effort]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    severity, effort = list(Severity), list(Effort)
    cells = [[grid[(s, e)] for e in effort] for s in reversed(severity)]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.imshow(cells, cmap="OrRd")
    ax.set_xticks(range(len(effort)), effort)
    ax.set_yticks(range(len(severity)), list(reversed(severity)))
    ax.set_xlabel("effort to fix")
    ax.set_ylabel("severity")
    ax.set_title("Low-rated tickets: severity × effort")
    top = max((max(row) for row in cells), default=0)
    for i, row in enumerate(cells):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _theme_bars(themes: list[Theme], path: Path, shown: int = 12) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = list(reversed(themes[:shown]))
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(3, len(top)) + 1))
    ax.barh([_snippet(t.name, 40) for t in top], [t.count for t in top],
            color=["#c0392b" if t.systemic else "#e59866" for t in top])
    ax.set_xlabel("low-rated tickets")
    ax.set_title("Themes (red: systemic, one fix for many)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
