"""A small trained model for the ordinal labels: ridge regression from the e5 vector and the
phrase cues to each label's level (low = 0 … ), fit on our labelled examples
(`knowledge/examples.jsonl`) when the service starts, in milliseconds.

The regularisation is picked by 5-fold cross-validation on those same examples, never on an
evaluation set, so nothing here is tuned to the texts it is scored on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .models import ORDINAL_LABELS

FLAGS = ("repeat", "leaving", "negligence", "public", "legal", "harm")
_LAMBDAS = (0.03, 0.1, 0.3, 1.0, 3.0)
_FOLDS = 5


@dataclass(frozen=True)
class CueSummary:
    """What the phrase cues of one text say, as the model's extra features."""

    severity: int | None  # the worst cue's level
    effort: int | None
    flags: frozenset[str]

    def features(self) -> np.ndarray:
        one_hot = np.zeros(len(ORDINAL_LABELS["severity"]) + len(ORDINAL_LABELS["effort"]))
        if self.severity is not None:
            one_hot[self.severity] = 1.0
        if self.effort is not None:
            one_hot[len(ORDINAL_LABELS["severity"]) + self.effort] = 1.0
        return np.concatenate([one_hot, [float(flag in self.flags) for flag in FLAGS]])


def _design(vectors: np.ndarray, cues: Sequence[CueSummary]) -> np.ndarray:
    extra = np.array([c.features() for c in cues]).reshape(len(cues), -1)
    return np.hstack([vectors, extra, np.ones((len(cues), 1))])


def _fit(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    penalty = lam * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    solved: np.ndarray = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return solved


def _cross_validated(x: np.ndarray, y: np.ndarray) -> float:
    """The lambda with the lowest squared error over 5 folds (fold = position mod 5)."""
    folds = np.arange(len(y)) % _FOLDS
    errors = []
    for lam in _LAMBDAS:
        squared = 0.0
        for fold in range(_FOLDS):
            test = folds == fold
            weights = _fit(x[~test], y[~test], lam)
            squared += float(((x[test] @ weights - y[test]) ** 2).sum())
        errors.append(squared)
    return _LAMBDAS[int(np.argmin(errors))]


class LevelModel:
    """One ridge model per ordinal label; `predict` gives fractional levels."""

    def __init__(self, vectors: np.ndarray, cues: Sequence[CueSummary],
                 labels: Sequence[dict[str, str]]) -> None:
        self.weights: dict[str, np.ndarray] = {}
        self.lambdas: dict[str, float] = {}
        self.trained_on = len(labels)
        if len(labels) < 2 * _FOLDS:
            return
        x = _design(vectors, cues)
        for label, order in ORDINAL_LABELS.items():
            rows = [i for i, given in enumerate(labels) if label in given]
            y = np.array([order.index(labels[i][label]) for i in rows], dtype=float)
            self.lambdas[label] = _cross_validated(x[rows], y)
            self.weights[label] = _fit(x[rows], y, self.lambdas[label])

    def predict(self, vector: np.ndarray, cues: CueSummary) -> dict[str, float]:
        x = _design(vector.reshape(1, -1), [cues])[0]
        return {label: float(x @ w) for label, w in self.weights.items()}
