"""Turn a decoded CSV or JSONL file into records that remember their line.

Every record carries the 1-based line where it starts, so any later stage can name file
and line; a line that cannot become a record is returned as a rejected line, never dropped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from builders.readers.encoding import DecodedFile, decode_file


@dataclass(slots=True)
class Record:
    """One raw row: its fields as read (strings, or JSON values for JSONL) and its place."""

    file: str
    line: int
    fields: dict


@dataclass(frozen=True)
class BadLine:
    """A raw row that could not be read into a record."""

    file: str
    line: int
    field: str
    reason: str


@dataclass
class RawTable:
    """The records of one raw file, with the header it declared and the lines it lost."""

    file: str
    encoding: str
    columns: list[str]
    records: list[Record]
    bad: list[BadLine]


def read_csv(path: Path, name: str, decoded: DecodedFile | None = None) -> RawTable:
    """Read a CSV written by pandas ``to_csv`` (quoted multi-line cells allowed)."""
    decoded = decoded or decode_file(path)
    reader = csv.reader(io.StringIO(decoded.text, newline=""))
    records: list[Record] = []
    bad: list[BadLine] = []
    header: list[str] | None = None
    end = 0
    for row in reader:
        start, end = end + 1, reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = [column.strip() for column in row]
            continue
        if decoded.bad_lines and any(n in decoded.bad_lines for n in range(start, end + 1)):
            bad.append(BadLine(name, start, "*", f"undecodable bytes for {decoded.encoding}"))
            continue
        if len(row) != len(header):
            bad.append(BadLine(name, start, "*", f"expected {len(header)} fields, found {len(row)}"))
            continue
        records.append(Record(name, start, dict(zip(header, row, strict=True))))
    return RawTable(name, decoded.encoding, header or [], records, bad)


def read_jsonl(path: Path, name: str, decoded: DecodedFile | None = None) -> RawTable:
    """Read one JSON object per line; malformed lines become bad lines."""
    decoded = decoded or decode_file(path)
    records: list[Record] = []
    bad: list[BadLine] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        if number in decoded.bad_lines:
            bad.append(BadLine(name, number, "*", f"undecodable bytes for {decoded.encoding}"))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append(BadLine(name, number, "*", f"malformed JSON: {err.msg} at column {err.colno}"))
            continue
        if not isinstance(value, dict):
            bad.append(BadLine(name, number, "*", "a JSONL line must be an object"))
            continue
        columns.update(dict.fromkeys(value))
        records.append(Record(name, number, value))
    return RawTable(name, decoded.encoding, list(columns), records, bad)


def read_table(path: Path, name: str) -> RawTable:
    """Read a raw CSV or JSONL file by its extension."""
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, name)
    return read_csv(path, name)
