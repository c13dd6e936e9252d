"""Nightly triage over generated Zendesk, Freshdesk and Intercom exports; kill and resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy.orm import Session

from api.app import create_app
from assistant.errors import InvalidInput
from assistant.models import HistoryItemIn, HistoryKind
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import TriageRunRow
from assistant.triage import (
    PRESETS,
    PresetName,
    TriageRuns,
    run_triage,
    score_0_10,
)
from tests.chromaserver import serving
from tests.conftest import api_client, api_headers, new_assistant
from tests.exports import COMPLAINTS, FLAWS, write_export


@pytest.fixture()
def settings(store_settings):
    """These tests run on the embedded stores and on a Chroma server with PostgreSQL."""
    return store_settings


SUFFIX = {"zendesk": "csv", "freshdesk": "jsonl", "intercom": "jsonl"}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Assistant:
    settings = Settings(data_dir=tmp_path_factory.mktemp("triage"), engine="offline")
    return new_assistant(settings)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("kind", ["zendesk", "freshdesk", "intercom"])
def test_triage_of_a_preset_export(kind, assistant, tmp_path):
    export = tmp_path / f"export.{SUFFIX[kind]}"
    low = write_export(kind, export, 2000)
    summary = run_triage(assistant, export, tmp_path / "out", preset=PRESETS[kind],
                         signer="Tyler, CEO")
    out = tmp_path / "out"
    rows = lines(out / "triage.jsonl")
    assert summary.read == 2000 and summary.selected == low == len(rows)
    assert summary.problems == FLAWS
    assert {p["problem"].split(" ")[0] for p in lines(out / "problems.jsonl")} == {
        "no", "duplicate", "rating", "text"}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    listed = [r for r in rows if r["tonight"]]
    assert len(listed) == summary.tonight == 10 and rows[:10] == listed, "tonight's list first"
    assert len({r["customer_id"] for r in listed}) == 10, "one row per customer"
    rest = [r["score"] for r in rows[10:]]
    assert rest == sorted(rest, reverse=True), "the rest by score"
    wins = [r for r in rows if r["route"] == "quick_win"]
    assert all(r["csat_0_10"] < 7 for r in rows)
    # Drafts for tonight's list only (the default), each for review in the signer's voice.
    assert all(r["draft_id"] for r in listed if r["language"] in {"en", "sv", "da", "nb", "de"})
    assert not any(r["draft_id"] for r in rows[10:])
    for row in listed:
        draft = assistant.drafts.get(row["draft_id"])
        assert draft.status == "pending_review" and draft.reply.endswith("Tyler, CEO")
        assert "<p>" not in draft.complaint and "&amp;" not in draft.complaint  # Intercom's HTML
    assert all(r["reasons"]["severity"] for r in rows)
    report = (out / "report.md").read_text()
    # Systemic themes above the individual list, then the list, then every theme.
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[:3] == [headings[0], "## Tonight's list (10)", headings[2]]
    assert headings[0].startswith("## Fix once, for many") and headings[2].startswith("## Themes")
    assert f"Quick wins **{len(wins)}**" in report and "severity-effort.png" in report
    assert (out / "severity-effort.png").read_bytes()[:4] == b"\x89PNG"
    with (out / "triage.csv").open() as handle:
        assert sum(1 for _ in handle) == len(rows) + 1


def test_killed_run_resumes_to_the_same_result(tmp_path):
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 1200, seed=11)
    killed_out, var = tmp_path / "killed", tmp_path / "var"
    command = [sys.executable, "-c", "from assistant.cli import app; app()", "triage",
               str(export), "--out", str(killed_out), "--preset", "zendesk"]
    env = {**os.environ, "RECOVERY_DATA_DIR": str(var), "RECOVERY_ENGINE": "offline"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL)
    checkpoint = killed_out / "checkpoint.db"
    deadline = time.monotonic() + 120
    done = 0
    while done < 64:
        assert time.monotonic() < deadline and process.poll() is None, "never checkpointed"
        time.sleep(0.05)
        if checkpoint.exists():
            try:
                with sqlite3.connect(checkpoint) as db:
                    done = db.execute("select count(*) from triage_ticket").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with sqlite3.connect(checkpoint) as db:
        done = db.execute("select count(*) from triage_ticket").fetchone()[0]
    assert 0 < done < low, "the kill must land mid-run"

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{done} resumed from the checkpoint" in again.stdout

    # The uninterrupted run in a data folder of its own: no earlier run for its themes to
    # compare with, as for the killed one.
    fresh = new_assistant(Settings(data_dir=tmp_path / "whole-var", engine="offline"))
    whole = run_triage(fresh, export, tmp_path / "whole", preset=PRESETS["zendesk"])
    assert whole.selected == low
    assert (killed_out / "triage.jsonl").read_text() == (
        tmp_path / "whole" / "triage.jsonl").read_text()
    assert (killed_out / "report.md").read_text() == (tmp_path / "whole" / "report.md").read_text()
    listed = sum(bool(r["tonight"]) for r in lines(killed_out / "triage.jsonl"))
    with sqlite3.connect(var / "recovery.db") as db:
        drafts = db.execute("select count(*), count(distinct id) from drafts").fetchone()
    assert drafts == (listed, listed), "tonight's list was drafted twice or not at all"


def test_an_output_folder_belongs_to_one_run(assistant, tmp_path):
    export = tmp_path / "export.csv"
    write_export("zendesk", export, 100)
    run_triage(assistant, export, tmp_path / "out", preset=PRESETS["zendesk"])
    with pytest.raises(InvalidInput, match="other arguments"):
        run_triage(assistant, export, tmp_path / "out", preset=PRESETS["zendesk"],
                   csat_below=5)


def test_rating_scales_map_to_0_10():
    assert score_0_10("bad", "good-bad") == 0 and score_0_10("Good", "good-bad") == 10
    assert score_0_10("unoffered", "good-bad") is None
    assert score_0_10("neutral", "happy-neutral-unhappy") == 5
    assert [score_0_10(v, "1-5") for v in (1, 3, 4, 5)] == [0, 5, 7.5, 10]
    assert score_0_10("6,5", "0-10") == 6.5 and score_0_10("", "0-10") is None
    with pytest.raises(ValueError, match="outside"):
        score_0_10(11, "0-10")


def test_triage_run_over_http(settings, tmp_path):
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 300)
    assistant = new_assistant(settings)
    with api_client(assistant) as client:
        r = client.post("/v1/triage-runs", params={"preset": "zendesk", "signer": "Tyler"},
                        content=export.read_bytes())
        assert r.status_code == 202, r.text
        run = r.json()
        assert run["status"] in {"queued", "running"} and run["preset"] == "zendesk"
        deadline = time.monotonic() + 120
        while run["status"] in {"queued", "running"}:
            assert time.monotonic() < deadline
            time.sleep(0.2)
            run = client.get(f"/v1/triage-runs/{run['id']}").json()
        assert run["status"] == "done", run
        assert run["summary"]["selected"] == low and run["summary"]["problems"] == FLAWS
        rows = client.get(f"/v1/triage-runs/{run['id']}/rows", params={"limit": 1000}).json()
        assert len(rows) == low and rows[0]["rank"] == 1
        report = client.get(f"/v1/triage-runs/{run['id']}/report")
        assert report.status_code == 200 and report.text.startswith("# Triage:")
        assert client.get("/v1/triage-runs/" + "a" * 32).status_code == 404
        empty = client.post("/v1/triage-runs", content=b"")
        assert empty.status_code == 422 and "empty" in empty.json()["detail"]
        unknown = client.post("/v1/triage-runs", params={"preset": "jira"}, content=b"x")
        assert unknown.status_code == 422 and "'zendesk'" in unknown.text
        assert set(get_args(PresetName)) == set(PRESETS)


def test_oversized_upload_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="offline", max_upload_mb=1)
    assistant = Assistant(settings)
    with api_client(assistant) as client:
        r = client.post("/v1/triage-runs", content=b"x" * (1024 * 1024 + 10))
    assert r.status_code == 413 and "RECOVERY_MAX_UPLOAD_MB" in r.json()["detail"]
    assert list((tmp_path / "triage-runs").iterdir()) == []


def test_unfinished_run_resumes_when_the_service_starts(settings, tmp_path):
    """A run cut off by a restart (left 'running' in the database) finishes after it."""
    assistant = new_assistant(settings)
    runs = TriageRuns(assistant)
    run_id = runs.new_run_id()
    export = runs.folder_of(run_id) / "export.csv"
    low = write_export("zendesk", export, 150)
    with Session(runs.db) as session, session.begin():
        session.add(TriageRunRow(id=run_id, status="running", created_at="2026-11-23T02:00:00",
                               arguments=json.dumps({"export": export.name, "preset": "zendesk",
                                                     "csat_below": 7, "signer": None})))
    with api_client(assistant) as client:
        deadline = time.monotonic() + 120
        while (run := client.get(f"/v1/triage-runs/{run_id}").json())["status"] != "done":
            assert run["status"] == "running" and time.monotonic() < deadline, run
            time.sleep(0.2)
    assert run["summary"]["selected"] == low
    assert not export.exists(), "a finished run's upload is deleted; its results stay"


def test_a_tenants_unfinished_exports_count_against_its_upload_cap(settings):
    assistant = new_assistant(settings.model_copy(update={
        "max_upload_mb": 5, "max_stored_upload_mb": 3}))
    runs = TriageRuns(assistant)
    assert runs.upload_room() == (3 * 1024 * 1024, "RECOVERY_MAX_STORED_UPLOAD_MB: exports of "
                                  "runs not yet done count")
    run_id = runs.new_run_id()
    (runs.folder_of(run_id) / "export.csv").write_bytes(b"x" * 2 * 1024 * 1024)
    with Session(runs.db) as session, session.begin():
        session.add(TriageRunRow(id=run_id, status="queued", created_at="2026-11-23T02:00:00",
                                 arguments="{}"))
    assert runs.upload_room()[0] == 1024 * 1024
    other = TriageRuns(assistant.for_tenant("acme"))  # another tenant's cap is its own
    assert other.upload_room()[0] == 3 * 1024 * 1024


@pytest.mark.network
def test_an_upload_cut_off_midway_leaves_nothing(tmp_path):
    assistant = new_assistant(Settings(data_dir=tmp_path, engine="offline"))
    headers = api_headers(assistant)
    with serving(create_app(assistant=assistant)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall((f"POST /v1/triage-runs HTTP/1.1\r\nHost: {host}\r\n"
                         f"Authorization: {headers['Authorization']}\r\n"
                         "Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n"
                         "ticket_id,text,csat\r\nt1,late,2\r\n").encode())
            time.sleep(0.5)
        folder = tmp_path / "triage-runs"
        deadline = time.monotonic() + 10
        while folder.exists() and any(folder.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_runs_of_another_instance_are_left_to_it(settings):
    """With shared stores, a run whose files are on another instance is neither resumed here
    (that instance runs it) nor served as a 500: its rows say where they are."""
    assistant = new_assistant(settings)
    runs = TriageRuns(assistant)
    arguments = json.dumps({"export": "export.csv", "preset": "zendesk", "csat_below": 7,
                            "signer": None})
    with Session(runs.db) as session, session.begin():
        session.add(TriageRunRow(id="e1" * 16, status="running", arguments=arguments,
                               created_at="2026-11-23T02:00:00"))
        session.add(TriageRunRow(id="e2" * 16, status="done", arguments=arguments,
                               created_at="2026-11-23T02:00:00"))
    assert runs.resume_unfinished() == []
    assert runs.get("e1" * 16).status == "running"
    with api_client(assistant) as client:
        r = client.get("/v1/triage-runs/" + "e2" * 16 + "/rows")
    assert r.status_code == 404 and "another instance" in r.json()["detail"]



def test_tonights_list_is_the_best_customers_once_each_and_only_they_get_drafts(tmp_path):
    """Planted best cases: three customers with 20 orders each and a discount code the shop
    refused (medium, trivial to fix, high potential), each with a second low ticket. They
    head the list, once each, with their other ticket listed; only the list gets drafts."""
    assistant = new_assistant(Settings(data_dir=tmp_path / "var", engine="offline"))
    vips = [f"vip-{n}" for n in range(1, 4)]
    for vip in vips:
        assistant.add_history(vip, [HistoryItemIn(kind=HistoryKind.order, text=f"Order {n}",
                                                  at=date(2026, 10, 1 + n)) for n in range(20)])
    export = tmp_path / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket_id", "text", "customer_id", "csat"])
        for n in range(60):
            writer.writerow([f"t{n}", COMPLAINTS[n % len(COMPLAINTS)].format(n=n),
                             f"c{n}", n % 7])
        for n, vip in enumerate(vips):
            writer.writerow([f"v{n}a", f"The discount code from your newsletter was rejected "
                                       f"at checkout, order {4400 + n}.", vip, 2])
            writer.writerow([f"v{n}b", f"My invoice {900 + n} has my name misspelled.", vip, 3])
    summary = run_triage(assistant, export, tmp_path / "out", preset=PRESETS["generic"], top=5)
    rows = lines(tmp_path / "out" / "triage.jsonl")
    listed = [r for r in rows if r["tonight"]]
    assert summary.tonight == len(listed) == 5 and rows[:5] == listed
    assert len({r["customer_id"] for r in listed}) == 5
    assert [r["customer_id"] for r in listed[:3]] == vips
    for row in listed[:3]:
        pair = {row["ticket_id"][:2] + "a", row["ticket_id"][:2] + "b"}
        assert row["other_tickets"] == sorted(pair - {row["ticket_id"]})
        assert set(row["score_parts"]) == {"potential", "ease", "window", "customer"}
        assert row["score_parts"]["customer"] == 2.0
    drafted = [r for r in rows if r["draft_id"]]
    assert drafted == listed
    assert assistant.drafts.queue().total == 5
    # The review page's filter: this run's drafts, and no others.
    assert summary.run_label and assistant.drafts.queue(triage_run=summary.run_label).total == 5
    with api_client(assistant) as client:
        page = client.get("/v1/drafts", params={"triage_run": summary.run_label}).json()
        assert {d["id"] for d in page["items"]} == {r["draft_id"] for r in listed}
        assert client.get("/v1/drafts", params={"triage_run": "0" * 16}).json()["total"] == 0
