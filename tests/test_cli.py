import json
import os
import subprocess
import sys
from pathlib import Path

from assistant.settings import REPO_ROOT

CLI = [sys.executable, "-c", "from assistant.cli import app; app()"]


def run(args, data_dir: Path, stdin=None):
    env = {**os.environ, "RECOVERY_DATA_DIR": str(data_dir)}
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env, input=stdin,
                          timeout=300)


def test_ingest_demo_then_draft_offers_the_smoothie(tmp_path):
    r = run(["ingest", str(REPO_ROOT / "knowledge/demo/history.jsonl")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "for 4 customer(s)" in r.stdout
    r = run(["draft", "-", "--customer", "guest-214", "--json"], tmp_path,
            stdin="The salad came without the blue cheese I asked for.")
    assert r.returncode == 0, r.stderr
    draft = json.loads(r.stdout)
    assert "smoothie" in draft["reply"].lower()


def test_bad_input_exits_2_with_a_message(tmp_path):
    r = run(["classify", "hello", "--language", "xx"], tmp_path)
    assert r.returncode == 2 and "unknown language code" in r.stderr
    r = run(["ingest", str(tmp_path / "missing.jsonl")], tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
