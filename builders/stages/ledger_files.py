"""A ledger's rows of one raw file, column-wise: what is known of each line (a byte per line), and the
outcomes in the order they were recorded, written out as JSON lines a column at a time.

A full build records about a million and a half rows, so :class:`FileRows` keeps them as columns and
makes :class:`Entry` objects only when asked for.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OUTCOMES = ("published", "folded", "excluded", "rejected")

NOT_READ, READ = 0, 1
"""A line's state: never read, read without an outcome, or ``CODE[outcome]``."""
CODE = {outcome: code for code, outcome in enumerate(OUTCOMES, start=2)}
OUTCOME_OF = (None, None, *OUTCOMES)


@dataclass(slots=True)
class Entry:
    """The outcome of one raw row."""

    config: str
    file: str
    line: int
    outcome: str
    id: str | None = None
    field: str | None = None
    reason: str | None = None


_ENCODE_STRING = json.encoder.encode_basestring
"""A string as ``json.dumps(..., ensure_ascii=False)`` writes it (the C function, without dispatch)."""


def refusal(file: str, line: int, state: int, outcome: str) -> RuntimeError:
    """Why a row cannot be given ``outcome``: it was never read, or it already has one."""
    if state == NOT_READ:
        return RuntimeError(f"{file}:{line} was given an outcome but never read")
    return RuntimeError(f"{file}:{line} already {OUTCOME_OF[state]}; cannot also be {outcome}")


def take_rows(values: Sequence, rows: np.ndarray) -> list:
    return list(map(values.__getitem__, rows.tolist()))


_TEXT = pa.large_string()


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def _strings(values: list[str | None], rows: np.ndarray) -> pa.Array:
    """``values[rows]`` as Arrow strings: converted whole when most are taken (one pass in
    order), else picked first."""
    if 2 * len(rows) < len(values):
        return pa.array(take_rows(values, rows), _TEXT)
    return pa.array(values, _TEXT).take(pa.array(rows))


class _Ids:
    """A file's ``id`` column: ids recorded one by one as a Python list, and Arrow arrays of ids
    recorded whole as they are (the quarter of a million plain rules' ids are not made Python
    strings unless an entry is asked for)."""

    __slots__ = ("_parts", "_size")

    def __init__(self) -> None:
        self._parts: list[list[str | None] | pa.Array] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _listed(self) -> list[str | None]:
        if not self._parts or not isinstance(self._parts[-1], list):
            self._parts.append([])
        return self._parts[-1]

    def append(self, row_id: str | None) -> None:
        self._listed().append(row_id)
        self._size += 1

    def extend(self, ids: Sequence[str | None] | pa.Array) -> None:
        if isinstance(ids, pa.Array):
            self._parts.append(ids)
        else:
            self._listed().extend(ids)
        self._size += len(ids)

    def strings(self, rows: np.ndarray) -> pa.Array:
        """The ids of ``rows`` (positions in recording order) as Arrow strings."""
        if len(self._parts) <= 1 and not any(isinstance(part, pa.Array) for part in self._parts):
            return _strings(self._parts[0] if self._parts else [], rows)
        starts = np.cumsum([0, *(len(part) for part in self._parts[:-1])])
        part_of = np.searchsorted(starts, rows, side="right") - 1
        order = np.argsort(part_of, kind="stable")
        pieces = []
        for index in np.unique(part_of).tolist():
            part, local = self._parts[index], rows[part_of == index] - starts[index]
            pieces.append(_strings(part, local) if isinstance(part, list) else part.take(pa.array(local)).cast(_TEXT))
        joined = pa.concat_arrays(pieces) if pieces else pa.array([], _TEXT)
        back = np.empty(len(order), np.int64)
        back[order] = np.arange(len(order))
        return joined.take(pa.array(back))

    def take(self, rows: np.ndarray) -> list[str | None]:
        """The ids of ``rows`` (positions in recording order)."""
        if len(self._parts) == 1 and isinstance(self._parts[0], list):
            return take_rows(self._parts[0], rows)
        return self.strings(rows).to_pylist()


def id_at(ids: Sequence[str | None] | pa.Array, i: int) -> str | None:
    return ids[i].as_py() if isinstance(ids, pa.Array) else ids[i]


