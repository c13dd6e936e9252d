"""One rubric for both engines: the same complaints through the offline engine and through the
LLM engine against a model that reads every complaint as mildly as it can, and the rubric's
answers from both (`../shared/spec/rubric.md`)."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.models import (
    Category,
    ComplaintIn,
    CustomerFacts,
    Effort,
    HistoryItem,
    HistoryItemIn,
    HistoryKind,
    Recall,
    RecoveryPotential,
    Severity,
)
from assistant.rubric import Proposal, apply_rubric
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import TODAY
from tests.fake_openai import Answer, FakeOpenAI, Seen

SEVERITY = list(Severity)
HARM = "We all got food poisoning after the dinner at your restaurant on Friday."
LEAVING = ("Third outage this month. I am cancelling my subscription and moving to your "
           "competitor tomorrow.")
REPEAT = "My parcel is late again."


def _mildest(seen: Seen) -> Answer:
    """The mildest labels the schema allows, whatever the complaint says."""
    return Answer({
        "severity": "low", "effort": "trivial", "recovery_potential": "high",
        "category": "other", "confidence": 0.9,
        "reasons": {label: [{"detail": "reads as minor", "history_id": None}]
                    for label in ("severity", "effort", "recovery_potential", "category")}})


@pytest.fixture(scope="module")
def engines(tmp_path_factory, example_cache):
    fake = FakeOpenAI(default=_mildest)
    with fake.running():
        llm = Assistant(Settings(
            data_dir=tmp_path_factory.mktemp("rubric-llm"), engine="llm",
            openai_base_url=fake.base_url, openai_api_key="sk-test", llm_timeout_s=5.0,
            llm_max_retries=0), today=lambda: TODAY)
        offline = Assistant(Settings(data_dir=tmp_path_factory.mktemp("rubric-offline"),
                                     engine="offline"), today=lambda: TODAY)
        for assistant in (llm, offline):
            assistant.add_history("twice-late", [
                HistoryItemIn(id=f"t{i}", kind=HistoryKind.ticket, at=date(2026, 10, 1 + i),
                              text="Parcel arrived a week late") for i in (1, 2)])
        yield {"offline": offline, "llm": llm}


def _raises(labels) -> list[str]:
    return [r.detail for r in labels.reasons.severity if "raises severity" in r.detail]


@pytest.mark.network
@pytest.mark.parametrize("engine", ["offline", "llm"])
def test_harm_is_critical_with_low_potential(engines, engine):
    labels = engines[engine].classify(ComplaintIn(text=HARM))
    assert labels.engine == engine and labels.fallback_reason is None
    assert (labels.severity, labels.recovery_potential) == ("critical", "low")
    assert (labels.effort, labels.route) == ("high", "escalate")


@pytest.mark.network
@pytest.mark.parametrize("text", [
    "Somebody hacked into my shop account and ordered a laptop on my saved card.",
    "Någon har tagit sig in på mitt konto och ändrat leveransadressen.",
])
def test_an_account_takeover_is_critical_whatever_the_model_read(engines, text):
    """The model here calls everything low; the rubric's breach floor still makes it critical
    and says which words did."""
    labels = engines["llm"].classify(ComplaintIn(text=text))
    assert labels.engine == "llm" and labels.severity == "critical"
    assert any(r.source == "rule" and "breach" in r.detail for r in labels.reasons.severity)


@pytest.mark.network
@pytest.mark.parametrize("engine", ["offline", "llm"])
def test_leaving_is_at_least_high(engines, engine):
    labels = engines[engine].classify(ComplaintIn(text=LEAVING))
    assert labels.engine == engine
    assert SEVERITY.index(labels.severity) >= SEVERITY.index(Severity.high)
    assert labels.recovery_potential != "high"


@pytest.mark.network
@pytest.mark.parametrize("engine", ["offline", "llm"])
def test_a_repeat_raises_once_by_text_or_history_or_both(engines, engine):
    assistant = engines[engine]
    text_only = assistant.classify(ComplaintIn(text=REPEAT))
    both = assistant.classify(ComplaintIn(text=REPEAT, customer_id="twice-late"))
    assert len(_raises(text_only)) == 1 and len(_raises(both)) == 1
    assert both.severity == text_only.severity
    assert {"t1", "t2"} <= set(both.history_used)
    if engine == "llm":  # the model said low: one level up, not two
        assert text_only.severity == both.severity == "medium"


def _proposal(severity: str, potential: str = "high", effort: str = "low") -> Proposal:
    return Proposal(severity=Severity(severity), effort=Effort(effort),
                    recovery_potential=RecoveryPotential(potential), category=Category.other)


def _failures(count: int) -> Recall:
    items = [HistoryItem(id=f"f{i}", customer_id="c", kind=HistoryKind.ticket,
                         text="Late again", at=date(2026, 9, 1 + i)) for i in range(count)]
    return Recall(customer_id="c", facts=CustomerFacts(earlier_failures=items))


def test_the_repeat_raise_stops_at_high_and_never_touches_critical():
    assert apply_rubric(_proposal("high"), [], _failures(2)).severity == "high"
    assert apply_rubric(_proposal("critical"), [], _failures(2)).severity == "critical"
    assert apply_rubric(_proposal("medium"), [], _failures(2)).severity == "high"
    assert apply_rubric(_proposal("medium"), [], _failures(1)).severity == "medium"


def test_earlier_failures_and_severity_bound_the_potential():
    assert apply_rubric(_proposal("low"), [], _failures(1)).recovery_potential == "medium"
    assert apply_rubric(_proposal("high"), [], None).recovery_potential == "medium"
    assert apply_rubric(_proposal("critical"), [], None).recovery_potential == "low"
    # The severity bound is a cap, not a second step down: the engines' proposals already
    # read what the text says about the failure.
    ruled = apply_rubric(_proposal("medium"), [], _failures(2))
    assert (ruled.severity, ruled.recovery_potential) == ("high", "medium")
    ruled = apply_rubric(_proposal("medium", potential="medium"), [], _failures(2))
    assert (ruled.severity, ruled.recovery_potential) == ("high", "low")


@pytest.mark.parametrize(("severity", "effort", "potential", "route"), [
    ("critical", "trivial", "high", "escalate"),
    ("high", "high", "high", "escalate"),
    ("medium", "low", "medium", "quick_win"),
    ("low", "trivial", "low", "standard"),
    ("medium", "medium", "high", "standard"),
])
def test_routing_follows_the_labels(severity, effort, potential, route):
    assert apply_rubric(_proposal(severity, potential, effort), [], None).route == route
