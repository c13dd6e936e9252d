"""The shipped offline model (`assistant/model/offline.npz`, built by `recovery build-model`)
is in step with `knowledge/`, and is exactly the model a fresh fit would give."""

from __future__ import annotations

import numpy as np

from assistant.classify import SHIPPED, example_signals, examples_key, fit_key
from assistant.embeddings import E5Embeddings
from assistant.knowledge import load_knowledge
from assistant.levels import LevelModel
from assistant.settings import REPO_ROOT

STALE = "the shipped model is out of step with knowledge/: run `recovery build-model`"


def test_the_shipped_model_is_in_step_with_knowledge():
    knowledge = load_knowledge(REPO_ROOT / "knowledge")
    with np.load(SHIPPED) as shipped:
        index_key, levels_key = str(shipped["index_key"]), str(shipped["levels_key"])
        assert shipped["index.matrix"].shape == (len(knowledge.examples), 384)
    assert index_key == examples_key(E5Embeddings.name, knowledge.examples), STALE
    assert levels_key == fit_key(knowledge, index_key, knowledge.examples), STALE


def test_the_shipped_model_is_what_a_fit_gives():
    knowledge = load_knowledge(REPO_ROOT / "knowledge")
    with np.load(SHIPPED) as stored:
        shipped = {name: stored[name] for name in stored.files}
    matrix = shipped["index.matrix"]
    seen = example_signals(knowledge, knowledge.examples)
    model = LevelModel(matrix, seen, [e.labels for e in knowledge.examples],
                       [e.id for e in knowledge.examples])
    restored = LevelModel.restored(matrix, {name[len("levels."):]: value for name, value
                                            in shipped.items() if name.startswith("levels.")})
    fitted, kept = model.state(), restored.state()
    assert set(fitted) == set(kept)
    for name, value in fitted.items():
        assert np.allclose(value, kept[name]), name
    assert restored.predict(matrix[0], seen[0]) == model.predict(matrix[0], seen[0])