def _json_parts(strings: pa.Array, key: str) -> pa.Array:
    """``, "key": value`` of each string as ``json.dumps(..., ensure_ascii=False)`` writes it, null
    for a null. Arrow quotes the strings; the few with a character JSON escapes are encoded one
    by one. Those characters (``"``, backslash, controls) are ASCII, whose bytes never occur inside
    another character's UTF-8, so they are found with a scan of the bytes."""
    parts = pc.binary_join_element_wise(_text(f', "{key}": "'), strings, _text('"'), _text(""))
    if strings.null_count == len(strings):
        return parts
    offsets = np.frombuffer(strings.buffers()[1], np.int64)[strings.offset:strings.offset + len(strings) + 1]
    data = np.frombuffer(strings.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    escaped = np.flatnonzero((data < 0x20) | (data == 0x22) | (data == 0x5C))
    if not len(escaped):
        return parts
    rows = np.unique(np.searchsorted(offsets, escaped + offsets[0], side="right") - 1)
    mask = np.zeros(len(strings), bool)
    mask[rows] = True
    encoded = [f', "{key}": {_ENCODE_STRING(strings[i].as_py())}' for i in rows.tolist()]
    return pc.replace_with_mask(parts, pa.array(mask), pa.array(encoded, _TEXT))


_OUTCOME_PARTS = pa.array([f', "outcome": {_ENCODE_STRING(outcome)}' for outcome in OUTCOMES], _TEXT)


class FileRows:
    """The rows of one raw file of one config.

    ``state`` holds a byte per line number (``NOT_READ``, ``READ`` or an outcome's code), so
    checking a row is an index, and checking a column of rows one numpy gather; line numbers
    too far apart for it (or negative) are kept in ``sparse``. The outcomes are columns in the
    order they were recorded.
    """

    __slots__ = ("state", "sparse", "lines", "codes", "ids", "fields", "reasons")

    def __init__(self) -> None:
        self.state = bytearray()
        self.sparse: dict[int, int] = {}
        self.lines = array("q")
        self.codes = bytearray()
        self.ids = _Ids()
        self.fields: list[str | None] = []
        self.reasons: list[str | None] = []

    def _grow(self, top: int, count: int) -> bool:
        """Make ``state`` reach line ``top``, unless that wastes too much memory on ``count`` rows."""
        size = len(self.state)
        if top < size:
            return True
        if top >= 2 * size + 8 * count + (1 << 16):
            return False
        self.state.extend(bytes(max(top + 1, 2 * size) - size))
        if self.sparse:
            for line in [line for line in self.sparse if 0 <= line < len(self.state)]:
                self.state[line] = self.sparse.pop(line)
        return True

    def read(self, line: int) -> None:
        if line >= 0 and self._grow(line, 1):
            if not self.state[line]:
                self.state[line] = READ
        else:
            self.sparse.setdefault(line, READ)

    def read_lines(self, lines: np.ndarray) -> None:
        if int(lines.min()) < 0 or not self._grow(int(lines.max()), len(lines)):
            dense = (lines >= 0) & (lines < max(len(self.state), 1 << 16))
            for line in lines[~dense].tolist():
                self.sparse.setdefault(line, READ)
            lines = lines[dense]
            self._grow(int(lines.max(initial=-1)), len(lines))
        view = np.frombuffer(self.state, np.uint8)
        view[lines] = np.maximum(view[lines], READ)

    def record(self, file: str, line: int, outcome: str, row_id: str | None, field: str | None,
               reason: str | None) -> None:
        """Record one row, or raise if it was never read or already has an outcome."""
        state, code = self.state, CODE[outcome]
        if 0 <= line < len(state):
            if state[line] != READ:
                raise refusal(file, line, state[line], outcome)
            state[line] = code
        else:
            if self.sparse.get(line, NOT_READ) != READ:
                raise refusal(file, line, self.sparse.get(line, NOT_READ), outcome)
            self.sparse[line] = code
        self.lines.append(line)
        self.codes.append(code)
        self.ids.append(row_id)
        self.fields.append(field)
        self.reasons.append(reason)

    def claim(self, lines: np.ndarray, code: int) -> bool:
        """Mark ``lines`` as given the outcome ``code`` if each was read, has no outcome yet and
        occurs once; else change nothing (the caller then records row by row, to raise the error)."""
        lo, hi = int(lines.min()), int(lines.max())
        if lo < 0 or hi >= len(self.state):
            return False
        view = np.frombuffer(self.state, np.uint8)
        if not (view[lines] == READ).all():
            return False
        if hi - lo > 64 * len(lines):
            ordered = np.sort(lines)
            if (ordered[1:] == ordered[:-1]).any():
                return False
            view[lines] = code
            return True
        window = view[lo:hi + 1]
        unclaimed = np.count_nonzero(window == READ)
        view[lines] = code
        if unclaimed - np.count_nonzero(window == READ) == len(lines):
            return True
        view[lines] = READ  # a line occurs twice
        return False

    def release(self, lines: np.ndarray) -> None:
        """Undo :meth:`claim`."""
        np.frombuffer(self.state, np.uint8)[lines] = READ

    def append(self, lines: np.ndarray, code: int, ids: list[str | None] | pa.Array, fields: list[str | None] | None,
               reasons: list[str | None] | None) -> None:
        """Record claimed rows; ``None`` for a column with no values."""
        n = len(lines)
        self.lines.frombytes(lines.astype(np.int64, copy=False).tobytes())
        self.codes.extend(bytes((code,)) * n)
        self.ids.extend(ids)
        self.fields.extend(repeat(None, n) if fields is None else fields)
        self.reasons.extend(repeat(None, n) if reasons is None else reasons)

    def read_count(self) -> int:
        return int(np.count_nonzero(np.frombuffer(self.state, np.uint8))) + len(self.sparse)

    def outcome_counts(self) -> np.ndarray:
        """Rows per outcome, in the order of :data:`OUTCOMES`."""
        return np.bincount(np.frombuffer(self.codes, np.uint8), minlength=len(OUTCOME_OF))[2:]

    def unrecorded(self) -> tuple[int, list[int]]:
        """How many rows read have no outcome, and the first five of their lines."""
        dense = np.flatnonzero(np.frombuffer(self.state, np.uint8) == READ)
        sparse = sorted(line for line, state in self.sparse.items() if state == READ)
        return len(dense) + len(sparse), sorted(dense[:5].tolist() + sparse[:5])[:5]

    def _chosen(self, codes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The rows given one of ``codes``, by line: their lines and positions in the columns."""
        rows = np.flatnonzero(np.isin(np.frombuffer(self.codes, np.uint8), codes))
        lines = np.frombuffer(self.lines, np.int64)[rows]
        order = np.argsort(lines, kind="stable")
        return lines[order], rows[order]

    def _codes(self, rows: np.ndarray) -> np.ndarray:
        return np.frombuffer(self.codes, np.uint8)[rows]

    def entries(self, config: str, file: str, codes: list[int]) -> list[Entry]:
        """The entries of the rows given one of ``codes``, by line."""
        lines, rows = self._chosen(codes)
        return list(map(Entry, repeat(config), repeat(file), lines.tolist(), take_rows(OUTCOME_OF, self._codes(rows)),
                        self.ids.take(rows), take_rows(self.fields, rows), take_rows(self.reasons, rows)))

    def jsonl(self, config: str, file: str, codes: list[int]) -> memoryview:
        """The JSON lines of the rows given one of ``codes``, by line: byte for byte
        ``json.dumps(entry, ensure_ascii=False)`` without the entry's empty fields, joined a
        column at a time."""
        lines, rows = self._chosen(codes)
        if not len(rows):
            return memoryview(b"")
        head = f'{{"config": {_ENCODE_STRING(config)}, "file": {_ENCODE_STRING(file)}, "line": '
        joined = pc.binary_join_element_wise(
            _text(head), pc.cast(pa.array(lines), _TEXT), _OUTCOME_PARTS.take(pa.array(self._codes(rows) - 2)),
            _json_parts(self.ids.strings(rows), "id"),
            _json_parts(_strings(self.fields, rows), "field"), _json_parts(_strings(self.reasons, rows), "reason"),
            _text("}\n"), _text(""), null_handling="replace", null_replacement="")
        offsets = np.frombuffer(joined.buffers()[1], np.int64)
        return memoryview(joined.buffers()[2])[offsets[joined.offset]:offsets[joined.offset + len(joined)]]
