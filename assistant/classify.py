"""The offline engine's labels: a model trained on our labelled examples (ridge over the e5
vector, the phrase cues and the text's shape, mixed with the nearest examples' vote) proposes;
the rubric (`rubric.py`) disposes. Deterministic, and every label carries its reasons."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cues import CueHit, find_cues, flags_of
from .embeddings import QueryPassageEmbeddings
from .knowledge import Example, Knowledge
from .levels import FORMAT as LEVELS_FORMAT
from .levels import NEIGHBOURS, LevelModel, Signals, TextShape, neighbour_weights
from .models import (
    ORDINAL_LABELS,
    Category,
    Effort,
    Reason,
    Reasons,
    RecoveryPotential,
    Remembered,
    Severity,
)
from .rubric import Proposal
from .understand import Reading

ENGINE = "offline"
MODEL = "rules+ridge+knn-e5"
_SEVERITY = ORDINAL_LABELS["severity"]
_EFFORT = ORDINAL_LABELS["effort"]
_POTENTIAL = ORDINAL_LABELS["recovery_potential"]


@dataclass(frozen=True)
class Neighbours:
    """The nearest labelled examples and the label distributions they vote for."""

    examples: list[tuple[Example, float]]
    votes: dict[str, dict[str, float]]

    def top(self, label: str) -> tuple[str, float] | None:
        dist = self.votes.get(label)
        if not dist:
            return None
        best = max(dist, key=lambda key: dist[key])
        return best, dist[best]

    def expected_level(self, label: str, order: list[str]) -> float | None:
        dist = self.votes.get(label)
        if not dist:
            return None
        return sum(order.index(value) * p for value, p in dist.items())


# A team's line this close to a new complaint is the same complaint (another order number, a
# typo, a closing sentence): the team's labels stand (`rubric.as_the_team_labelled`). Chosen on
# our examples: of their 258,840 pairs of different complaints 11 reach it (10 of them labelled
# alike), while 95-99 % of their variants with other numbers, a typo or one more sentence do.
SAME_COMPLAINT = 0.96

# Embedded example sets by content and model, and the models fit on them (with the cues that
# made their features), shared by every Assistant in the process.
_EMBEDDED: dict[str, np.ndarray] = {}
_FITTED: dict[str, LevelModel] = {}
# The shipped model: our examples embedded and the level model fit on them, built by
# `recovery build-model` from `knowledge/`; used when its keys match what is loaded (a test
# fails when `knowledge/` changed since), so a fresh machine neither embeds nor fits.
SHIPPED = Path(__file__).parent / "model" / "offline.npz"


@functools.cache
def _shipped() -> dict[str, np.ndarray]:
    if not SHIPPED.is_file():
        return {}
    with np.load(SHIPPED, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _from_shipped(kind: str, key: str) -> dict[str, np.ndarray] | None:
    shipped = _shipped()
    if not shipped or str(shipped[f"{kind}_key"]) != key:
        return None
    prefix = f"{kind}."
    return {name[len(prefix):]: value for name, value in shipped.items()
            if name.startswith(prefix)}


class ExampleIndex:
    """Our own labelled examples, embedded once (cached on disk by content and model)."""

    def __init__(
        self, examples: list[Example], embeddings: QueryPassageEmbeddings, cache_dir: Path
    ) -> None:
        self.examples = examples
        self.team_rows = np.zeros(0, dtype=int)  # the rows a tenant's team labelled
        self.team_templates: dict[str, int] = {}  # their words, numbers masked -> row
        self.key = key = examples_key(embeddings.name, examples)
        cache = cache_dir / f"examples-{key}.npy"
        shipped = _from_shipped("index", key) if key not in _EMBEDDED else None
        if key in _EMBEDDED:
            self.matrix = _EMBEDDED[key]
        elif shipped is not None:
            self.matrix = shipped["matrix"]
        elif cache.is_file():
            self.matrix = np.load(cache)
        else:
            self.matrix = embeddings.embed_queries([e.text for e in examples])
            cache_dir.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: instances sharing the folder never read half a file,
            # and a failed write leaves nothing behind.
            with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".tmp", delete=False) as out:
                try:
                    np.save(out, self.matrix)
                except BaseException:
                    out.close()
                    os.unlink(out.name)
                    raise
            os.replace(out.name, cache)
        _EMBEDDED[key] = self.matrix

    def extended(self, learned: list[Example], embeddings: QueryPassageEmbeddings
                 ) -> ExampleIndex:
        """This index with a tenant's learned lines after our examples (only those are
        embedded now)."""
        index = copy.copy(self)
        index.examples = [*self.examples, *learned]
        index.key = hashlib.sha256("\n".join([self.key, *(e.text for e in learned)]).encode()
                                   ).hexdigest()[:16]
        if index.key not in _EMBEDDED:
            _EMBEDDED[index.key] = np.vstack(
                [self.matrix, embeddings.embed_queries([e.text for e in learned])])
        index.matrix = _EMBEDDED[index.key]
        index.team_rows = np.arange(len(self.examples), len(index.examples))
        index.team_templates = {_template(e.text): row for row, e in enumerate(
            index.examples) if row >= len(self.examples)}
        return index

    def same_complaint(self, vector: np.ndarray, text: str) -> Remembered | None:
        """The team's labelled line this complaint repeats, if one is that close, or the same
        words with other numbers and codes ("Order 4471 …", "Order 95120 …", which e5 puts
        at 0.93 when the text is short)."""
        if not len(self.team_rows):
            return None
        same_words = self.team_templates.get(_template(text))
        row = same_words if same_words is not None else int(
            self.team_rows[int(np.argmax(self.matrix[self.team_rows] @ vector))])
        similarity = float(self.matrix[row] @ vector)
        if same_words is None and similarity < SAME_COMPLAINT:
            return None
        line = self.examples[row]
        return Remembered(line=line.id, similarity=round(similarity, 3), labels=line.labels)

    def neighbours(self, vector: np.ndarray, k: int = NEIGHBOURS) -> Neighbours:
        if not self.examples:
            return Neighbours([], {})
        sims = self.matrix @ vector
        order = np.argsort(-sims)[:k]
        top = [(self.examples[i], float(sims[i])) for i in order]
        votes: dict[str, dict[str, float]] = {}
        for (example, _), weight in zip(top, neighbour_weights(sims[order]), strict=True):
            for label, value in example.labels.items():
                bucket = votes.setdefault(label, {})
                bucket[value] = bucket.get(value, 0.0) + float(weight)
        return Neighbours(top, votes)


def _template(text: str) -> str:
    """A complaint's words with its numbers and codes masked, case and spacing aside."""
    words = (re.sub(r"\w*\d\w*", "#", word) for word in text.casefold().split())
    return " ".join(words).strip(" .!?")


