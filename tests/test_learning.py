"""Learning from the team: a tenant's labelled lines (a file, or a reviewer's corrections)
teach that tenant's offline model from its next classification on, and no other tenant's."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.learning import LearnedLine
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
        # The same complaint again, with an order number: the reviewer's label stands.
        again = client.post("/v1/classify", json={"text": PROBES[0] + " Order 55120."}).json()
        assert again["severity"] == "critical" and again["route"] == "escalate"
        assert again["remembered"]["line"] == "learned-1", again["remembered"]
        assert "the team labelled this complaint critical (learned-1" in str(
            again["reasons"]["severity"])
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


SAME = "Mitt paket stod utanför dörren i regnet och kartongen var helt blöt."


def test_a_complaint_the_team_labelled_keeps_its_labels_and_only_that_one(tmp_path):
    """A team's label is the answer for that complaint the next time it comes, in the same
    words or nearly (another number, a typo, one more sentence), whatever the model would
    say; a different complaint, or another tenant, keeps the model's labels."""
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    shop = assistant.for_tenant("shop")
    model = shop.classify(ComplaintIn(text=SAME))
    team = {"severity": "low" if model.severity != "low" else "medium",
            "effort": "trivial" if model.effort != "trivial" else "low"}
    shop.learn([LearnedLine(text=SAME, language="sv", labels=team)], "anna")
    for variant in (SAME, SAME.replace("helt", "hellt"), SAME + " Order 4471.",
                    SAME + " Vad gör ni nu?"):
        labels = shop.classify(ComplaintIn(text=variant))
        assert (labels.severity, labels.effort) == (team["severity"], team["effort"]), variant
        assert labels.remembered is not None and labels.remembered.similarity >= 0.96
        assert labels.certainty["severity"] == 1.0
    # A short complaint with another order number: e5 puts it at 0.93, its words are the same.
    shop.learn([LearnedLine(text="My order 4471 has not arrived yet.", language="en",
                            labels={"severity": "high"})], "anna")
    again = shop.classify(ComplaintIn(text="My order 95120 has not arrived yet"))
    assert again.severity == "high" and again.remembered is not None
    assert again.remembered.similarity < 0.96
    other = shop.classify(ComplaintIn(text="Kassören var otrevlig när jag frågade om kvittot."))
    assert other.remembered is None
    assert assistant.classify(ComplaintIn(text=SAME)).remembered is None
    assert assistant.for_tenant("cafe").classify(ComplaintIn(text=SAME)) == (
        assistant.classify(ComplaintIn(text=SAME)))


def test_a_rubric_floor_stands_above_the_teams_label(tmp_path):
    """The team may have called a complaint about a fall high; the same words again still
    show harm, so the draft offers no treat and a person decides."""
    text = "My father fainted in your queue and nobody brought him water."
    shop = new_assistant(Settings(data_dir=tmp_path, engine="offline")).for_tenant("shop")
    shop.learn([LearnedLine(text=text, language="en",
                            labels={"severity": "high", "effort": "low"})], "anna")
    labels = shop.classify(ComplaintIn(text=text))
    assert labels.remembered is not None
    assert (labels.severity, labels.effort, labels.route) == ("critical", "high", "escalate")
