import pytest

from tests.conftest import api_client, new_assistant


@pytest.fixture()
def client(settings):
    assistant = new_assistant(settings)
    with api_client(assistant) as c:
        yield c


def test_health(client):
    assert client.get("/healthz").json() == {
        "status": "ok", "engine": "offline", "model": "rules+ridge+knn-e5",
        "endpoint_problem": None}
    assert client.get("/readyz").status_code == 200


def test_history_then_draft_uses_it(client):
    r = client.post("/v1/customers/guest-214/history", json=[
        {"kind": "preference", "text": "Ordered a strawberry smoothie twice", "at": "2026-11-20",
         "id": "p1"},
        {"kind": "order", "text": "Cobb salad with blue cheese", "at": "2026-11-22"},
    ])
    assert r.status_code == 201, r.text
    assert len(client.get("/v1/customers/guest-214/history").json()) == 2
    r = client.post("/v1/drafts", json={"text": "My salad came without the blue cheese.",
                                        "customer_id": "guest-214"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending_review" and "smoothie" in body["reply"].lower()
    assert "p1" in body["history_used"]
    assert {"prompt_tokens", "completion_tokens", "cost_usd"} <= set(body["usage"])
    for key in ("engine", "model", "prompt_version", "checks", "classification", "gesture"):
        assert key in body


def test_classify_shape(client):
    r = client.post("/v1/classify", json={"text": "Ni har dragit pengar två gånger."})
    assert r.status_code == 200
    body = r.json()
    assert {"severity", "effort", "recovery_potential", "category", "language", "route",
            "confidence", "reasons", "engine", "model", "prompt_version"} <= set(body)
    assert body["language"] == "sv"


@pytest.mark.parametrize(("path", "payload", "fragment"), [
    ("/v1/classify", {"text": ""}, "text"),
    ("/v1/classify", {"text": "   "}, "text"),
    ("/v1/classify", {"text": 42}, "text"),
    ("/v1/classify", {"text": "x", "language": "xx"}, "unknown language code"),
    ("/v1/classify", {"text": "x" * 20_001}, "limit is 20000"),
    ("/v1/drafts", {"text": "Ma commande est perdue.", "language": "fr"}, "replies are written"),
    ("/v1/customers/c1/history", {"kind": "horoscope", "text": "x", "at": "2026-01-01"}, "kind"),
    ("/v1/customers/c1/history", [], "no history items"),
])
def test_bad_input_is_a_clear_4xx(client, path, payload, fragment):
    r = client.post(path, json=payload)
    assert 400 <= r.status_code < 500, r.text
    assert fragment in r.text
