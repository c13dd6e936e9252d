"""API keys and tenants over real HTTP: no /v1 route answers without a live key, and no tenant
reaches another's history, drafts, reviews, stats, follow-ups or triage runs, on the embedded
stores and on a Chroma server with PostgreSQL."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.errors import NotFound
from assistant.models import DraftRequest
from assistant.review import DraftRow, DraftStore
from assistant.service import Assistant
from assistant.settings import Settings
from tests.chromaserver import serving
from tests.conftest import TODAY, api_headers, new_assistant
from tests.exports import write_export

pytestmark = pytest.mark.network

SALAD = "My Cobb salad came without the blue cheese, second time this month."


def _wait_done(client: httpx.Client, run_id: str) -> dict:
    deadline = time.monotonic() + 120
    while (run := client.get(f"/v1/triage-runs/{run_id}").json())["status"] != "done":
        assert run["status"] in {"queued", "running"} and time.monotonic() < deadline, run
        time.sleep(0.2)
    return run


def test_no_tenant_reaches_another(store_settings, tmp_path):
    assistant = new_assistant(store_settings)
    with serving(create_app(assistant=assistant)) as base, \
            httpx.Client(base_url=base, timeout=60,
                         headers=api_headers(assistant, "acme")) as acme, \
            httpx.Client(base_url=base, timeout=60,
                         headers=api_headers(assistant, "globex")) as globex:
        assert acme.get("/v1/me").json()["tenant"] == "acme"
        # The same customer id at both companies: two different people.
        r = acme.post("/v1/customers/guest-7/history", json=[
            {"id": "a1", "kind": "preference", "at": "2026-11-01",
             "text": "Always orders a strawberry smoothie"},
            {"id": "a2", "kind": "ticket", "at": "2026-11-10",
             "text": "Salad served without dressing"}])
        assert r.status_code == 201, r.text
        assert globex.get("/v1/customers/guest-7/history").json() == []
        r = globex.post("/v1/customers/guest-7/history", json={
            "id": "g1", "kind": "preference", "at": "2026-11-02", "text": "Loves oat lattes"})
        assert r.status_code == 201, r.text
        assert {i["id"] for i in acme.get("/v1/customers/guest-7/history").json()} == {
            "a1", "a2"}

        made = acme.post("/v1/drafts", json={"text": SALAD, "customer_id": "guest-7"}).json()
        theirs = globex.post("/v1/drafts", json={"text": SALAD, "customer_id": "guest-7"}).json()
        assert set(made["history_used"]) <= {"a1", "a2"} and made["history_used"]
        assert set(theirs["history_used"]) <= {"g1"}
        assert "smoothie" not in theirs["reply"].lower()

        draft = made["id"]
        for path in (f"/v1/drafts/{draft}", f"/v1/drafts/{draft}/audit"):
            assert globex.get(path).status_code == 404, path
        review = {"action": "approve", "reviewer": "mallory"}
        assert globex.post(f"/v1/drafts/{draft}/review", json=review).status_code == 404
        assert acme.get(f"/v1/drafts/{draft}").json()["status"] == "pending_review"
        assert [d["id"] for d in globex.get("/v1/drafts").json()["items"]] == [theirs["id"]]
        r = acme.post(f"/v1/drafts/{draft}/review", json={"action": "approve", "reviewer": "x"})
        assert r.status_code == 200, r.text
        assert globex.get("/v1/stats").json()["reviewed"] == 0
        assert acme.get("/v1/stats").json()["reviewed"] == 1
        far = {"due_by": "2027-12-31"}
        assert draft not in {f["draft_id"] for f in globex.get("/v1/follow-ups",
                                                                  params=far).json()}

        export = tmp_path / "export.csv"
        write_export("zendesk", export, 40)
        run = acme.post("/v1/triage-runs", params={"preset": "zendesk"},
                        content=export.read_bytes()).json()
        assert _wait_done(acme, run["id"])["summary"]["selected"] > 0
        for path in ("", "/rows", "/report"):
            assert globex.get(f"/v1/triage-runs/{run['id']}{path}").status_code == 404, path
        # The run's drafts went to acme's queue, not the default tenant's or globex's.
        assert globex.get("/v1/drafts").json()["total"] == 1
        assert acme.get("/v1/drafts", params={"limit": 200}).json()["total"] > 1
    assert assistant.drafts.queue().total == 0


def test_every_v1_route_needs_a_live_key(settings):
    # Dozens of refused keys from one address: the failed-authentication limit (tested in
    # test_hostile.py) is raised here so that every route answers for itself.
    assistant = new_assistant(settings.model_copy(update={"auth_failures_per_minute": 10_000}))
    app = create_app(assistant=assistant)
    paths = app.openapi()["paths"]
    routes = [(method, path.replace("{draft_id}", "ab").replace("{run_id}", "ab")
               .replace("{customer_id}", "c1"))
              for path, methods in paths.items() if path.startswith("/v1") for method in methods]
    assert len(routes) >= 15 and all(operation.get("security") for path, methods in paths.items()
                                      if path.startswith("/v1") for operation in methods.values())
    headers = api_headers(assistant, "acme")
    record = assistant.keys.list("acme")[0]
    with TestClient(app) as client:
        for method, path in routes:
            for sent in ({}, {"Authorization": "Bearer rk_0000000000_wrong"},
                         {"Authorization": headers["Authorization"] + "x"},
                         {"Authorization": "Basic YWRtaW46YWRtaW4="}):
                r = client.request(method, path, headers=sent, json={})
                assert r.status_code == 401, (method, path, sent, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert "API key" in r.json()["detail"]
        assert client.get("/v1/me", headers=headers).status_code == 200
        assistant.keys.revoke(record.id)
        r = client.get("/v1/me", headers=headers)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200
        assert client.get("/openapi.json").json()["components"]["securitySchemes"]


def test_each_key_has_its_own_rate_limit(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="offline", rate_limit_per_minute=60)
    assistant = new_assistant(settings)
    busy, calm = api_headers(assistant, "acme"), api_headers(assistant, "acme")
    with TestClient(create_app(assistant=assistant)) as client:
        codes = [client.get("/v1/me", headers=busy).status_code for _ in range(12)]
        assert codes[:10] == [200] * 10 and codes[10:] == [429, 429], codes
        r = client.get("/v1/me", headers=busy)
        assert 1 <= int(r.headers["retry-after"]) <= 2 and "per minute" in r.json()["detail"]
        assert client.get("/v1/me", headers=calm).status_code == 200
        time.sleep(1.1)
        assert client.get("/v1/me", headers=busy).status_code == 200


def test_a_database_from_before_tenants_is_upgraded(tmp_path):
    """Drafts made before the tenant column existed belong to the default tenant."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assistant = Assistant(Settings(data_dir=tmp_path, engine="offline", database_url=url),
                          today=lambda: TODAY)
    saved = assistant.draft(DraftRequest(text="The soup was cold."))
    columns = ", ".join(c.name for c in DraftRow.__table__.columns if c.name != "tenant")
    with sqlite3.connect(tmp_path / "old.db") as old:
        old.executescript(f"DROP INDEX ix_drafts_tenant; DROP INDEX ix_drafts_tenant_queue; "
                          f"DROP INDEX ix_drafts_tenant_created; "
                          f"ALTER TABLE drafts DROP COLUMN tenant; SELECT {columns} FROM drafts")
        assert "tenant" not in {row[1] for row in old.execute("PRAGMA table_info(drafts)")}
    upgraded = DraftStore(url)
    assert upgraded.get(saved.id).reply == saved.reply
    with pytest.raises(NotFound):
        upgraded.scoped("acme").get(saved.id)
    upgraded.scoped("acme").save(saved.model_copy(update={"id": "ab" * 16}))
    assert upgraded.queue().total == 1 and upgraded.scoped("acme").queue().total == 1
