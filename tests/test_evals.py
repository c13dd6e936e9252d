import json
import os
import subprocess
import sys
from datetime import date

import pytest
from pydantic import ValidationError

from assistant.errors import InvalidInput
from assistant.evals import (
    EvalLine,
    check_gates,
    compare,
    human_agreement,
    kappa_interval,
    label_metrics,
    quadratic_kappa,
    read_eval_file,
)
from assistant.evals.runner import run_eval
from assistant.models import HistoryItemIn
from assistant.settings import Settings
from tests.conftest import new_assistant

ORDER = ["low", "medium", "high", "critical"]


def test_kappa_is_one_for_perfect_and_lower_for_errors():
    gold = ["low", "medium", "high", "critical", "medium"]
    assert quadratic_kappa(gold, gold, ORDER) == 1.0
    off_by_one = ["medium", "medium", "high", "critical", "medium"]
    far = ["critical", "medium", "high", "low", "medium"]
    assert 1.0 > quadratic_kappa(gold, off_by_one, ORDER) > quadratic_kappa(gold, far, ORDER)


def test_label_metrics_shape():
    m = label_metrics(["low", "high"], ["low", "medium"], ORDER)
    assert m["accuracy"] == 0.5 and m["within_one"] == 1.0
    assert m["confusion"] == {"low": {"low": 1}, "high": {"medium": 1}}


def test_eval_command_writes_the_product_format(tmp_path):
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in [
        {"id": "a", "text": "My salad came without the blue cheese.", "language": "en",
         "customer_id": "g1",
         "history": [{"kind": "preference", "text": "Ordered a strawberry smoothie", "at":
                      "2026-11-01"},
                     {"kind": "preference", "text": "Loves red wine", "at": "2026-11-01",
                      "customer_id": "other"}],
         "labels": {"severity": "low", "effort": "trivial", "category": "product_quality",
                    "recovery_potential": "high"},
         "expect": {"gesture_mentions_any": ["smoothie"], "must_not_mention": ["wine"]}},
        {"id": "b", "text": "Vi blev alle syge efter frokosten hos jer.", "language": "da",
         "labels": {"severity": "critical"},
         "annotators": {"severity": ["critical", "high", "critical"]}},
        {"id": "c", "text": "Paketet kom tre dagar för sent.", "language": "sv",
         "labels": {"severity": "medium"},
         "annotators": {"severity": ["medium", "medium", "low"]}},
    ]))
    out = tmp_path / "out.json"
    gates = tmp_path / "gates.toml"
    gates.write_text('[offline]\n"drafts.must_not_mention" = 1.0\n'
                     '"labels.severity.accuracy" = 0.5\n')

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from assistant.cli import app; app()", "eval", str(data),
             "--json", str(out), "--gates", str(gates), *extra],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "RECOVERY_DATA_DIR": str(tmp_path / "var"),
                 "RECOVERY_ENGINE": "offline"},
        )

    r = run("--report", str(tmp_path / "report.md"))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["engine"] == "offline"
    assert report["labels"]["severity"]["n"] == 3
    assert report["drafts"]["gesture_mentions_any"] == 1.0
    assert report["drafts"]["must_not_mention"] == 1.0
    assert report["drafts"]["language_match"] == 1.0
    assert set(report["labels_by_language"]) == {"en", "da", "sv"}
    against = report["human_agreement"]
    assert set(against) == {"severity"} and against["severity"]["n"] == 2
    assert set(against["severity"]["by_language"]) == {"da", "sv"}
    assert "severity: engine kappa" in r.stdout
    assert report["cost"]["fallbacks"] == 0 and report["cost"]["latency_ms_p50"] > 0
    text = (tmp_path / "report.md").read_text()
    assert "Gates: all passed" in text and "![confusion matrices](report-confusion.png)" in text
    assert "95% bootstrap interval" in text
    assert "## Against the annotators" in text and "| severity | sv | 1 |" in text
    second = report["items"][1]  # labels only, no text
    assert set(second) == {"id", "language", "gold", "predicted", "labels_engine", "engine",
                           "model", "fallback_reason", "certainty"}
    assert set(second["certainty"]) == {"severity", "effort", "recovery_potential"}
    # Knowing when unsure: the surest 80 % of lines, and accuracy by stated certainty.
    assert set(report["certainty"]["severity"]) == {"at_80_coverage", "reliability"}
    assert (second["engine"], second["fallback_reason"]) == ("offline", None)
    assert report["cost"]["fallback_rate"] == 0 and report["fallback_reasons"] == []
    assert r.stdout.startswith("engine offline\n")
    assert (second["id"], second["language"], second["gold"]) == ("b", "da",
                                                                  {"severity": "critical"})
    assert set(second["predicted"]) == {"severity"}
    assert (tmp_path / "report-confusion.png").read_bytes()[:4] == b"\x89PNG"

    old = tmp_path / "old.json"
    old.write_text(json.dumps({**report, "drafts": {**report["drafts"], "must_not_mention": 0.5}}))
    gates.write_text('[offline]\n"labels.severity.quadratic_kappa" = 1.01\n"nope.metric" = 1\n')
    r = run("--compare", str(old))
    assert r.returncode == 1
    assert "better drafts.must_not_mention: 0.500 → 1.000" in r.stdout
    assert "labels.severity.quadratic_kappa" in r.stderr and "nope.metric: missing" in r.stderr


