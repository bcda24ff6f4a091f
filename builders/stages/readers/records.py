"""Turn a decoded CSV or JSONL file into records that remember their line.

Every record carries the 1-based line where it starts, so any later stage can name file
and line; a line that cannot become a record is returned as a rejected line, never dropped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from builders.stages.readers.encoding import DecodedFile, EncodingError, decode_bytes, decode_file


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


@dataclass(frozen=True)
class ColumnTable:
    """A CSV read column-wise: every cell a string, and the line each row starts on."""

    table: pa.Table
    lines: np.ndarray
    """1-based line where each row starts (rows with multi-line cells span several lines)."""

    @classmethod
    def of_records(cls, columns: list[str], records: list[Record]) -> ColumnTable:
        """Records of a CSV read row by row, column-wise (every cell the string it was read as)."""
        table = pa.table({c: pa.array([r.fields.get(c) for r in records], pa.string()) for c in columns})
        return cls(table, np.array([r.line for r in records], np.int64))


def _row_lines(table: pa.Table) -> np.ndarray:
    """The line each row starts on (the header being line 1), and one past the last row's end."""
    newlines = np.zeros(table.num_rows, np.int64)
    for column in table.columns:
        newlines += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(zero_copy_only=False)
    bounds = np.empty(table.num_rows + 1, np.int64)
    bounds[0] = 2
    np.cumsum(newlines + 1, out=bounds[1:])
    bounds[1:] += 2
    return bounds


def read_csv_columns(decoded: DecodedFile) -> ColumnTable | None:
    """A CSV column-wise (every cell a string, columns named by the header), read by Arrow.

    Quoted cells may span lines: each row's line is its predecessor's plus the line breaks
    in its cells. That holds only when the header is the first line and no line lies outside
    a row, which the total line count proves; ``None`` (read the records instead) for a file
    with blank lines, ``\r``, undecodable bytes or ragged rows: the row reader then names
    each bad line. Quoting follows :func:`read_csv`.
    """
    if decoded.bad_lines:
        return None
    text = decoded.text
    return _columns(text, _first_line(text), text.count("\n"), "utf-8", lambda: text.encode("utf-8"))


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _first_line(text: str | bytes) -> str | bytes:
    """The text up to its first line break: ``partition`` would copy the whole rest of the file too."""
    end = text.find("\n" if isinstance(text, str) else b"\n")
    return text if end < 0 else text[:end]


def read_gbk_csv_columns(data: bytes) -> ColumnTable | None:
    """:func:`read_csv_columns` of a file's bytes when they are GBK and not UTF-8 (the master table),
    decoded by Arrow as it reads them: the same table, without the file's text held twice in
    memory. ``None`` when the bytes are not all GBK (:func:`decode_bytes` then decides) or the
    file needs the row reader.

    Line breaks, ``\r``, quotes and commas are single bytes that GBK never uses inside a
    character, so they are found in the bytes as in the text.
    """
    if data.startswith(codecs.BOM_UTF8) or not (high := _NON_ASCII.search(data)):
        return None
    try:  # not UTF-8 when its first non-ASCII bytes are not (a character cut off at the end may go on)
        codecs.utf_8_decode(data[high.start():high.start() + 4096], "strict", False)
        return None
    except UnicodeDecodeError:
        pass
    try:
        return _columns(data, _first_line(data).decode("gbk"), data.count(b"\n"), "gbk", lambda: data)
    except UnicodeDecodeError:
        return None


def read_utf8_csv_columns(data: bytes) -> ColumnTable | None:
    """:func:`read_csv_columns` of a file's bytes when they are UTF-8 without a BOM (the dilemma and
    answer files): the same table, without the file decoded into a ``str`` and encoded back to
    bytes for Arrow (for the full dilemma file, two more copies of a quarter of a gigabyte).
    ``None`` when the bytes are not all UTF-8 (:func:`decode_bytes` then decides) or the file
    needs the row reader.
    """
    if data.startswith(codecs.BOM_UTF8) or not _is_utf8(data):
        return None
    return _columns(data, _first_line(data).decode("utf-8"), data.count(b"\n"), "utf-8", lambda: data)


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow in place (Python would build a ``str`` of it)."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _columns(text: str | bytes, first: str, newlines: int, encoding: str,
             encoded: Callable[[], bytes]) -> ColumnTable | None:
    """:func:`read_csv_columns` of a file's ``text`` (or bytes), given its first line, its count of
    line breaks, and its bytes in ``encoding`` (made only if needed)."""
    crlf, newline = ("\r", "\n") if isinstance(text, str) else (b"\r", b"\n")
    if crlf in text or not text or text.startswith(newline) or '"' in first:
        return None
    header = [column.strip() for column in first.split(",")]
    if len(header) < 2:
        return None
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(encoded()),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, encoding=encoding),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except pa.ArrowInvalid:
        return None
    table = pa.table(dict(zip(header, table.columns, strict=True)))
    lines = newlines + (not text.endswith(newline))
    if lines == table.num_rows + 1:
        return ColumnTable(table, np.arange(2, table.num_rows + 2, dtype=np.int64))  # no cell spans lines
    bounds = _row_lines(table)
    if bounds[-1] - 1 != lines:
        return None  # a line outside every row (blank, or not read as a row)
    return ColumnTable(table, bounds[:-1])


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


_HEADER_BYTES = 1 << 16


def read_header(path: Path, name: str) -> list[str]:
    """A raw file's column names, reading no more of a CSV than its first rows.

    Placing a file among the kinds only needs its header; the dilemma file of a quarter of
    a gigabyte is then read once, by its config, not twice.
    """
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, name).columns
    with open(path, "rb") as fh:
        head = fh.read(_HEADER_BYTES)
    if len(head) == _HEADER_BYTES:
        head = head[:head.rfind(b"\n") + 1]
        try:
            table = read_csv(path, name, decode_bytes(head, path))
        except EncodingError:
            table = None
        if table is not None and (table.records or table.bad):  # a row after the header: the header is whole
            return table.columns
    return read_csv(path, name).columns


def read_table(path: Path, name: str) -> RawTable:
    """Read a raw CSV or JSONL file by its extension."""
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, name)
    return read_csv(path, name)
