"""Exports as people really save them, and rows built to break a run: every bad row is a
problem with its line number and what to fix, never a failed run, never a customer field's
value in a message; the CSV a person opens runs no formula."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.triage import PRESETS, RowProblem, read_export, run_triage
from assistant.triage.rows import FIELD_LIMIT, sniff
from tests.conftest import new_assistant

GENERIC = PRESETS["generic"]
HEADER = ["ticket_id", "text", "customer_id", "csat"]


def _tickets(path: Path) -> tuple[list, list[RowProblem]]:
    problems: list[RowProblem] = []
    return list(read_export(path, GENERIC, problems)), problems


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in rows)


@pytest.mark.parametrize(("encoding", "delimiter", "described"), [
    ("utf-8-sig", ";", "semicolon-separated, utf-8-sig"),  # Excel's "CSV UTF-8", Nordic locale
    ("utf-16", "\t", "tab-separated, utf-16"),
    ("utf-8", ",", "comma-separated, utf-8"),
])
def test_encodings_and_delimiters_are_detected(tmp_path, encoding, delimiter, described):
    path = tmp_path / "export.csv"
    body = "\r\n\r\n" + _csv([HEADER, ["t1", "Paketet är sent", "c1", "3"],
                              ["t2", "Die App stürzt ab", "c2", "2"]], delimiter)
    path.write_bytes(body.encode(encoding))
    assert sniff(path).describe() == described
    tickets, problems = _tickets(path)
    assert [t.id for t in tickets] == ["t1", "t2"] and problems == []
    assert tickets[1].text == "Die App stürzt ab" and tickets[0].csat == 3.0


def test_rows_built_to_break_a_run_become_problems(tmp_path):
    path = tmp_path / "export.csv"
    huge = "x" * (FIELD_LIMIT + 10)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow(["t1", "My parcel is late", "Anna Svensson", "2"])  # a name, not an id
        writer.writerow(["x" * 129, "Too long an id", "c2", "2"])
        writer.writerow(["t3", huge, "c3", "2"])
        writer.writerow(["t\x004", "A NUL in the id", "c4", "2"])
        writer.writerow(["t5", "After the bad rows", "c5", "2"])
    tickets, problems = _tickets(path)
    assert [t.id for t in tickets] == ["t1", "t4", "t5"]
    assert tickets[0].customer_id is None  # triaged, without history
    by_row = {p.row: p.problem for p in problems}
    assert "customer column holds no id" in by_row[2] and "Anna" not in by_row[2]
    assert "at most 128" in by_row[3]
    assert "KiB" in by_row[4]
    assert all("Svensson" not in p.model_dump_json() for p in problems)


def test_duplicate_headers_and_an_unclosed_quote_are_reported(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("ticket_id,text,text,csat\r\nt1,first,second,2\r\n"
                    't2,"never closed,3\r\nt3,swallowed,x,2\r\n', encoding="utf-8")
    tickets, problems = _tickets(path)
    assert [(t.id, t.text) for t in tickets] == [("t1", "first")]
    messages = " ".join(p.problem for p in problems)
    assert "column 'text' appears 2 times" in messages
    assert "never closed" in messages


def test_a_deeply_nested_json_line_is_a_problem(tmp_path):
    path = tmp_path / "export.jsonl"
    nested = "[" * 100_000 + "]" * 100_000
    lines = [json.dumps({"ticket_id": "t1", "text": "Late again", "csat": 2}),
             '{"ticket_id": "t2", "text": ' + nested + ', "csat": 2}',
             json.dumps({"ticket_id": "t3", "text": "Still late", "csat": 2})]
    path.write_text("\n".join(lines) + "\n")
    tickets, problems = _tickets(path)
    assert [t.id for t in tickets] == ["t1", "t3"]
    assert problems[0].row == 2 and "nested too deeply" in problems[0].problem


@pytest.mark.network
def test_a_hostile_export_runs_to_the_end_with_inert_cells(tmp_path):
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow(["t1", '=HYPERLINK("http://x.invalid","click") my parcel is late',
                         "Anna Svensson", "2"])
        writer.writerow(["+t2", "@SUM(1) the app crashes", "c2", "1"])
        writer.writerow(["t3", "\tThe invoice is wrong", "c3", "1"])
    assistant = new_assistant(Settings(data_dir=tmp_path / "data", engine="offline"))
    summary = run_triage(assistant, path, tmp_path / "out", preset=GENERIC, signer="Ops\x07")
    assert summary.selected == 3 and summary.problems == 1
    with (tmp_path / "out" / "triage.csv").open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
