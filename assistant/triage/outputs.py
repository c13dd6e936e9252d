"""What a triage run writes: `triage.jsonl`, `triage.csv`, `problems.jsonl`, `report.md` and
the severity × effort heatmap, rows ranked quick wins first."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

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


def rank(rows: list[TriageRow]) -> list[TriageRow]:
    """Quick wins first; then severity high to low, effort low to high, customer value high to
    low; the ticket id settles ties, so the order never depends on how the run went."""
    severity, effort = list(Severity), list(Effort)
    ordered = sorted(rows, key=lambda r: (
        r.route is not Route.quick_win, -severity.index(r.severity), effort.index(r.effort),
        -r.customer_orders, r.ticket_id))
    return [row.model_copy(update={"rank": index}) for index, row in enumerate(ordered, 1)]


def write_outputs(rows: list[TriageRow], problems: list[RowProblem], out: Path, csat_below: float
                  ) -> None:
    with (out / "triage.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")
    columns = [name for name in TriageRow.model_fields if name != "reasons"] + ["reasons"]
    with (out / "triage.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            data = row.model_dump()
            data["reasons"] = "; ".join(f"{k}: {' | '.join(v)}" for k, v in row.reasons.items())
            data["history_used"] = " ".join(row.history_used)
            writer.writerow({name: _inert(value) for name, value in data.items()})
    with (out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(problem.model_dump_json() + "\n")
    _heatmap(rows, out / "severity-effort.png")
    (out / "report.md").write_text(_report(rows, problems, csat_below), encoding="utf-8")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's
    advice for CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _report(rows: list[TriageRow], problems: list[RowProblem], csat_below: float) -> str:
    severity, effort = list(Severity), list(Effort)
    grid = Counter((r.severity, r.effort) for r in rows)
    routes = Counter(r.route for r in rows)
    out = [f"# Triage: {len(rows)} closed tickets rated below {csat_below:g}/10", "",
           f"Quick wins **{routes[Route.quick_win]}**, escalations **{routes[Route.escalate]}**, "
           f"standard {routes[Route.standard]}. Rows not usable: {len(problems)} "
           "(see `problems.jsonl`).", "", "## Severity × effort", "",
           "| severity \\ effort | " + " | ".join(effort) + " |",
           "|---|" + "---|" * len(effort)]
    for level in reversed(severity):
        out.append(f"| {level} | " + " | ".join(str(grid[(level, e)]) for e in effort) + " |")
    out += ["", "![severity × effort](severity-effort.png)", "", "## By category", "",
            "| category | tickets |", "|---|---|"]
    out += [f"| {name} | {count} |"
            for name, count in Counter(r.category for r in rows).most_common()]
    out += ["", "## Quick wins, in order", "",
            "| rank | ticket | customer | severity | effort | category | draft | complaint |",
            "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.route == "quick_win":
            text = row.text.replace("|", "/").replace("\n", " ")
            text = text if len(text) <= 90 else text[:89] + "…"
            out.append(f"| {row.rank} | {row.ticket_id} | {row.customer_id or ''} | "
                       f"{row.severity} | {row.effort} | {row.category} | "
                       f"{row.draft_id or 'no draft language'} | {text} |")
    escalations = [r for r in rows if r.escalate]
    if escalations:
        out += ["", "## Escalations", ""]
        out += [f"- {r.ticket_id} ({r.severity}, {r.category}): "
                f"{'; '.join(r.reasons['severity'][:2])}" for r in escalations]
    return "\n".join(out) + "\n"


def _heatmap(rows: list[TriageRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    severity, effort = list(Severity), list(Effort)
    grid = Counter((r.severity, r.effort) for r in rows)
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
