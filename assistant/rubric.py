"""The rubric (`../shared/spec/rubric.md`) as code: every rule, once.

An engine *proposes* labels from what it reads in the complaint (the offline model or the
chat model); this module *disposes*: the hard floors, the repeat raise, the caps on recovery
potential and the routing are applied here to whatever an engine proposed, each with its
reason, so both engines give the rubric's answer. The prompt explains the rubric to the model;
this code enforces it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .cues import CueHit, flags_of
from .models import (
    Category,
    Effort,
    Reason,
    Reasons,
    Recall,
    RecoveryPotential,
    Remembered,
    Route,
    Severity,
)

_SEVERITY = list(Severity)
_EFFORT = list(Effort)
_POTENTIAL = list(RecoveryPotential)
# Cue flags that make a complaint critical whatever an engine read: harm done, legal exposure,
# a complaint that is already public, an account taken over or data leaked (breach), a
# missed once-in-a-lifetime event (a wedding, a funeral) and a large sum lost for good.
FLOOR_FLAGS = frozenset({"harm", "legal", "public", "breach", "lifetime", "loss"})


class Proposal(BaseModel):
    """What an engine reads in one complaint, before the rubric's rules: the severity of the
    worst failure reported, the effort of the fair fix, the recovery potential the text shows,
    the category, and the engine's reasons for each."""

    severity: Severity
    effort: Effort
    recovery_potential: RecoveryPotential
    category: Category
    reasons: Reasons = Field(default_factory=Reasons)
    history_used: list[str] = Field(default_factory=list)
    certainty: dict[str, float] = Field(
        default_factory=dict, description="Per ordinal label, how likely it is right (the "
        "offline model's calibrated estimate; 1.0 where a rubric rule set it).")


class Labels(Proposal):
    """A proposal with the rubric applied: the labels a person sees, and the route."""

    route: Route


def apply_rubric(proposal: Proposal, hits: list[CueHit], recall: Recall | None) -> Labels:
    """The rubric's rules on an engine's proposal, in the rubric's order: the worst thing
    reported sets hard floors, a repeated failure raises severity once, and severity and
    earlier failures bound the recovery potential."""
    reasons = proposal.reasons.model_copy(deep=True)
    history_used = list(proposal.history_used)
    flags = flags_of(hits)
    severity = _severity(proposal.severity, hits, flags, recall, reasons, history_used)
    effort = proposal.effort
    if severity is Severity.critical and "harm" in flags and effort is not Effort.high:
        effort = Effort.high
        reasons.effort.append(Reason(source="rule", detail="harm done cannot be fully made good"))
    potential = _potential(proposal.recovery_potential, severity, recall, reasons, history_used)
    final = {"severity": severity, "effort": effort, "recovery_potential": potential}
    certainty = {label: 1.0 if final[label] != getattr(proposal, label) else value
                 for label, value in proposal.certainty.items()}
    return Labels(
        severity=severity, effort=effort, recovery_potential=potential,
        category=proposal.category, reasons=reasons, history_used=history_used,
        route=decide_route(severity, effort, potential, reasons), certainty=certainty,
    )


def as_the_team_labelled(labels: Labels, remembered: Remembered, hits: list[CueHit]) -> Labels:
    """A complaint the team already labelled gets the team's labels: a person read it, after
    the rubric, so no rule raises them again. A hard floor still stands (a complaint showing
    harm stays critical and offers no treat); a reviewer decides that draft by hand."""
    reasons = labels.reasons.model_copy(deep=True)
    flags = flags_of(hits)
    floored = {"severity", "recovery_potential"} if flags & FLOOR_FLAGS else set()
    if "harm" in flags:
        floored.add("effort")
    values = {name: getattr(labels, name) for name in _TEAM_LABELS}
    for name, kind in _TEAM_LABELS.items():
        given = remembered.labels.get(name)
        if given is None or name in floored:
            continue
        values[name] = kind(given)
        getattr(reasons, name).append(Reason(source="examples", detail=(
            f"the team labelled this complaint {given} ({remembered.line}, similarity "
            f"{remembered.similarity:.2f})")))
    reasons.route = []
    route = decide_route(values["severity"], values["effort"], values["recovery_potential"],
                         reasons)
    certainty = {label: 1.0 if label in remembered.labels else value
                 for label, value in labels.certainty.items()}
    return labels.model_copy(update={**values, "reasons": reasons, "route": route,
                                     "certainty": certainty})


_TEAM_LABELS = {"severity": Severity, "effort": Effort, "recovery_potential": RecoveryPotential,
                "category": Category}


