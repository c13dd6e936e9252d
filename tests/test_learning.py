"""Learning from the team: a tenant's labelled lines (a file, or a reviewer's corrections)
teach that tenant's offline model from its next classification on, and no other tenant's."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.models import ComplaintIn
from assistant.settings import Settings
from tests.conftest import api_client, new_assistant
from tests.test_cli import run

DATA = Path(__file__).parent / "data"
# Not among the lines learned: other words for the same kind of failure.
PROBES = ["The label on my heart medication shows the wrong number of milligrams.",
          "Min dosett hade fel tabletter på söndagen."]


def test_a_tenants_lines_teach_its_model_and_no_other(tmp_path):
    """A pharmacy's team reads a wrong dose on a label as high severity; our bundled
    examples read it as medium. After `recovery learn`, that tenant's model agrees with its
    team, and the default tenant's model is as it was."""
    done = run(["learn", str(DATA / "learn-pharmacy.jsonl"), "--tenant", "pharmacy"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "learned 12 labelled complaints for tenant pharmacy (12 in all)" in done.stdout
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    before = [assistant.classify(ComplaintIn(text=p)) for p in PROBES]
    pharmacy = assistant.for_tenant("pharmacy")
    after = [pharmacy.classify(ComplaintIn(text=p)) for p in PROBES]
    assert [c.severity for c in before] != ["high", "high"]
    assert [c.severity for c in after] == ["high", "high"]
    assert [c.category for c in after] == ["product_quality", "product_quality"]
    assert [assistant.classify(ComplaintIn(text=p)) for p in PROBES] == before
    assert assistant.learned.version()[0] == 0


def test_learn_refuses_a_file_without_labels(tmp_path):
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"id": "x", "text": "late again"}) + "\n")
    done = run(["learn", str(bare)], tmp_path)
    assert done.returncode == 2 and "no line has labels" in done.stderr


def test_a_reviewers_label_correction_is_audited_and_learned(tmp_path):
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    other = assistant.for_tenant("other")
    with api_client(assistant) as client:
        draft = client.post("/v1/drafts", json={"text": PROBES[0]}).json()
        before = draft["classification"]
        changed = client.post(f"/v1/drafts/{draft['id']}/labels",
                              json={"reviewer": "maria", "severity": "critical"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["labels"] == {
            "severity": "critical", "effort": before["effort"],
            "recovery_potential": before["recovery_potential"],
            "category": before["category"], "route": "escalate"}
        assert client.get(f"/v1/drafts/{draft['id']}").json()["classification"]["route"] == (
            "escalate")
        audit = client.get(f"/v1/drafts/{draft['id']}/audit").json()
        assert audit[-1]["action"] == "relabel" and audit[-1]["actor"] == "maria"
        assert json.loads(audit[-1]["before"])["severity"] == before["severity"]
        assert json.loads(audit[-1]["after"])["severity"] == "critical"
        empty = client.post(f"/v1/drafts/{draft['id']}/labels", json={"reviewer": "maria"})
        assert empty.status_code == 422 and "at least one" in empty.text
        unknown = client.post("/v1/drafts/" + "0" * 32 + "/labels",
                              json={"reviewer": "maria", "effort": "low"})
        assert unknown.status_code == 404
        # Engine vs reviewers: two drafts checked (one relabelled, one approved as it was).
        second = client.post("/v1/drafts", json={"text": PROBES[1]}).json()
        client.post(f"/v1/drafts/{second['id']}/review",
                    json={"action": "approve", "reviewer": "maria"}).raise_for_status()
        agreement = client.get("/v1/stats").json()["label_agreement"]
        assert agreement[0] == {"period": "all", "checked": 2, "agreement": {
            "severity": 0.5, "effort": 1.0, "recovery_potential": 1.0, "category": 1.0}}
        assert agreement[1]["period"].startswith("20") and agreement[1]["checked"] == 2
    learned = assistant.learned.examples()
    assert [(e.text, e.labels["severity"]) for e in learned] == [(
        assistant.drafts.get(draft["id"]).complaint, "critical")]
    assert other.learned.examples() == []
    # Another tenant cannot correct (or even see) this tenant's draft.
    with api_client(assistant, "other") as client:
        assert client.post(f"/v1/drafts/{draft['id']}/labels",
                           json={"reviewer": "x", "effort": "low"}).status_code == 404
        assert client.get("/v1/stats").json()["label_agreement"][0]["checked"] == 0
    assert len(assistant.learned.examples()) == 1