def test_gates_and_compare_on_reports():
    report = {"n": 3, "labels": {"severity": {"quadratic_kappa": 0.6, "confusion": {"x": {}}}},
              "cost": {"latency_ms_p50": 10.0}}
    assert check_gates(report, {"labels.severity.quadratic_kappa": 0.6}) == []
    not_applicable = {**report, "drafts": {"must_not_mention": None}}
    assert check_gates(not_applicable, {"drafts.must_not_mention": 1.0}) == []
    assert check_gates(report, {"labels.severity.quadratic_kappa": 0.7}) == [
        "labels.severity.quadratic_kappa: 0.600 < 0.7"]
    slower = {**report, "cost": {"latency_ms_p50": 20.0}}
    assert compare(report, slower) == ["worse  cost.latency_ms_p50: 10.000 → 20.000 (+10.000)"]


def _noisy_run(size: int, seed: int) -> tuple[list[str], list[str]]:
    """Gold levels and predictions that are off by one level on about a third of the lines."""
    import numpy as np

    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 4, size)
    pred = np.clip(gold + rng.choice([-1, 0, 0, 0, 1], size), 0, 3)
    return [ORDER[g] for g in gold], [ORDER[p] for p in pred]


def test_kappa_interval_holds_the_estimate_and_narrows_with_more_lines():
    gold, pred = _noisy_run(60, seed=1)
    kappa = quadratic_kappa(gold, pred, ORDER)
    low, high = kappa_interval(gold, pred, ORDER)
    assert low < kappa < high
    assert kappa_interval(gold, pred, ORDER) == [low, high]  # a fixed seed: stable reports
    low4, high4 = kappa_interval(gold * 4, pred * 4, ORDER)
    assert low < low4 < kappa < high4 < high
    assert kappa_interval(gold[:1], pred[:1], ORDER) is None


def _report(gold: list[str], pred: list[str]) -> dict:
    items = [{"id": f"l{i}", "language": "da" if i % 3 else "sv", "gold": {"severity": g},
              "predicted": {"severity": p}}
             for i, (g, p) in enumerate(zip(gold, pred, strict=True))]
    by_language = {language: {"severity": label_metrics(
        [i["gold"]["severity"] for i in items if i["language"] == language],
        [i["predicted"]["severity"] for i in items if i["language"] == language], ORDER)}
        for language in ("da", "sv")}
    return {"n": len(gold), "labels": {"severity": label_metrics(gold, pred, ORDER)},
            "labels_by_language": by_language, "items": items}


def test_compare_tells_a_real_change_from_noise_on_the_same_lines():
    gold, pred = _noisy_run(150, seed=2)
    before = _report(gold, pred)
    one_fixed = list(pred)
    one_fixed[next(i for i, (g, p) in enumerate(zip(gold, pred, strict=True)) if g != p)] = \
        next(g for g, p in zip(gold, pred, strict=True) if g != p)
    lines = compare(before, _report(gold, one_fixed))
    overall = next(line for line in lines if line.startswith("better labels.severity.quadratic"))
    assert "[within noise: paired 95% interval" in overall
    assert "on 150 shared lines; 1 moved closer to gold, 0 further]" in overall

    all_fixed = compare(before, _report(gold, gold))
    overall = next(line for line in all_fixed
                   if line.startswith("better labels.severity.quadratic_kappa"))
    assert "[beyond noise:" in overall
    danish = next(line for line in all_fixed
                  if line.startswith("better labels_by_language.da.severity.quadratic_kappa"))
    assert "on 100 shared lines;" in danish

    without_items = {key: value for key, value in before.items() if key != "items"}
    assert all("noise" not in line for line in compare(without_items, _report(gold, gold)))


