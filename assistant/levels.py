"""A small trained model for the ordinal labels, fit on our labelled examples
(`knowledge/examples.jsonl`) when the service starts, in about a second: ridge regression
from the e5 vector, the phrase cues and the text's shape to each label's level (low = 0 … ),
mixed with the level the nearest examples vote for.

Three things are chosen by 5-fold cross-validation on those same examples, never on an
evaluation set: the regularisation, the mix of ridge and neighbours, and the cut points
between levels. Ridge pulls its answers towards the middle level, so cutting at .5 would
rarely say `low` or `critical`; the cut points are set where the out-of-fold predictions
agree best (quadratic weighted kappa) with the examples' labels."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .models import ORDINAL_LABELS

# Bumped whenever fitting or the state changes: the shipped model's key includes it, so an
# artifact from older code is never loaded (and the test of it says to rebuild).
FORMAT = 2
FLAGS = ("repeat", "leaving", "negligence", "public", "legal", "harm")
_LAMBDAS = (0.03, 0.1, 0.3, 1.0, 3.0)
_MIXES = (1.0, 0.8, 0.6, 0.4)  # the ridge's share; the rest is the neighbours' vote
_FOLDS = 5
_CUT_STEPS = 60
NEIGHBOURS = 7
_TEMPERATURE = 0.04  # softmax over cosine similarities of the nearest examples
_MONEY = re.compile(
    r"[$€£]\s?\d|\d[\d.,]*\s?(?:kr|kroner|kronor|dkk|sek|nok|eur|euro|usd|dollars?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TextShape:
    """Length, a question, an amount of money: long accounts and amounts go with bigger
    failures, a bare question with a trivial fix."""

    words: int
    question: bool
    money: bool

    @classmethod
    def of(cls, text: str) -> TextShape:
        return cls(words=len(text.split()), question="?" in text,
                   money=bool(_MONEY.search(text)))


@dataclass(frozen=True)
class Signals:
    """What the phrase cues and the shape of one text say, as the model's extra features."""

    severity: int | None  # the worst cue's level
    effort: int | None
    flags: frozenset[str]
    shape: TextShape

    def features(self) -> np.ndarray:
        one_hot = np.zeros(len(ORDINAL_LABELS["severity"]) + len(ORDINAL_LABELS["effort"]))
        if self.severity is not None:
            one_hot[self.severity] = 1.0
        if self.effort is not None:
            one_hot[len(ORDINAL_LABELS["severity"]) + self.effort] = 1.0
        shape = [math.log1p(self.shape.words) / 5, float(self.shape.question),
                 float(self.shape.money)]
        return np.concatenate([one_hot, [float(flag in self.flags) for flag in FLAGS], shape])


