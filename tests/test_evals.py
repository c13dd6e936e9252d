import json
import os
import subprocess
import sys

from assistant.evals import check_gates, compare, label_metrics, quadratic_kappa

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
         "labels": {"severity": "critical"}},
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
    assert report["n"] == 2 and report["engine"] == "offline"
    assert report["labels"]["severity"]["n"] == 2
    assert report["drafts"]["gesture_mentions_any"] == 1.0
    assert report["drafts"]["must_not_mention"] == 1.0
    assert report["drafts"]["language_match"] == 1.0
    assert set(report["labels_by_language"]) == {"en", "da"}
    assert report["cost"]["fallbacks"] == 0 and report["cost"]["latency_ms_p50"] > 0
    text = (tmp_path / "report.md").read_text()
    assert "Gates: all passed" in text and "![confusion matrices](report-confusion.png)" in text
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
        "expect": {"gesture_mentions_any": ["coffee"]}}))

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
