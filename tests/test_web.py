"""The review page in a real browser (Debian's Chromium, driven by Playwright) against a real
server on loopback: filter, edit one draft, approve another, reject a third; then check the
states and the audit log in the database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from assistant.review import DraftStore
from assistant.service import Assistant
from assistant.settings import REPO_ROOT
from tests.chromaserver import serving
from tests.conftest import api_headers, new_assistant

pytestmark = pytest.mark.network
SHOTS = REPO_ROOT / "out" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed; `make test` installs it as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture()
def server(settings) -> Iterator[tuple[str, Assistant]]:
    assistant = new_assistant(settings)
    with serving(create_app(assistant=assistant)) as base:
        yield base, assistant


def test_agent_reviews_three_drafts_in_the_browser(server, settings):
    from playwright.sync_api import expect, sync_playwright

    base, assistant = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    texts = {
        "typo": "The invoice has my name misspelled, could you fix it?",
        "late": "My parcel is two weeks late and nobody answers my emails.",
        "ill": "We all got food poisoning after the chicken at your restaurant on Friday.",
    }
    ids = {}
    headers = api_headers(assistant, "acme")
    api_key = headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        for key, text in texts.items():
            r = client.post("/v1/drafts", json={"text": text, "customer_id": f"c-{key}"})
            assert r.status_code == 201, r.text
            ids[key] = r.json()["id"]
    acme = assistant.for_tenant("acme")
    severities = {k: acme.drafts.get(i).classification.severity for k, i in ids.items()}
    assert severities["ill"] == "critical"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 820})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
        page.goto(base + "/")
        expect(page.locator("#message")).to_contain_text("needs an API key")
        page.fill("#apikey", api_key)
        page.locator("#apikey").dispatch_event("change")
        expect(page.locator("#count")).to_have_text("3 drafts")
        page.fill("#reviewer", "maria")
        page.locator("#reviewer").dispatch_event("change")
        page.screenshot(path=str(SHOTS / "1-queue.png"), full_page=True)

        # Filter to the critical one and reject it with a reason.
        page.select_option("select[name=severity]", "critical")
        expect(page.locator("#count")).to_have_text("1 draft")
        expect(page.locator("#d-complaint")).to_have_text(texts["ill"])
        expect(page.locator("select[name=fix-severity]")).to_have_value("critical")
        page.fill("#reason", "needs a call from the manager, not a written reply")
        page.click("#reject")
        expect(page.locator("#message")).to_have_text("rejected by maria")
        expect(page.locator("#count")).to_have_text("0 drafts")
        page.select_option("select[name=severity]", "")
        expect(page.locator("#count")).to_have_text("2 drafts")

        # Edit the late parcel: type into the draft, save with Ctrl+Enter.
        page.locator("#items li", has_text="parcel").click()
        expect(page.locator("#d-complaint")).to_have_text(texts["late"])
        # The team reads it as more work than the engine did: one choice corrects it.
        page.select_option("select[name=fix-effort]", "high")
        expect(page.locator("#message")).to_have_text(
            "effort set to high by maria; this team's model learns it")
        expect(page.locator("select[name=fix-effort]")).to_have_value("high")
        # No gesture for this one: one click words the reply again without it.
        gesture = acme.drafts.get(ids["late"]).gesture
        assert gesture is not None and gesture.text in page.locator("#d-reply").input_value()
        page.click("#d-gesture button[data-option=none]")
        expect(page.locator("#message")).to_have_text("gesture removed by maria")
        expect(page.locator("#d-gesture")).to_contain_text("No gesture.")
        assert gesture.text not in page.locator("#d-reply").input_value()
        expect(page.locator("#approve")).to_be_enabled()
        page.locator("#d-reply").press("End")
        page.locator("#d-reply").press("Control+End")
        page.locator("#d-reply").type(" PS: I've already called the carrier.")
        expect(page.locator("#approve")).to_be_disabled()
        page.screenshot(path=str(SHOTS / "2-editing.png"), full_page=True)
        page.locator("#d-reply").press("Control+Enter")
        expect(page.locator("#message")).to_have_text("edited by maria")

        # Approve the invoice typo with the keyboard.
        expect(page.locator("#d-complaint")).to_have_text(texts["typo"])
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("a")
        expect(page.locator("#message")).to_have_text("approved by maria")
        expect(page.locator("#count")).to_have_text("0 drafts")
        page.select_option("select[name=status]", "")
        expect(page.locator("#count")).to_have_text("3 drafts")
        page.screenshot(path=str(SHOTS / "3-all-reviewed.png"), full_page=True)
        browser.close()
    assert errors == []

    store = DraftStore(settings.resolved_database_url).scoped("acme")
    assert {k: store.get(i).status for k, i in ids.items()} == {
        "typo": "approved", "late": "edited", "ill": "rejected"}
    edited = store.audit(ids["late"])
    assert [e.action for e in edited] == ["created", "relabel", "reworded", "edited"]
    assert edited[1].actor == edited[2].actor == edited[3].actor == "maria"
    assert edited[3].after == edited[3].before + " PS: I've already called the carrier."
    assert store.get(ids["late"]).classification.effort == "high"
    assert [e.labels["effort"] for e in acme.learned.examples()] == ["high"]
    assert store.audit(ids["ill"])[1].note.startswith("needs a call")
    assert Path(SHOTS / "3-all-reviewed.png").stat().st_size > 10_000