def neighbour_weights(similarities: np.ndarray) -> np.ndarray:
    """Vote weights of the nearest examples (sorted, best first): a softmax that lets a much
    closer example outvote several distant ones."""
    weights: np.ndarray = np.exp((similarities - similarities[0]) / _TEMPERATURE)
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def _neighbour_levels(similarities: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each query row of a similarity matrix, the level its nearest examples vote for."""
    nearest = np.argsort(-similarities, axis=1)[:, :NEIGHBOURS]
    return np.array([float(neighbour_weights(row[idx]) @ y[idx])
                     for row, idx in zip(similarities, nearest, strict=True)])


def _design(vectors: np.ndarray, signals: Sequence[Signals]) -> np.ndarray:
    extra = np.array([s.features() for s in signals]).reshape(len(signals), -1)
    return np.hstack([vectors, extra, np.ones((len(signals), 1))])


def _fit(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    penalty = lam * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    solved: np.ndarray = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return solved


def _folds(keys: Sequence[str]) -> list[np.ndarray]:
    """Folds by a hash of each example's key, not its line: reordering the examples file
    must not change the model (by line, a reorder moved dev kappa by up to .03)."""
    assigned = np.array([int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % _FOLDS
                         for key in keys])
    return [assigned == fold for fold in range(_FOLDS)]


def _out_of_fold(x: np.ndarray, y: np.ndarray, lam: float,
                 folds: list[np.ndarray]) -> np.ndarray:
    """Each example's ridge prediction by a model that did not see it."""
    predicted = np.zeros(len(y))
    for test in folds:
        predicted[test] = x[test] @ _fit(x[~test], y[~test], lam)
    return predicted


def _neighbours_out_of_fold(vectors: np.ndarray, y: np.ndarray,
                            folds: list[np.ndarray]) -> np.ndarray:
    """Each example's neighbour vote among the examples outside its fold."""
    voted = np.zeros(len(y))
    for test in folds:
        voted[test] = _neighbour_levels(vectors[test] @ vectors[~test].T, y[~test])
    return voted


def kappa(gold: np.ndarray, predicted: np.ndarray, levels: int, quadratic: bool = True) -> float:
    """Cohen's kappa of two arrays of levels 0 … levels-1, quadratically weighted for ordinal
    labels, unweighted for a category (1.0 when both are one constant)."""
    observed = np.zeros((levels, levels))
    np.add.at(observed, (gold, predicted), 1.0)
    grid = np.arange(levels)
    weights = ((grid[:, None] - grid[None, :]) ** 2 / max(1, levels - 1) ** 2 if quadratic
               else (grid[:, None] != grid[None, :]).astype(float))
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    disagreement = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / disagreement if disagreement else 1.0


def _cut_points(predicted: np.ndarray, y: np.ndarray, levels: int) -> list[float]:
    """Cut points between levels that maximise kappa on out-of-fold predictions, by
    coordinate ascent from the plain rounding cuts (.5, 1.5, …)."""
    cuts = [i + 0.5 for i in range(levels - 1)]
    best = kappa(y, np.searchsorted(cuts, predicted), levels)
    for _ in range(3):
        for i in range(levels - 1):
            low = cuts[i - 1] if i else -1.0
            high = cuts[i + 1] if i < levels - 2 else float(levels)
            for candidate in np.linspace(low + 0.01, high - 0.01, _CUT_STEPS):
                trial = [*cuts[:i], float(candidate), *cuts[i + 1:]]
                score = kappa(y, np.searchsorted(trial, predicted), levels)
                if score > best:
                    best, cuts = score, trial
    return cuts


class LevelModel:
    """Per ordinal label a ridge model mixed with the neighbours' vote; `predict` gives
    fractional levels, `level` the calibrated whole level."""

    def __init__(self, vectors: np.ndarray, signals: Sequence[Signals],
                 labels: Sequence[dict[str, str]], keys: Sequence[str]) -> None:
        """`keys` name the examples (their ids) and decide their cross-validation folds."""
        self.vectors = vectors
        self.weights: dict[str, np.ndarray] = {}
        self.lambdas: dict[str, float] = {}
        self.mixes: dict[str, float] = {}
        self.cuts: dict[str, list[float]] = {}
        self.known: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # example rows, their levels
        self.calibration: dict[str, tuple[float, float]] = {}
        self.trained_on = len(labels)
        if len(labels) < 2 * _FOLDS:
            return
        design = _design(vectors, signals)
        for label, order in ORDINAL_LABELS.items():
            rows = np.array([i for i, given in enumerate(labels) if label in given])
            x = design[rows]
            y = np.array([order.index(labels[i][label]) for i in rows])
            folds = _folds([keys[i] for i in rows])
            by_lambda = {lam: _out_of_fold(x, y, lam, folds) for lam in _LAMBDAS}
            lam = min(by_lambda, key=lambda key: float(((by_lambda[key] - y) ** 2).sum()))
            voted = _neighbours_out_of_fold(vectors[rows], y, folds)
            fits = {}
            for mix in _MIXES:
                mixed = mix * by_lambda[lam] + (1 - mix) * voted
                cuts = _cut_points(mixed, y, len(order))
                fits[mix] = (kappa(y, np.searchsorted(cuts, mixed), len(order)), cuts)
            mix = max(fits, key=lambda key: fits[key][0])
            self.lambdas[label], self.mixes[label], self.cuts[label] = lam, mix, fits[mix][1]
            mixed = mix * by_lambda[lam] + (1 - mix) * voted
            self.calibration[label] = _calibration(
                _margin(mixed, self.cuts[label]),
                np.searchsorted(self.cuts[label], mixed) == y)
            self.weights[label] = _fit(x, y.astype(float), lam)
            self.known[label] = (rows, y.astype(float))

    def state(self) -> dict[str, np.ndarray]:
        """The fitted model as named arrays (`np.savez`), for the shipped artifact."""
        arrays = {"trained_on": np.array(self.trained_on)}
        for label, weights in self.weights.items():
            rows, y = self.known[label]
            arrays |= {f"{label}.weights": weights, f"{label}.cuts": np.array(self.cuts[label]),
                       f"{label}.rows": rows, f"{label}.y": y,
                       f"{label}.lambda": np.array(self.lambdas[label]),
                       f"{label}.mix": np.array(self.mixes[label]),
                       f"{label}.calibration": np.array(self.calibration[label])}
        return arrays

    @classmethod
    def restored(cls, vectors: np.ndarray, state: Mapping[str, np.ndarray]) -> LevelModel:
        """The model `state` holds, over the example vectors it was fit on: no refit."""
        model = cls.__new__(cls)
        model.vectors = vectors
        model.trained_on = int(state["trained_on"])
        labels = [label for label in ORDINAL_LABELS if f"{label}.weights" in state]
        model.weights = {label: state[f"{label}.weights"] for label in labels}
        model.cuts = {label: [float(c) for c in state[f"{label}.cuts"]] for label in labels}
        model.known = {label: (state[f"{label}.rows"], state[f"{label}.y"]) for label in labels}
        model.lambdas = {label: float(state[f"{label}.lambda"]) for label in labels}
        model.mixes = {label: float(state[f"{label}.mix"]) for label in labels}
        model.calibration = {label: (float(state[f"{label}.calibration"][0]),
                                     float(state[f"{label}.calibration"][1]))
                             for label in labels}
        return model

    def predict(self, vector: np.ndarray, signals: Signals) -> dict[str, float]:
        x = _design(vector.reshape(1, -1), [signals])[0]
        similarities = self.vectors @ vector
        predicted = {}
        for label, weights in self.weights.items():
            rows, y = self.known[label]
            voted = _neighbour_levels(similarities[rows].reshape(1, -1), y)[0]
            mix = self.mixes[label]
            predicted[label] = mix * float(x @ weights) + (1 - mix) * voted
        return predicted

    def level(self, label: str, value: float) -> int:
        return int(np.searchsorted(self.cuts[label], value))

    def certainty(self, label: str, value: float) -> float:
        """How likely the level `value` falls in is right: the farther from a cut point, the
        surer, as the out-of-fold predictions of our examples bear out (a logistic fit of
        right/wrong on that distance)."""
        slope, intercept = self.calibration[label]
        margin = float(_margin(np.array([value]), self.cuts[label])[0])
        return float(1 / (1 + math.exp(-(slope * margin + intercept))))


def _margin(values: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Each value's distance to the nearest cut point between levels."""
    if not cuts:
        return np.full(len(values), 10.0)
    distances: np.ndarray = np.abs(values[:, None] - np.array(cuts)[None, :]).min(axis=1)
    return distances


def _calibration(margin: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """P(right | margin) = σ(slope · margin + intercept), by Newton's method; the slope is
    kept at zero or above (a prediction farther from a cut is never less sure)."""
    share = float(np.clip(right.mean(), 0.01, 0.99))
    slope, intercept = 0.0, math.log(share / (1 - share))
    outcome = right.astype(float)
    for _ in range(25):
        p = 1 / (1 + np.exp(-(slope * margin + intercept)))
        weight = p * (1 - p) + 1e-9
        gradient = np.array([((outcome - p) * margin).sum(), (outcome - p).sum()])
        hessian = np.array([[(weight * margin * margin).sum() + 1e-6, (weight * margin).sum()],
                            [(weight * margin).sum(), weight.sum() + 1e-6]])
        step = np.linalg.solve(hessian, gradient)
        slope, intercept = slope + float(step[0]), intercept + float(step[1])
    if slope < 0:
        return 0.0, math.log(share / (1 - share))
    return slope, intercept