def example_signals(knowledge: Knowledge, examples: list[Example]) -> list[Signals]:
    """The model's features of each labelled example (written as complaints are read)."""
    return [signals(e.text, find_cues(e.text, e.language, knowledge)) for e in examples]


def signals(text: str, hits: list[CueHit]) -> Signals:
    severities = [_SEVERITY.index(h.cue.severity) for h in hits if h.cue.severity]
    efforts = [_EFFORT.index(h.cue.effort) for h in hits if h.cue.effort]
    # A flag-only cue sets a floor of the rubric and is no feature of the model.
    return Signals(severity=max(severities, default=None), effort=max(efforts, default=None),
                   flags=frozenset(flag for hit in hits if not hit.cue.flags_only
                                   for flag in hit.cue.flags),
                   shape=TextShape.of(text))


def _rounded(order: list[str], value: float) -> int:
    return max(0, min(len(order) - 1, int(math.floor(value + 0.5))))


def examples_key(embedder: str, examples: list[Example]) -> str:
    """What the example vectors depend on: the embedder and the texts."""
    return hashlib.sha256("\n".join([embedder, *(e.text for e in examples)]).encode()
                          ).hexdigest()[:16]


def fit_key(knowledge: Knowledge, index_key: str, examples: list[Example]) -> str:
    """What the level model depends on: its code's format, the embedded examples, their
    labels and the cues that make its features."""
    labels = [(e.id, e.language, e.labels) for e in examples]
    cues = {lang: [c.model_dump(mode="json") for c in found]
            for lang, found in sorted(knowledge.cues.items())}
    return hashlib.sha256(json.dumps([LEVELS_FORMAT, index_key, labels, cues],
                                     sort_keys=True).encode()).hexdigest()[:16]