def test_as_of_pins_the_day_history_is_judged_on(tmp_path):
    """A set's histories carry fixed dates: without --as-of a gesture cooldown in it would
    quietly expire as the calendar moves on, and the gate would change by itself."""
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps({
        "id": "a", "text": "My salad came without the blue cheese.", "language": "en",
        "customer_id": "g1",
        "history": [{"kind": "preference", "text": "Has an espresso after every lunch",
                     "at": "2026-01-10"},
                    {"kind": "gesture", "text": "Gave a free espresso", "at": "2026-11-01"}],
        "expect": {"gesture_mentions_any": ["coffee", "espresso"]}}))

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from assistant.cli import app; app()", "eval", str(data),
             "--json", str(tmp_path / "out.json"), "--no-gate", *extra],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "RECOVERY_DATA_DIR": str(tmp_path / "var"),
                 "RECOVERY_ENGINE": "offline"},
        )

    def gesture_rate(as_of: str) -> float:
        r = run("--as-of", as_of)
        assert r.returncode == 0, r.stderr
        rate: float = json.loads((tmp_path / "out.json").read_text())["drafts"][
            "gesture_mentions_any"]
        return rate

    assert gesture_rate("2026-11-23") == 0.0  # the espresso was given three weeks before
    assert gesture_rate("2027-11-23") == 1.0  # a year on, the cooldown is over
    r = run("--as-of", "23/11/2026")
    assert r.returncode == 2 and "--as-of" in r.stderr


def _rated(id_: str, language: str, people: list[str], gold: str, predicted: str,
           label: str = "severity") -> tuple[EvalLine, dict]:
    line = EvalLine(id=id_, text="-", language=language, labels={label: gold},
                    annotators={label: people})
    return line, {"id": id_, "language": language, "gold": {label: gold},
                  "predicted": {label: predicted}}


def test_human_agreement_puts_the_engine_beside_the_annotators():
    rated = [
        _rated("1", "da", ["low", "low", "low"], "low", "low"),
        _rated("2", "da", ["high", "high", "medium"], "high", "medium"),
        _rated("3", "sv", ["medium", "medium", "medium"], "medium", "medium"),
        _rated("4", "sv", ["critical", "critical", "critical"], "critical", "low"),
    ]
    unrated = (EvalLine(id="5", text="-", language="sv", labels={"severity": "low"}),
               {"id": "5", "language": "sv", "gold": {"severity": "low"},
                "predicted": {"severity": "critical"}})
    lines, items = zip(*rated, unrated, strict=True)
    result = human_agreement(list(lines), list(items))["severity"]
    assert (result["n"], result["annotators"]) == (4, 3)  # the unrated line is left out
    gold = ["low", "high", "medium", "critical"]
    people = [quadratic_kappa(gold, ["low", "high", "medium", "critical"], ORDER),
              quadratic_kappa(gold, ["low", "medium", "medium", "critical"], ORDER),
              quadratic_kappa(gold, ["low", "medium", "medium", "critical"], ORDER)]
    assert result["annotators_kappa"] == pytest.approx(sum(people) / 3)
    engine = quadratic_kappa(gold, ["low", "medium", "medium", "low"], ORDER)
    assert result["engine_kappa"] == pytest.approx(engine)
    assert result["ratio"] == pytest.approx(engine / result["annotators_kappa"])
    assert result["by_language"]["sv"]["n"] == 2
    assert result["by_language"]["sv"]["annotators_kappa"] == 1.0


def test_category_agreement_is_unweighted():
    """A category is nominal: billing vs delivery is as wrong as billing vs other."""
    rated = [_rated(str(i), "en", [gold, gold], gold, predicted, label="category")
             for i, (gold, predicted) in enumerate([("billing", "billing"), ("delivery", "other"),
                                                    ("other", "delivery"), ("billing", "billing")])]
    lines, items = zip(*rated, strict=True)
    result = human_agreement(list(lines), list(items))["category"]
    assert result["annotators_kappa"] == 1.0
    # observed agreement .5; chance: billing 2/4 * 2/4 + delivery 1/4 * 1/4 + other 1/4 * 1/4
    assert result["engine_kappa"] == pytest.approx((0.5 - 0.375) / (1 - 0.375))


@pytest.mark.parametrize(("line", "message"), [
    ({"labels": {"severity": "huge"}}, "severity 'huge' is not one of low, medium, high"),
    ({"labels": {"mood": "low"}}, "unknown label 'mood'"),
    ({"annotators": {"category": ["billing", "money"]}}, "category 'money' is not one of"),
])
def test_an_unknown_label_is_a_clear_error_with_its_line(tmp_path, line, message):
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps({"id": "ok", "text": "-"}) + "\n"
                    + json.dumps({"id": "x", "text": "-", **line}) + "\n")
    with pytest.raises(InvalidInput, match=f"set.jsonl:2: .*{message}"):
        read_eval_file(data)


