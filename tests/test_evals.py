import json
import subprocess
import sys

from assistant.evals import label_metrics, quadratic_kappa

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
    env_dir = tmp_path / "var"
    r = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import app; app()", "eval", str(data),
         "--json", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "RECOVERY_DATA_DIR": str(env_dir)},
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["n"] == 2 and report["engine"] == "offline"
    assert report["labels"]["severity"]["n"] == 2
    assert report["drafts"]["gesture_mentions_any"] == 1.0
    assert report["drafts"]["must_not_mention"] == 1.0
    assert report["drafts"]["language_match"] == 1.0
