"""Themes: the low-rated tickets grouped by what went wrong, so that two hundred customers
saying the same thing in other words (and languages) read as one decision, not two hundred
recoveries.

How tickets are grouped, on the e5 vectors triage already computed:
1. Each vector loses its language's direction: e5 puts "the same complaint in Swedish" nearer
   other Swedish complaints than the English one. The direction is the mean of our labelled
   examples in that language (`knowledge/examples.jsonl`), not of the run's own tickets, so a
   language whose few tickets are all one complaint keeps that complaint.
2. Groups by average linkage (scikit-learn's agglomerative clustering, cosine): two groups join
   while their tickets are, on average, at least `LINK` alike. Paraphrases in one language
   gather here; groups under `MIN_GROUP` tickets are set aside as not yet a theme.
3. Groups merge while two centroids are within `MERGE` (centroid linkage, recomputed after
   each merge): the same complaint's groups in other languages and words join.
4. A ticket left alone joins the nearest theme whose centroid is within `JOIN`; groups under
   `MIN_THEME` tickets are not themes.

Runs over `SAMPLE` tickets cluster a fixed random sample and place the rest by step 4, so
memory stays flat. The constants were chosen by cross-validation on planted themes of our own
(`tests/data/themes-tune.jsonl`, three generated exports); `themes-heldout.jsonl` was scored
once (`evals/README.md`)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, Field, computed_field
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy import Engine, delete, select

from ..models import Category, Route
from ..reading import plain
from ..store import ThemeRunRow
from ..tenancy import scoped_sessions
from .outputs import TriageRow

LINK = 0.28  # average cosine within a group (scikit-learn's distance_threshold is 1 - LINK)
MIN_GROUP = 4
MERGE = 0.50
JOIN = 0.50
MIN_THEME = 5
SAMPLE = 2500
SYSTEMIC_SHARE = 0.03  # of the run's tickets
SYSTEMIC_CUSTOMERS = 5
SYSTEMIC_AGREEMENT = 0.6  # of its tickets in one category: one cause, not a mixed bag
SAME_THEME = 0.6  # centroids this close in two runs are the same theme


class ThemeExample(BaseModel):
    ticket_id: str
    text: str


class Theme(BaseModel):
    """One thing that went wrong for many customers, as `themes.json` and the report show it."""

    id: int = Field(description="1 = the largest theme of this run.")
    name: str = Field(description="The words that set this theme's tickets apart.")
    count: int
    share: float = Field(description="Of the run's low-rated tickets.")
    quick_win_share: float
    customers: int = Field(description="Distinct customers (a ticket without one counts once).")
    languages: dict[str, int]
    category: Category = Field(description="The category most of its tickets have.")
    systemic: bool = Field(description="Many customers (>= 3 % of the run, >= 5 customers), "
                           "one cause (>= 60 % of its tickets in one category): fix the cause "
                           "(a policy, a bug, an outage) rather than each ticket.")
    examples: list[ThemeExample] = Field(description="The two tickets nearest its centre.")
    previous_count: int | None = Field(
        None, description="The same theme in this tenant's previous run; None if it is new.")
    previous_run: str | None = None
    centroid: list[float] = Field(default_factory=list, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def change(self) -> int | None:
        return None if self.previous_count is None else self.count - self.previous_count


def _normalise(matrix: np.ndarray) -> None:
    """Rows to unit length, in place."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    matrix /= np.where(norms == 0, 1, norms)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1, norms), dtype=np.float32)