class OfflineClassifier:
    """Proposes labels from what the trained model, the nearest examples and the cues read."""

    model = MODEL

    def __init__(self, knowledge: Knowledge, index: ExampleIndex) -> None:
        self.knowledge = knowledge
        self.index = index
        self.key = key = fit_key(knowledge, index.key, index.examples)
        if key not in _FITTED:
            shipped = _from_shipped("levels", key)
            if shipped is not None:
                _FITTED[key] = LevelModel.restored(index.matrix, shipped)
            else:
                seen = example_signals(knowledge, index.examples)
                _FITTED[key] = LevelModel(index.matrix, seen,
                                          [e.labels for e in index.examples],
                                          [e.id for e in index.examples])
        self.levels = _FITTED[key]

    def save(self, path: Path) -> None:
        """This model as the shipped artifact (`recovery build-model`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"index_key": np.array(self.index.key), "levels_key": np.array(self.key),
                  "index.matrix": self.index.matrix.astype(np.float32)}
        arrays |= {f"levels.{name}": value for name, value in self.levels.state().items()}
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    def propose(self, reading: Reading, vector: np.ndarray) -> tuple[Proposal, float]:
        """The engine's proposal and its confidence: how much the two kinds of evidence (cues,
        nearest examples) agree on its severity, effort and category, 0..1."""
        reasons = Reasons()
        hits = reading.hits
        neighbours = self.index.neighbours(vector)
        predicted = (self.levels.predict(vector, signals(reading.text, hits))
                     if self.levels.weights else {})
        category = self._category(hits, neighbours, reasons)
        severity = self._level("severity", _SEVERITY, predicted, neighbours, reasons.severity)
        for hit in hits:
            if hit.cue.severity:
                reasons.severity.append(Reason(
                    source="text", detail=f'"{hit.phrase}" → {hit.cue.severity.value}'))
        effort = self._level("effort", _EFFORT, predicted, neighbours, reasons.effort)
        if "recovery_potential" in predicted:
            potential = self._level("recovery_potential", _POTENTIAL, predicted, neighbours,
                                      reasons.recovery_potential)
        else:
            potential = _potential_from_cues(flags_of(hits), reasons.recovery_potential)
        certainty = {label: round(self.levels.certainty(label, value), 3)
                     for label, value in predicted.items()}
        proposal = Proposal(
            certainty=certainty,
            severity=Severity(_SEVERITY[severity]), effort=Effort(_EFFORT[effort]),
            recovery_potential=RecoveryPotential(_POTENTIAL[max(0, potential)]),
            category=category, reasons=reasons)
        return proposal, _confidence(hits, neighbours, proposal)

    def _category(self, hits: list[CueHit], nb: Neighbours, reasons: Reasons) -> Category:
        scores: dict[str, float] = {}
        for hit in hits:
            if hit.cue.category:
                weight = 2.0 if "harm" in hit.cue.flags else 1.0
                scores[hit.cue.category] = scores.get(hit.cue.category, 0.0) + weight
                reasons.category.append(
                    Reason(source="text", detail=f'"{hit.phrase}" → {hit.cue.category.value}')
                )
        for value, p in nb.votes.get("category", {}).items():
            scores[value] = scores.get(value, 0.0) + 1.5 * p
        if not scores:
            reasons.category.append(Reason(source="rule", detail="no cue matched → other"))
            return Category.other
        best = max(scores, key=lambda key: scores[key])
        _explain_neighbours(nb, "category", reasons.category)
        return Category(best)

    def _level(self, label: str, order: list[str], predicted: dict[str, float],
                 nb: Neighbours, into: list[Reason]) -> int:
        """The trained model's level (the nearest examples' vote without one)."""
        if label in predicted:
            level = self.levels.level(label, predicted[label])
            into.append(Reason(source="examples", detail=(
                f"model trained on {self.levels.trained_on} labelled examples: "
                f"{predicted[label]:.2f} → {order[level]}")))
            _explain_neighbours(nb, label, into)
            return level
        expected = nb.expected_level(label, order)
        if expected is None:
            into.append(Reason(source="rule", detail=f"no evidence → {order[1]}"))
            return 1
        _explain_neighbours(nb, label, into)
        return _rounded(order, expected)


def _potential_from_cues(flags: set[str], into: list[Reason]) -> int:
    """Without a trained model: high, one level down per condition the cues show."""
    level = 2
    if "repeat" in flags:
        level -= 1
        into.append(Reason(source="text", detail="says this happened before"))
    if "negligence" in flags:
        level -= 1
        into.append(Reason(source="text", detail="believes it was preventable"))
    return level


def _explain_neighbours(nb: Neighbours, label: str, into: list[Reason]) -> None:
    top = nb.top(label)
    if top is None:
        return
    value, share = top
    near = ", ".join(f"{ex.id} ({sim:.2f})" for ex, sim in nb.examples[:3])
    into.append(Reason(
        source="examples", detail=f"nearest labelled examples ({near}) vote {value} ({share:.0%})"
    ))


def _confidence(hits: list[CueHit], nb: Neighbours, proposal: Proposal) -> float:
    parts = []
    for label, chosen, cue_value in (
        ("severity", proposal.severity.value, [h.cue.severity for h in hits]),
        ("effort", proposal.effort.value, [h.cue.effort for h in hits]),
        ("category", proposal.category.value, [h.cue.category for h in hits]),
    ):
        knn_share = nb.votes.get(label, {}).get(chosen, 0.0)
        cue_support = 1.0 if chosen in cue_value else 0.0
        parts.append(0.6 * knn_share + 0.4 * cue_support)
    return round(sum(parts) / len(parts), 3)