def test_a_fallback_rate_gate_is_a_ceiling():
    gates = {"cost.fallback_rate": 0.5}
    assert check_gates({"cost": {"fallback_rate": 1.0}}, gates) == [
        "cost.fallback_rate: 1.000 > 0.5"]
    assert check_gates({"cost": {"fallback_rate": 0.1}}, gates) == []


def test_a_set_written_by_someone_else_reads_as_ours(tmp_path):
    """What another writer of scenarios may well put down, after PRODUCT.md's own words
    ("earlier failures and gestures", route among the labels): history kinds by other names,
    a timestamp for the date or none at all, a note of their own on an item, numeric ids,
    the route and the language among the labels, values and expected words in capitals.
    Each is read as meant; nothing fails the run."""
    data = tmp_path / "theirs.jsonl"
    data.write_text(json.dumps({
        "id": 17, "text": "The shower in our room ran cold every morning.",
        "customer_id": 4021,
        "history": [
            {"kind": "purchase", "text": "Spa weekend package", "at": "2026-06-01T18:30:00Z"},
            {"kind": "Favourite", "text": "Loves the fig jam at breakfast", "date": "2026-06-02",
             "source": "crm"},
            {"kind": "failure", "text": "Room not ready at check-in", "at": "2026-06-03"},
            {"kind": "compensation", "text": "Free late checkout", "at": "2026-06-04"},
            {"kind": "comment", "text": "Travels with a small dog", "at": "2026-06-05"},
            {"kind": "note", "text": "Asked for a quiet room last time"},
            {"kind": "preference", "text": "Loves the plum jam", "at": "2026-06-01",
             "customer_id": 4022}],
        "labels": {"severity": "Medium", "effort": "low", "route": "quick-win",
                   "category": "product quality", "language": "English"},
        "expect": {"gesture_mentions_any": ["Fig jam"], "must_not_mention": "plum"}}) + "\n")
    (line,) = read_eval_file(data)
    assert [item.kind for item in line.history] == [
        "order", "preference", "ticket", "gesture", "note", "note", "preference"]
    assert line.history[-2].at is None  # judged as of the run's day
    assert (line.id, line.customer_id, line.history[-1].customer_id) == ("17", "4021", "4022")
    assert line.history[0].at == date(2026, 6, 1) and line.language == "en"
    assert line.labels == {"severity": "medium", "effort": "low", "route": "quick_win",
                           "category": "product_quality"}
    assert line.expect is not None and line.expect.gesture_mentions_any == ["fig jam"]
    assert line.expect.must_not_mention == ["plum"]
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import app; app()", "eval", str(data),
         "--json", str(out), "--no-gate"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "RECOVERY_DATA_DIR": str(tmp_path / "var"),
             "RECOVERY_ENGINE": "offline"})
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["labels"]["route"]["n"] == 1 and "quadratic_kappa" not in report[
        "labels"]["route"]
    assert report["drafts"]["gesture_mentions_any"] == 1.0


@pytest.mark.parametrize(("item", "message"), [
    ({"kind": "horoscope"}, "unknown history kind 'horoscope'; use one of preference, order"),
    ({"at": "last tuesday"}, "use a date as YYYY-MM-DD"),
])
def test_a_history_item_nobody_can_read_is_still_a_clear_error(item, message):
    with pytest.raises(ValidationError, match=message):
        HistoryItemIn.model_validate({"kind": "order", "text": "x", "at": "2026-01-01", **item})


def test_two_lines_with_one_id_never_share_a_history(tmp_path):
    """Ids are the writer's: a repeated one, or one with a slash, is no reason for a line to
    see another line's history."""
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    smoothie = {"kind": "order", "text": "Strawberry smoothie", "at": "2026-11-01"}
    lines = [EvalLine.model_validate(line) for line in [
        {"id": "sv/001", "text": "My salad came without the dressing.", "customer_id": "g1",
         "history": [smoothie, {**smoothie, "at": "2026-11-02"}],
         "expect": {"gesture_mentions_any": ["smoothie"]}},
        {"id": "sv/001", "text": "My salad came without the dressing.", "customer_id": "g1",
         "expect": {"must_not_mention": ["smoothie"]}}]]
    report = run_eval(assistant, lines)
    assert report["drafts"]["gesture_mentions_any"] == 1.0
    assert report["drafts"]["must_not_mention"] == 1.0