class LanguageDirections:
    """The mean direction of each language among our labelled examples (step 1)."""

    def __init__(self, matrix: np.ndarray, languages: Sequence[str]) -> None:
        unit = _unit(matrix)
        self.overall = unit.mean(axis=0)
        self.by_language = {language: unit[[i for i, x in enumerate(languages)
                                            if x == language]].mean(axis=0)
                            for language in set(languages)}

    def remove(self, vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
        """Unit vectors without their language's direction, in place when `vectors` is a
        float32 matrix (no copy, no matrix of offsets beside it: memory stays one run's
        vectors)."""
        result = np.asarray(vectors, dtype=np.float32)
        _normalise(result)
        spoken = np.asarray(languages)
        for language in set(languages):
            result[spoken == language] -= self.by_language.get(language, self.overall)
        _normalise(result)
        return result


def group(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """A theme number per row (-1: no theme), for vectors with their language removed."""
    count = len(vectors)
    if count <= SAMPLE:
        labels = _merged(vectors, _groups(vectors))
        return _joined(vectors, labels, np.arange(count))
    sample = np.sort(np.random.default_rng(seed).choice(count, SAMPLE, replace=False))
    found = _merged(vectors[sample], _groups(vectors[sample]))
    labels = np.full(count, -1)
    labels[sample] = found
    return _joined(vectors, labels, sample)


def _groups(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) < 2:
        return np.full(len(vectors), -1)
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=1 - LINK).fit_predict(vectors)
    sizes = np.bincount(labels)
    return np.where(sizes[labels] >= MIN_GROUP, labels, -1)


def _merged(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    groups = {label: list(np.flatnonzero(labels == label)) for label in set(labels) - {-1}}
    while len(groups) > 1:
        keys = list(groups)
        centres = _unit(np.stack([vectors[groups[key]].mean(axis=0) for key in keys]))
        similar = centres @ centres.T
        np.fill_diagonal(similar, -1)
        i, j = np.unravel_index(int(np.argmax(similar)), similar.shape)
        if similar[i, j] < MERGE:
            break
        groups[keys[i]] += groups.pop(keys[j])
    merged = np.full(len(vectors), -1)
    for key, members in groups.items():
        merged[members] = key
    return merged


def _joined(vectors: np.ndarray, labels: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Themes of at least MIN_THEME placed rows; every other row joins the nearest one within
    JOIN, in blocks (never an n × n matrix)."""
    sizes = Counter(int(x) for x in labels[placed] if x != -1)
    keep = [label for label, size in sizes.items() if size >= MIN_THEME]
    result = np.where(np.isin(labels, keep), labels, -1)
    if not keep:
        return result
    centres = _unit(np.stack([vectors[placed][labels[placed] == label].mean(axis=0)
                              for label in keep]))
    for start in range(0, len(vectors), 2048):
        block = slice(start, start + 2048)
        similar = vectors[block] @ centres.T
        best = np.asarray(keep)[similar.argmax(axis=1)]
        alone = result[block] == -1
        result[block] = np.where(alone & (similar.max(axis=1) >= JOIN), best, result[block])
    return result


_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def names(themes: list[list[int]], texts: list[str], languages: list[str], size: int = 3
          ) -> list[str]:
    """Each theme's name: the `size` words that most set its tickets apart from the run's
    other tickets in the same languages (share of the theme's tickets with the word × log of
    how much likelier it is there), so "ikke" or "the" never name a theme and "refund" does;
    in the customers' own words."""
    words = [set(_words(text)) for text in texts]
    per_language: dict[str, Counter[str]] = {}
    tickets: Counter[str] = Counter(languages)
    for seen, language in zip(words, languages, strict=True):
        per_language.setdefault(language, Counter()).update(seen)
    result = []
    for members in themes:
        inside: Counter[str] = Counter(w for i in members for w in words[i])
        inside_by_language: dict[str, Counter[str]] = {}
        for i in members:
            inside_by_language.setdefault(languages[i], Counter()).update(words[i])
        in_theme: Counter[str] = Counter(languages[i] for i in members)
        weight = {}
        for word, count in inside.items():
            if count < 2:
                continue
            spoken = [lang for lang, seen in inside_by_language.items() if word in seen]
            outside = sum(per_language[lang][word] - inside_by_language[lang][word]
                          for lang in spoken)
            population = sum(tickets[lang] - in_theme[lang] for lang in spoken) or 1
            share, elsewhere = count / len(members), outside / population
            weight[word] = share * math.log((share + 0.01) / (elsewhere + 0.01))
        top = sorted(weight, key=lambda w: (-weight[w], w))[:size]
        result.append(" · ".join(top) or "(no shared words)")
    return result


@dataclass(frozen=True, slots=True)
class ThemeTicket:
    """What grouping and naming need of a triage row (its reasons and drafts stay in the
    checkpoint: a 10,000-ticket run keeps a few MB of these)."""

    ticket_id: str
    text: str
    language: str
    customer_id: str | None
    category: Category
    route: Route

    @classmethod
    def of(cls, row: TriageRow) -> ThemeTicket:
        return cls(row.ticket_id, row.text, row.language, row.customer_id, row.category,
                   row.route)


def find_themes(rows: list[ThemeTicket], vectors: np.ndarray, directions: LanguageDirections
                ) -> tuple[list[Theme], dict[str, int]]:
    """The run's themes, largest first, and the theme id of each ticket that has one
    (`vectors`, float32, lose their language direction in place)."""
    if not rows:
        return [], {}
    centred = directions.remove(vectors, [row.language for row in rows])
    labels = group(centred)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        if label != -1:
            members.setdefault(int(label), []).append(index)
    ordered = sorted(members.values(), key=lambda m: (-len(m), rows[m[0]].ticket_id))
    titles = names(ordered, [plain(r.text) for r in rows], [r.language for r in rows])
    themes, of_ticket = [], {}
    for number, (indices, title) in enumerate(zip(ordered, titles, strict=True), start=1):
        centre = _unit(centred[indices].mean(axis=0))
        nearest = sorted(indices, key=lambda i: -float(centred[i] @ centre))[:2]
        customers = {rows[i].customer_id or f"ticket:{rows[i].ticket_id}" for i in indices}
        category, agreeing = Counter(rows[i].category for i in indices).most_common(1)[0]
        themes.append(Theme(
            id=number, name=title, count=len(indices), share=round(len(indices) / len(rows), 4),
            quick_win_share=round(sum(rows[i].route == Route.quick_win for i in indices)
                                  / len(indices), 4),
            customers=len(customers),
            languages=dict(Counter(rows[i].language for i in indices).most_common()),
            category=category,
            systemic=len(indices) >= SYSTEMIC_SHARE * len(rows)
            and len(customers) >= SYSTEMIC_CUSTOMERS
            and agreeing >= SYSTEMIC_AGREEMENT * len(indices),
            examples=[ThemeExample(ticket_id=rows[i].ticket_id, text=rows[i].text[:300])
                      for i in nearest],
            centroid=[round(float(x), 5) for x in centre]))
        of_ticket.update({rows[i].ticket_id: number for i in indices})
    return themes, of_ticket


def compared(themes: list[Theme], previous: list[Theme], previous_run: str) -> list[Theme]:
    """Each theme with its count in the previous run, where that run had the same theme (the
    nearest centroid within SAME_THEME, each old theme matched once)."""
    if not previous:
        return themes
    old = _unit(np.asarray([p.centroid for p in previous], dtype=np.float32))
    taken: set[int] = set()
    result = []
    for theme in themes:
        similar = old @ np.asarray(theme.centroid, dtype=np.float32)
        order = [int(i) for i in np.argsort(-similar)
                 if similar[i] >= SAME_THEME and int(i) not in taken]
        if order:
            taken.add(order[0])
            theme = theme.model_copy(update={"previous_count": previous[order[0]].count,
                                             "previous_run": previous_run})
        result.append(theme)
    return result


class ThemeMemory:
    """Each tenant's themes by run, so the next run can say what grew, shrank or is new."""

    def __init__(self, db: Engine, tenant: str) -> None:
        ThemeRunRow.__table__.create(db, checkfirst=True)  # type: ignore[attr-defined]
        self._sessions = scoped_sessions(db, tenant)

    def previous(self, run_label: str) -> tuple[str, list[Theme]] | None:
        """The latest other run's themes (a resumed run is not its own previous run)."""
        with self._sessions() as session:
            row = session.scalars(select(ThemeRunRow).where(
                ThemeRunRow.run_label != run_label).order_by(
                ThemeRunRow.created_at.desc(), ThemeRunRow.id.desc()).limit(1)).first()
            if row is None:
                return None
            return row.run_label, [Theme.model_validate(t) for t in row.themes]

    def keep(self, run_label: str, themes: list[Theme]) -> None:
        with self._sessions() as session, session.begin():
            session.execute(delete(ThemeRunRow).where(ThemeRunRow.run_label == run_label))
            session.add(ThemeRunRow(run_label=run_label, created_at=datetime.now(UTC), themes=[
                t.model_dump(mode="json", exclude={"change"}) | {"centroid": t.centroid}
                for t in themes]))
