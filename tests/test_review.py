"""The review desk: drafts stored when made, reviewed by people, audited, measured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.app import create_app
from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.models import (
    Classification,
    Draft,
    DraftRequest,
    DraftStatus,
    FollowUp,
    ReviewIn,
)
from assistant.review import Base, DraftStore, word_edit_distance
from assistant.settings import Settings
from tests.chromaserver import serving
from tests.conftest import TODAY, api_client, api_headers, new_assistant


@pytest.fixture()
def settings(store_settings):
    """These tests run on the embedded stores and on a Chroma server with PostgreSQL."""
    return store_settings


NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_draft(offline_assistant) -> Draft:
    return offline_assistant.draft(
        DraftRequest(text="My parcel is a week late and nobody answers."), store=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[DraftStore]:
    """Every store test runs against SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        yield DraftStore(f"sqlite:///{tmp_path / 'drafts.db'}")
        return
    store = DraftStore(request.getfixturevalue("postgres_url"))
    yield store
    Base.metadata.drop_all(store.db)
    store.db.dispose()


def make(base: Draft, hours_ago: float = 1.0, **labels: object) -> Draft:
    classification = Classification.model_validate(
        {**base.classification.model_dump(), **labels})
    return base.model_copy(update={
        "id": uuid.uuid4().hex, "created_at": NOW - timedelta(hours=hours_ago),
        "classification": classification,
        "language": labels.get("language", base.language),
    })


def decide(action: str, **fields: object) -> ReviewIn:
    return ReviewIn.model_validate({"action": action, "reviewer": "maria", **fields})


def test_saved_draft_reads_back_with_its_audit(store, base_draft):
    saved = store.save(make(base_draft))
    again = store.get(saved.id)
    assert again.model_dump() == saved.model_dump()
    (created,) = store.audit(saved.id)
    assert created.action == "created" and created.after == saved.reply


def test_queue_filters_and_order(store, base_draft):
    old = store.save(make(base_draft, hours_ago=30, severity="high", effort="medium"))
    new = store.save(make(base_draft, hours_ago=2, severity="low", language="sv"))
    store.save(make(base_draft, hours_ago=5, severity="low"))
    page = store.queue(now=NOW)
    assert page.total == 3 and page.items[0].id == old.id  # oldest waits longest: first
    assert [d.id for d in store.queue(severity="high", now=NOW).items] == [old.id]
    assert [d.id for d in store.queue(language="sv", now=NOW).items] == [new.id]
    assert store.queue(older_than_hours=24, now=NOW).total == 1
    assert store.queue(newer_than_hours=3, now=NOW).total == 1
    assert store.queue(severity="low", limit=1, offset=1, now=NOW).total == 2
    assert len(store.queue(severity="low", limit=1, offset=1, now=NOW).items) == 1
    store.review(new.id, decide("approve"))
    assert store.queue(status=DraftStatus.pending_review, now=NOW).total == 2


def test_approve_once_only(store, base_draft):
    draft = store.save(make(base_draft))
    approved = store.review(draft.id, decide("approve"), now=NOW)
    assert approved.status == "approved" and approved.reviewed_by == "maria"
    assert approved.reviewed_at == NOW and approved.reply == draft.reply
    with pytest.raises(Conflict, match="already approved by maria"):
        store.review(draft.id, decide("reject", reason="changed my mind"))


def test_edit_keeps_before_and_after(store, base_draft):
    draft = store.save(make(base_draft))
    new_text = draft.reply.replace(draft.reply.split()[1], "Hey", 1) + " Talk soon."
    edited = store.review(draft.id, decide("edit", text=new_text))
    assert edited.status == "edited" and edited.reply == new_text
    created, event = store.audit(draft.id)
    assert (event.action, event.before, event.after) == ("edited", draft.reply, new_text)
    assert store.get(draft.id).reply == new_text


def test_decisions_need_what_they_need(store, base_draft):
    draft = store.save(make(base_draft))
    with pytest.raises(InvalidInput, match="needs the new reply"):
        store.review(draft.id, decide("edit"))
    with pytest.raises(InvalidInput, match="same as the draft"):
        store.review(draft.id, decide("edit", text=draft.reply))
    with pytest.raises(InvalidInput, match="needs a 'reason'"):
        store.review(draft.id, decide("reject"))
    with pytest.raises(NotFound):
        store.review("0" * 32, decide("approve"))
    rejected = store.review(draft.id, decide("reject", reason="wrong customer"))
    assert rejected.status == "rejected" and store.audit(draft.id)[-1].note == "wrong customer"


def test_follow_ups_due_only_for_sent_replies(store, base_draft):
    due = TODAY + timedelta(days=2)
    promised = make(base_draft).model_copy(update={"follow_up": FollowUp(in_days=2, due=due)})
    pending = make(base_draft).model_copy(update={"follow_up": FollowUp(in_days=2, due=due)})
    store.save(promised)
    store.save(pending)
    store.review(promised.id, decide("approve"))
    assert store.follow_ups_due(TODAY) == []
    (found,) = store.follow_ups_due(due)
    assert found.draft_id == promised.id and found.due == due


