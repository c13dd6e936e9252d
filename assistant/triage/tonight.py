"""Tonight's list: the few recoveries worth a leader's evening, by an explicit score.

    score = potential × ease × paradox window × customer weight

- potential: how likely a very good recovery wins this customer over (high 1.0, medium 0.6,
  low 0.2);
- ease: what one evening can fix (effort trivial 1.0, low 0.8, medium 0.4, high 0.1);
- paradox window: the recovery paradox works on real failures that did no harm (severity
  medium 1.0, high 0.8, low 0.5: little to win; critical 0: harm is for a person to decide,
  not for a gesture);
- customer weight: 1 + log(1 + orders) / log(21), capped at 2 (0 orders 1.0, 20 or more 2.0).

Escalations never make the list. One row per customer: their best ticket stands for them
and their other low-rated tickets are listed with it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Effort, RecoveryPotential, Route, Severity
from .outputs import TriageRow

POTENTIAL = {RecoveryPotential.high: 1.0, RecoveryPotential.medium: 0.6,
             RecoveryPotential.low: 0.2}
EASE = {Effort.trivial: 1.0, Effort.low: 0.8, Effort.medium: 0.4, Effort.high: 0.1}
WINDOW = {Severity.medium: 1.0, Severity.high: 0.8, Severity.low: 0.5, Severity.critical: 0.0}


def scored(row: TriageRow) -> TriageRow:
    """The row with its score and the parts that make it."""
    parts = {
        "potential": POTENTIAL[row.recovery_potential],
        "ease": EASE[row.effort],
        "window": WINDOW[row.severity] if row.route is not Route.escalate else 0.0,
        "customer": min(2.0, 1 + math.log1p(row.customer_orders) / math.log(21)),
    }
    score = round(math.prod(parts.values()), 4)
    return row.model_copy(update={"score": score, "score_parts": parts})


@dataclass
class Ranking:
    """Every row's place, kept as ticket ids only (a 10,000-ticket run ranks in a few MB; the
    rows themselves stay in the checkpoint): tonight's list first (the `top` best customers,
    one row each, with their other tickets), then the rest by score; ticket ids settle ties."""

    order: list[str]
    others: dict[str, list[str]]  # a listed ticket's customer's other low-rated tickets

    def placed(self, row: TriageRow, rank: int, theme: int | None = None) -> TriageRow:
        """The row as the outputs show it: scored, ranked, marked if it is on the list, with
        its theme."""
        update: dict[str, object] = {"rank": rank, "theme": theme}
        if row.ticket_id in self.others:
            update |= {"tonight": True, "other_tickets": self.others[row.ticket_id]}
        return scored(row).model_copy(update=update)


def tonight(rows: Iterable[TriageRow], top: int) -> Ranking:
    """Rank the rows (streamed once) for tonight's list."""
    standings = sorted((-(scored(row).score or 0), row.ticket_id,
                         row.customer_id or f"ticket:{row.ticket_id}") for row in rows)
    chosen: dict[str, str] = {}  # customer -> their listed ticket
    others: dict[str, list[str]] = {}
    for negative_score, ticket_id, customer in standings:
        if customer in chosen:
            others.setdefault(customer, []).append(ticket_id)
        elif len(chosen) < top and negative_score < 0:
            chosen[customer] = ticket_id
    listed = set(chosen.values())
    return Ranking(
        order=[*chosen.values(), *(t for _, t, _ in standings if t not in listed)],
        others={ticket_id: others.get(customer, []) for customer, ticket_id in chosen.items()})
