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


def tonight(rows: list[TriageRow], top: int) -> list[TriageRow]:
    """Every row scored and ranked: tonight's list first (the `top` best customers, one row
    each, with their other tickets), then the rest by score; ticket ids settle ties."""
    ranked = sorted((scored(row) for row in rows), key=lambda r: (-(r.score or 0), r.ticket_id))
    chosen: dict[str, TriageRow] = {}
    others: dict[str, list[str]] = {}
    for row in ranked:
        customer = row.customer_id or f"ticket:{row.ticket_id}"
        if customer in chosen:
            others.setdefault(customer, []).append(row.ticket_id)
        elif len(chosen) < top and (row.score or 0) > 0:
            chosen[customer] = row
    listed = {row.ticket_id for row in chosen.values()}
    first = [row.model_copy(update={"tonight": True, "other_tickets": others.get(
        row.customer_id or f"ticket:{row.ticket_id}", [])}) for row in chosen.values()]
    rest = [row for row in ranked if row.ticket_id not in listed]
    return [row.model_copy(update={"rank": rank})
            for rank, row in enumerate([*first, *rest], start=1)]
