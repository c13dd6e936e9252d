"""Rows of an export file as helpdesks and spreadsheets really write them: UTF-8 with or
without a byte-order mark (Excel's "CSV UTF-8"), UTF-16, commas, semicolons or tabs, blank
lines before the header, and JSONL. Every row comes out as a dict or as a problem with its
line number; nothing in a row stops the run."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# A field may hold a long e-mail thread; far longer is not a complaint (and is reported).
FIELD_LIMIT = 1 << 20
_DELIMITERS = (",", ";", "\t")
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass(frozen=True)
class FileFormat:
    """How an export was read, printed for the person running triage."""

    encoding: str
    delimiter: str | None  # None for JSONL

    def describe(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        how = f"{names[self.delimiter]}-separated" if self.delimiter else "JSON lines"
        return f"{how}, {self.encoding}"


def sniff(path: Path) -> FileFormat:
    """The encoding from the byte-order mark, the delimiter from the header line."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    if path.suffix.lower() in _JSON_SUFFIXES:
        return FileFormat(encoding, None)
    with _open(path, encoding) as handle:
        header = next((line for line in handle if line.strip()), "")
    delimiter = max(_DELIMITERS, key=header.count)
    return FileFormat(encoding, delimiter if header.count(delimiter) else ",")


def _open(path: Path, encoding: str) -> TextIO:
    # Bytes that are not text in that encoding come through as surrogates, so the row is
    # reported instead of stopping the run.
    return path.open(encoding=encoding, errors="surrogateescape", newline="")


def rows(path: Path, found: FileFormat) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, row, problem), streamed."""
    with _open(path, found.encoding) as handle:
        if found.delimiter is None:
            yield from _json_rows(handle)
        else:
            yield from _csv_rows(handle, found.delimiter)


def _json_rows(handle: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg}"
            continue
        except RecursionError:
            yield number, None, "JSON nested too deeply: a ticket is a flat object"
            continue
        yield (number, row, None) if isinstance(row, dict) else (
            number, None, "not a JSON object")


def _csv_rows(handle: TextIO, delimiter: str
              ) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    csv.field_size_limit(min(FIELD_LIMIT, sys.maxsize))
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, _csv_problem(str(exc))
            continue
        if header is None:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines before the header
            header = [cell.strip() for cell in cells]
            for name in sorted({n for n in header if n and header.count(n) > 1}):
                yield start, None, (f"column {name!r} appears {header.count(name)} times; the "
                                    "first is read: rename the others")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            row.setdefault(name, cell)  # the first of duplicate columns
        yield start, row, None


def _csv_problem(message: str) -> str:
    if "field larger than field limit" in message:
        return f"a field is over {FIELD_LIMIT // 1024} KiB: not read"
    if "unexpected end of data" in message or "EOF" in message:
        return ("a quote opened here is never closed: the rest of the file could not be "
                "read as rows")
    return f"not valid CSV: {message}"
