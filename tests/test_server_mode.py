"""Server mode: two API instances sharing a real Chroma server and PostgreSQL, and the
migration from the embedded folder and SQLite file to them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from assistant.keys import KeyStore
from assistant.models import DraftRequest, HistoryItemIn, ReviewIn
from assistant.review import DraftStore
from assistant.settings import Settings
from assistant.store import TriageRunRow
from assistant.triage import TriageRuns
from tests.chromaserver import fresh_database, wait_for_http
from tests.conftest import new_assistant
from tests.pgserver import _free_port

pytestmark = pytest.mark.network

RECOVERY = str(Path(sys.executable).parent / "recovery")


@contextmanager
def instance(env: dict[str, str], data_dir: Path, key: str
             ) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    """One `recovery serve` process on its own port and its own data folder."""
    port = _free_port()
    process = subprocess.Popen(
        [RECOVERY, "serve", "--port", str(port)],
        env={**os.environ, **env, "RECOVERY_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                          headers={"Authorization": f"Bearer {key}"})
    try:
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process, seconds=60)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}: {process.stderr.read() if process.stderr else ''}"
                                 ) from exc
        yield client, process
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def test_two_instances_share_history_and_drafts(tmp_path, chroma_url, postgres_url):
    database = fresh_database(postgres_url)
    env = {"RECOVERY_ENGINE": "offline", "RECOVERY_CHROMA_URL": chroma_url,
           "RECOVERY_COLLECTION": f"t{uuid.uuid4().hex[:12]}", "RECOVERY_DATABASE_URL": database}
    keys = KeyStore(DraftStore(database).db)
    record, key = keys.create("acme")
    with instance(env, tmp_path / "a", key) as (a, _), \
            instance(env, tmp_path / "b", key) as (b, _):
        added = a.post("/v1/customers/guest-7/history", json=[
            {"id": "o1", "kind": "order", "at": "2026-11-20",
             "text": "Cobb salad with blue cheese, table 4"},
            {"id": "p1", "kind": "preference", "at": "2026-11-01",
             "text": "Always orders a strawberry smoothie"}])
        assert added.status_code == 201, added.text
        assert {i["id"] for i in b.get("/v1/customers/guest-7/history").json()} == {"o1", "p1"}
        made = b.post("/v1/drafts", json={
            "text": "My Cobb salad came without the blue cheese.", "customer_id": "guest-7"})
        assert made.status_code == 201, made.text
        draft = made.json()
        assert set(draft["history_used"]) & {"o1", "p1"}, "history written on A not recalled on B"
        reviewed = a.post(f"/v1/drafts/{draft['id']}/review",
                          json={"action": "approve", "reviewer": "maria"})
        assert reviewed.status_code == 200, reviewed.text
        assert b.get(f"/v1/drafts/{draft['id']}").json()["status"] == "approved"
        again = b.post(f"/v1/drafts/{draft['id']}/review",
                       json={"action": "reject", "reviewer": "tom", "reason": "late"})
        assert again.status_code == 409
        queue = b.get("/v1/drafts", params={"status": "approved"}).json()
        assert [d["id"] for d in queue["items"]] == [draft["id"]]
        # A key revoked once is refused by every instance, at once.
        keys.revoke(record.id)
        assert a.get("/v1/me").status_code == b.get("/v1/me").status_code == 401


def test_what_was_acknowledged_survives_a_hard_kill(tmp_path):
    """Embedded stores (Chroma folder, SQLite): history and drafts the API answered 201 for
    are on disk when the process is killed (SIGKILL, no shutdown) right after."""
    data = tmp_path / "var"
    _, key = KeyStore(DraftStore(f"sqlite:///{data / 'recovery.db'}").db).create("acme")
    env = {"RECOVERY_ENGINE": "offline"}
    with instance(env, data, key) as (api, process):
        for n in range(25):
            r = api.post(f"/v1/customers/c{n % 5}/history", json={
                "id": f"h{n}", "kind": "order", "at": "2026-11-20", "text": f"Order {n}: lamp"})
            assert r.status_code == 201, r.text
        made = api.post("/v1/drafts", json={"text": "The lamp came broken.",
                                             "customer_id": "c1"})
        assert made.status_code == 201, made.text
        process.kill()
        process.wait(timeout=30)
    with instance(env, data, key) as (api, _):
        stored = {item["id"] for n in range(5)
                  for item in api.get(f"/v1/customers/c{n}/history").json()}
        assert stored == {f"h{n}" for n in range(25)}
        assert api.get(f"/v1/drafts/{made.json()['id']}").json()["reply"] == made.json()["reply"]


def test_migrate_moves_history_and_drafts_losing_nothing(tmp_path, chroma_url, postgres_url):
    collection = f"t{uuid.uuid4().hex[:12]}"
    embedded = Settings(data_dir=tmp_path / "var", engine="offline", collection=collection)
    assistant = new_assistant(embedded)
    for n in range(30):
        assistant.add_history(f"c{n % 6}", [HistoryItemIn(
            id=f"h{n}", kind="order", at=date(2026, 11, 1 + n % 20),
            text=f"Order {n}: {['pizza', 'salad', 'lamp', 'sofa', 'tickets'][n % 5]}")])
    drafts = [assistant.draft(DraftRequest(text=f"Order {n} came late and cold.",
                                           customer_id=f"c{n % 6}")) for n in range(8)]
    assistant.drafts.review(drafts[0].id, ReviewIn(action="approve", reviewer="maria"))
    _, key = assistant.keys.create("acme")
    runs = TriageRuns(assistant)
    with Session(runs.db) as session, session.begin():
        session.add(TriageRunRow(id="r1", status="done", created_at="2026-11-23T02:00:00",
                               arguments="{}", done=3, total=3))
    database = fresh_database(postgres_url)
    env = {**os.environ, "RECOVERY_DATA_DIR": str(tmp_path / "var"),
           "RECOVERY_COLLECTION": collection, "RECOVERY_CHROMA_URL": chroma_url,
           "RECOVERY_DATABASE_URL": database}
    first = subprocess.run([RECOVERY, "migrate"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr + first.stdout
    lines = first.stdout.splitlines()
    # The history collection, and the tables: drafts, draft_events, api_keys, triage_runs,
    # gesture_policies, triage_themes, learned_labels.
    assert all(line.startswith("ok") for line in lines) and len(lines) == 8, lines
    assert "database: learned_labels: 0 in the source" in first.stdout
    assert "database: gesture_policies: 0 in the source" in first.stdout
    assert "database: triage_themes: 0 in the source" in first.stdout
    assert "database: api_keys: 1 in the source, 1 copied now" in first.stdout
    assert "database: drafts: 8 in the source, 8 copied now, 8 found in the target" in first.stdout
    assert "database: draft_events: 9 in the source" in first.stdout  # 8 created + 1 approved
    assert "30 in the source, 30 copied now, 30 found in the target" in first.stdout

    server = Settings(data_dir=tmp_path / "server", engine="offline", collection=collection,
                      chroma_url=chroma_url, database_url=database)
    moved = new_assistant(server)
    assert [i.id for i in moved.list_history("c1")] == [
        i.id for i in assistant.list_history("c1")]
    redo = moved.draft(DraftRequest(text="Order 1 came late and cold.", customer_id="c1"))
    assert redo.history_used == drafts[1].history_used, "recall differs after the move"
    assert moved.drafts.get(drafts[0].id).status == "approved"
    # New audit lines continue after the copied ids (the sequence was moved along).
    moved.drafts.review(drafts[1].id, ReviewIn(action="reject", reviewer="tom", reason="no"))
    assert len(moved.drafts.audit(drafts[1].id)) == 2
    assert moved.keys.check(key).tenant == "acme"

    second = subprocess.run([RECOVERY, "migrate"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0 and "0 copied now" in second.stdout
    assert "database: drafts: 8 in the source, 0 copied now, 8 found" in second.stdout