def test_stats_by_label(store, base_draft):
    drafts = [store.save(make(base_draft, category=c)) for c in
              ("billing", "billing", "billing", "delivery")]
    store.review(drafts[0].id, decide("approve"))
    store.review(drafts[1].id, decide("edit", text=drafts[1].reply + " One more thing."))
    store.review(drafts[2].id, decide("reject", reason="tone"))
    stats = store.stats()
    assert (stats.drafts, stats.reviewed) == (4, 3)
    assert stats.acceptance_rate == pytest.approx(1 / 3, abs=1e-3)
    assert stats.mean_edit_distance == 3.0
    billing = stats.by["category"]["billing"]
    assert (billing.drafts, billing.edit_rate, billing.rejection_rate) == (3, 0.3333, 0.3333)
    assert stats.by["category"]["delivery"].reviewed == 0
    assert stats.by["category"]["delivery"].acceptance_rate is None
    assert set(stats.by) == {"category", "severity", "effort", "language", "engine"}


def test_store_survives_reopening(tmp_path, base_draft):
    url = f"sqlite:///{tmp_path / 'again.db'}"
    draft = DraftStore(url).save(make(base_draft))
    assert DraftStore(url).get(draft.id).reply == draft.reply


def test_word_edit_distance():
    assert word_edit_distance("I am so sorry", "I am really sorry") == 1
    assert word_edit_distance("", "two words") == 2


def test_review_desk_over_http(settings):
    assistant = new_assistant(settings)
    with api_client(assistant) as client:
        made = client.post("/v1/drafts", json={"text": "The invoice has my name misspelled."})
        assert made.status_code == 201
        draft_id = made.json()["id"]
        queue = client.get("/v1/drafts", params={"status": "pending_review"}).json()
        assert queue["total"] == 1 and queue["items"][0]["id"] == draft_id
        assert client.get(f"/v1/drafts/{draft_id}").json()["reply"] == made.json()["reply"]
        r = client.post(f"/v1/drafts/{draft_id}/review",
                        json={"action": "edit", "reviewer": "maria", "text": "Fixed, sorry!"})
        assert r.status_code == 200 and r.json()["status"] == "edited"
        again = client.post(f"/v1/drafts/{draft_id}/review",
                            json={"action": "approve", "reviewer": "maria"})
        assert again.status_code == 409 and "already edited" in again.json()["detail"]
        audit = client.get(f"/v1/drafts/{draft_id}/audit").json()
        assert [e["action"] for e in audit] == ["created", "edited"]
        assert client.get("/v1/stats").json()["edit_rate"] == 1.0
        assert client.get("/v1/drafts/" + "f" * 32).status_code == 404
        assert client.get("/v1/drafts", params={"severity": "huge"}).status_code == 422
        bad = client.post(f"/v1/drafts/{draft_id}/review", json={"action": "send",
                                                                 "reviewer": "x"})
        assert bad.status_code == 422
        assert client.get("/v1/follow-ups").json() == []


def test_an_approved_edit_changes_later_drafts(settings):
    """The team's voice: phrasings kept in approved or edited replies are preferred later."""
    assistant = new_assistant(settings)
    greetings = assistant.knowledge.phrases["en"].greeting
    later = DraftRequest(text="My order is ten days late and still not here.")
    before = assistant.draft(later)
    first_line = before.reply.split("\n")[0]
    assert first_line in greetings
    other = next(g for g in greetings if g != first_line and first_line not in g)
    edited = assistant.draft(DraftRequest(text="The parcel never arrived, two weeks now."))
    assert edited.classification.category == before.classification.category
    assert edited.language == "en"
    body = edited.reply.split("\n", 1)[1]
    assistant.drafts.review(edited.id, decide("edit", text=f"{other}\n{body} Cheers!"))
    after = assistant.draft(later)
    assert after.reply.split("\n")[0] == other
    assert after.reply != before.reply


def test_concurrent_reviews_record_exactly_one_decision(store, base_draft):
    """20 reviewers at once on each of 5 drafts (approve, edit and reject mixed): one decision
    per draft, one audit entry, and every other attempt a Conflict (was: several winners on
    SQLite, where `with_for_update` does nothing)."""
    drafts = [store.save(make(base_draft)) for _ in range(5)]

    def attempt(draft_id: str, n: int) -> str:
        action = ("approve", "edit", "reject")[n % 3]
        decision = ReviewIn(action=action, reviewer=f"r{n}", reason="no" if n % 3 == 2 else None,
                            text=f"Edited reply number {n}." if n % 3 == 1 else None)
        try:
            store.review(draft_id, decision)
        except Conflict:
            return "conflict"
        return "won"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = {d.id: list(pool.map(lambda n, d=d: attempt(d.id, n), range(20)))
                    for d in drafts}
    for draft in drafts:
        assert outcomes[draft.id].count("won") == 1, outcomes[draft.id]
        assert outcomes[draft.id].count("conflict") == 19
        events = [e for e in store.audit(draft.id) if e.action != "created"]
        assert len(events) == 1
        assert store.get(draft.id).status == events[0].action


def test_concurrent_approvals_over_http_one_200_the_rest_409(tmp_path, base_draft):
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    draft = assistant.drafts.save(make(base_draft))
    headers = api_headers(assistant)
    with serving(create_app(assistant=assistant)) as url:
        def approve(n: int) -> int:
            return httpx.post(f"{url}/v1/drafts/{draft.id}/review", headers=headers, timeout=30,
                              json={"action": "approve", "reviewer": f"r{n}"}).status_code
        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = sorted(pool.map(approve, range(20)))
    assert codes == [200] + [409] * 19
    assert [e.action for e in assistant.drafts.audit(draft.id)].count("approved") == 1