def _severity(
    proposed: Severity, hits: list[CueHit], flags: set[str], recall: Recall | None,
    reasons: Reasons, history_used: list[str],
) -> Severity:
    level = _SEVERITY.index(proposed)
    floors = [h for h in hits if set(h.cue.flags) & FLOOR_FLAGS]
    if floors and level < 3:
        level = 3
        reasons.severity.append(Reason(source="rule", detail=(
            f'"{floors[0].phrase}": harm, legal, public, breach, a large sum lost or a missed '
            f"once-in-a-lifetime event → critical (proposed {proposed.value})")))
    if "leaving" in flags and level < 2:
        level = 2
        reasons.severity.append(Reason(source="rule", detail="says they will leave → high"))
    # A repeated failure, said in the text or shown by the history, raises severity one level
    # (once), at most to high.
    failures = recall.facts.earlier_failures if recall else []
    if len(failures) >= 2:
        for item in failures:
            history_used.append(item.id)
            reasons.severity.append(Reason(
                source="history", history_id=item.id,
                detail=f"earlier failure on {item.at.isoformat()}: {item.text[:80]}",
            ))
    repeated = "two or more earlier failures" if len(failures) >= 2 else (
        "the customer says it happened before" if "repeat" in flags else "")
    if repeated and level < 2:
        level += 1
        reasons.severity.append(Reason(
            source="rule", detail=f"{repeated}: a repeated failure raises severity one level"))
    return _SEVERITY[level]


def _potential(
    proposed: RecoveryPotential, severity: Severity, recall: Recall | None, reasons: Reasons,
    history_used: list[str],
) -> RecoveryPotential:
    """The engine reads what the text shows (earlier trouble said, a broken promise); the
    conditions the text cannot show, and the hard lines, are rules."""
    into = reasons.recovery_potential
    level = _POTENTIAL.index(proposed)
    failures = recall.facts.earlier_failures if recall else []
    if failures:
        level -= 1
        history_used.extend(item.id for item in failures if item.id not in history_used)
        into.append(Reason(
            source="history", history_id=failures[0].id,
            detail=f"{len(failures)} earlier failure(s) in the history window: one level down",
        ))
    if severity is Severity.high and level > 1:
        level = 1
        into.append(Reason(source="rule", detail="severity is high → at most medium"))
    if severity is Severity.critical and level > 0:
        level = 0
        into.append(Reason(source="rule", detail="severity is critical → low"))
    return _POTENTIAL[max(0, level)]


def decide_route(
    severity: Severity, effort: Effort, potential: RecoveryPotential, reasons: Reasons
) -> Route:
    if severity is Severity.critical or (severity is Severity.high and effort is Effort.high):
        reasons.route.append(Reason(source="rule", detail=f"severity {severity}, effort {effort}"))
        return Route.escalate
    if effort in {Effort.trivial, Effort.low} and potential in {
            RecoveryPotential.high, RecoveryPotential.medium}:
        reasons.route.append(
            Reason(source="rule", detail=f"effort {effort} and recovery potential {potential}")
        )
        return Route.quick_win
    reasons.route.append(Reason(source="rule", detail="neither a quick win nor an escalation"))
    return Route.standard


def never_softer(reading: Labels, clean: Labels, clean_name: str) -> Labels:
    """Words addressed to the model may have talked a reading down: against `clean` (the
    complaint read without them, or by the offline engine), the higher severity and effort and
    the lower recovery potential are kept, each with the reasons behind it."""
    severity = max(reading, clean, key=lambda r: _SEVERITY.index(r.severity))
    effort = max(reading, clean, key=lambda r: _EFFORT.index(r.effort))
    potential = min(reading, clean, key=lambda r: _POTENTIAL.index(r.recovery_potential))
    reasons = reading.reasons.model_copy(update={
        "severity": severity.reasons.severity, "effort": effort.reasons.effort,
        "recovery_potential": potential.reasons.recovery_potential, "route": []}, deep=True)
    kept = [(name, getattr(clean, name), getattr(reading, name)) for name, chosen in (
        ("severity", severity), ("effort", effort), ("recovery_potential", potential))
        if chosen is clean and getattr(clean, name) != getattr(reading, name)]
    for name, value, said in kept:
        getattr(reasons, name).append(Reason(source="rule", detail=(
            f"the text reads like instructions to the model: kept {clean_name}'s "
            f"{value.value} (the other reading said {said.value})")))
    reasons.route.append(Reason(source="rule", detail=(
        f"labels also read by {clean_name}; " + (
            "its stricter reading kept for " + ", ".join(
                name.replace("_", " ") for name, _, _ in kept) if kept
            else "no label was stricter that way"))))
    route = decide_route(severity.severity, effort.effort, potential.recovery_potential,
                         reasons)
    return reading.model_copy(update={
        "severity": severity.severity, "effort": effort.effort,
        "recovery_potential": potential.recovery_potential, "route": route,
        "reasons": reasons,
        "history_used": list(dict.fromkeys([*reading.history_used, *clean.history_used])),
    })
