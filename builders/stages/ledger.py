"""Where every raw row ended: published, folded into a kept row, excluded by its label, or rejected.

The ledger refuses to record a row twice, and :meth:`Ledger.check_complete` proves each row
read has exactly one outcome, so the counts in the build report always add up.

A full build records about a million and a half rows, so the ledger keeps them column-wise,
one :class:`_File` per raw file: a byte per line for what is known of it, and the outcomes
in the order they were recorded. :class:`Entry` objects are only made when asked for.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OUTCOMES = ("published", "folded", "excluded", "rejected")

_NOT_READ, _READ = 0, 1
"""A line's state: never read, read without an outcome, or ``_CODE[outcome]``."""
_CODE = {outcome: code for code, outcome in enumerate(OUTCOMES, start=2)}
_OUTCOME = (None, None, *OUTCOMES)


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


def _refusal(file: str, line: int, state: int, outcome: str) -> RuntimeError:
    """Why a row cannot be given ``outcome``: it was never read, or it already has one."""
    if state == _NOT_READ:
        return RuntimeError(f"{file}:{line} was given an outcome but never read")
    return RuntimeError(f"{file}:{line} already {_OUTCOME[state]}; cannot also be {outcome}")


def _take(values: Sequence, rows: np.ndarray) -> list:
    return list(map(values.__getitem__, rows.tolist()))


_TEXT = pa.large_string()


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def _strings(values: list[str | None], rows: np.ndarray) -> pa.Array:
    """``values[rows]`` as Arrow strings: converted whole when most are taken (one pass in
    order), else picked first."""
    if 2 * len(rows) < len(values):
        return pa.array(_take(values, rows), _TEXT)
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
            return _take(self._parts[0], rows)
        return self.strings(rows).to_pylist()


def _id_at(ids: Sequence[str | None] | pa.Array, i: int) -> str | None:
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


class _File:
    """The rows of one raw file of one config.

    ``state`` holds a byte per line number (``_NOT_READ``, ``_READ`` or an outcome's code), so
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
                self.state[line] = _READ
        else:
            self.sparse.setdefault(line, _READ)

    def read_lines(self, lines: np.ndarray) -> None:
        if int(lines.min()) < 0 or not self._grow(int(lines.max()), len(lines)):
            dense = (lines >= 0) & (lines < max(len(self.state), 1 << 16))
            for line in lines[~dense].tolist():
                self.sparse.setdefault(line, _READ)
            lines = lines[dense]
            self._grow(int(lines.max(initial=-1)), len(lines))
        view = np.frombuffer(self.state, np.uint8)
        view[lines] = np.maximum(view[lines], _READ)

    def record(self, file: str, line: int, outcome: str, row_id: str | None, field: str | None,
               reason: str | None) -> None:
        """Record one row, or raise if it was never read or already has an outcome."""
        state, code = self.state, _CODE[outcome]
        if 0 <= line < len(state):
            if state[line] != _READ:
                raise _refusal(file, line, state[line], outcome)
            state[line] = code
        else:
            if self.sparse.get(line, _NOT_READ) != _READ:
                raise _refusal(file, line, self.sparse.get(line, _NOT_READ), outcome)
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
        if not (view[lines] == _READ).all():
            return False
        if hi - lo > 64 * len(lines):
            ordered = np.sort(lines)
            if (ordered[1:] == ordered[:-1]).any():
                return False
            view[lines] = code
            return True
        window = view[lo:hi + 1]
        unclaimed = np.count_nonzero(window == _READ)
        view[lines] = code
        if unclaimed - np.count_nonzero(window == _READ) == len(lines):
            return True
        view[lines] = _READ  # a line occurs twice
        return False

    def release(self, lines: np.ndarray) -> None:
        """Undo :meth:`claim`."""
        np.frombuffer(self.state, np.uint8)[lines] = _READ

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
        return np.bincount(np.frombuffer(self.codes, np.uint8), minlength=len(_OUTCOME))[2:]

    def unrecorded(self) -> tuple[int, list[int]]:
        """How many rows read have no outcome, and the first five of their lines."""
        dense = np.flatnonzero(np.frombuffer(self.state, np.uint8) == _READ)
        sparse = sorted(line for line, state in self.sparse.items() if state == _READ)
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
        return list(map(Entry, repeat(config), repeat(file), lines.tolist(), _take(_OUTCOME, self._codes(rows)),
                        self.ids.take(rows), _take(self.fields, rows), _take(self.reasons, rows)))

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


class Ledger:
    """Outcomes of the raw rows of one build, keyed by (config, file, line)."""

    def __init__(self) -> None:
        self._configs: dict[str, dict[str, _File]] = {}

    def _file(self, config: str, file: str) -> _File:
        files = self._configs.get(config)
        if files is None:
            files = self._configs[config] = {}
        block = files.get(file)
        if block is None:
            block = files[file] = _File()
        return block

    def _read_file(self, config: str, file: str) -> _File | None:
        files = self._configs.get(config)
        return None if files is None else files.get(file)

    def read(self, config: str, file: str, line: int) -> None:
        """Register a raw row as read; it must later get exactly one outcome."""
        self._file(config, file).read(line)

    def read_lines(self, config: str, file: str, lines: Iterable[int] | np.ndarray) -> None:
        """Register many raw rows of one file as read (a file read column-wise); a numpy
        integer array is taken as it is."""
        lines = _line_array(lines)
        if len(lines):
            self._file(config, file).read_lines(lines)

    def _record(self, config: str, file: str, line: int, outcome: str, row_id: str | None = None,
                field: str | None = None, reason: str | None = None) -> None:
        block = self._read_file(config, file)
        if block is None:
            raise _refusal(file, line, _NOT_READ, outcome)
        block.record(file, line, outcome, row_id, field, reason)

    def publish(self, config: str, file: str, line: int, row_id: str, note: str | None = None) -> None:
        """``note``: e.g. how many rows one raw row became (a blob of scenes)."""
        self._record(config, file, line, "published", row_id, None, note)

    def publish_many(self, config: str, published: Iterable[tuple[str, int, str]]) -> None:
        """Record many ``(file, line, row id)`` as published: a rules build publishes a quarter of a million
        (:meth:`publish_lines` takes the rows of one file as columns, without a tuple each)."""
        self._record_many(config, "published", published, 3)

    def publish_lines(self, config: str, file: str, lines: Sequence[int] | np.ndarray, ids: Sequence[str]) -> None:
        """Record rows of one file as published, given as columns: what :meth:`publish_many`
        records of ``zip(repeat(file), lines, ids)``, without a tuple per row."""
        self._record_lines(config, "published", file, lines, ids, None)

    def publish_columns(self, config: str, files: Sequence[str], lines: Sequence[int] | np.ndarray,
                        ids: Sequence[str] | pa.Array) -> None:
        """Record rows of several files as published, given as columns (each row's file, line and id):
        what :meth:`publish_many` records of the zipped columns, without a tuple per row. Ids given
        as an Arrow array are kept as one."""
        line_array = _line_array(lines)
        if not len(files) == len(line_array) == len(ids):
            raise ValueError(f"{len(files)} files, {len(line_array)} lines and {len(ids)} ids")
        self._record_columns(config, "published", files, line_array, ids, None)

    def fold(self, config: str, file: str, line: int, into: str, reason: str) -> None:
        self._record(config, file, line, "folded", into, None, reason)

    def fold_many(self, config: str, folded: Iterable[tuple[str, int, str, str]]) -> None:
        """Record many ``(file, line, id folded into, reason)`` as folded (hundreds of thousands of copies;
        :meth:`fold_lines` takes the rows of one file as columns, without a tuple each)."""
        self._record_many(config, "folded", folded, 4)

    def fold_lines(self, config: str, file: str, lines: Sequence[int] | np.ndarray, into: Sequence[str],
                   reasons: Sequence[str] | str) -> None:
        """Record rows of one file as folded, given as columns (``reasons``: one for all, or one
        per row): what :meth:`fold_many` records of the zipped columns, without a tuple per row."""
        self._record_lines(config, "folded", file, lines, into, reasons)

    def _record_lines(self, config: str, outcome: str, file: str, lines: Sequence[int] | np.ndarray,
                      ids: Sequence[str], reasons: Sequence[str] | str | None) -> None:
        line_array = _line_array(lines)
        if isinstance(reasons, str):
            reasons = [reasons] * len(line_array)
        if len(ids) != len(line_array) or (reasons is not None and len(reasons) != len(line_array)):
            raise ValueError(f"{len(line_array)} lines but {len(ids)} ids" +
                             ("" if reasons is None else f" and {len(reasons)} reasons"))
        if not len(line_array):
            return
        block = self._read_file(config, file)
        if block is not None and block.claim(line_array, _CODE[outcome]):
            block.append(line_array, _CODE[outcome], list(ids), None, None if reasons is None else list(reasons))
            return
        for i, line in enumerate(line_array.tolist()):  # raises the error of the first row refused
            self._record(config, file, line, outcome, ids[i], None, None if reasons is None else reasons[i])

    def _record_many(self, config: str, outcome: str, rows: Iterable[tuple], width: int) -> None:
        """Rows of ``width`` columns (file, line, id[, reason]), recorded as columns (:meth:`_record_columns`)."""
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
        columns = _columns(rows, width)
        if columns is None:  # raises the error of the first row that cannot be recorded
            if width == 3:
                for file, line, row_id in rows:
                    self._record(config, file, line, outcome, row_id)
            else:
                for file, line, row_id, reason in rows:
                    self._record(config, file, line, outcome, row_id, None, reason)
            return
        self._record_columns(config, outcome, *columns[:3], columns[3] if width == 4 else None)

    def _record_columns(self, config: str, outcome: str, files: Sequence[str], line_array: np.ndarray,
                        ids: Sequence[str] | pa.Array, reasons: Sequence[str] | None) -> None:
        """Rows given as columns, checked and recorded per file; if any is refused, recorded one by
        one so the same rows are recorded before the same error as row by row."""
        if not len(line_array):
            return
        groups = self._claimed(config, outcome, files, line_array)
        if groups is None:  # raises the error of the first row refused
            for i, (file, line) in enumerate(zip(files, line_array.tolist(), strict=True)):
                self._record(config, file, line, outcome, _id_at(ids, i), None, None if reasons is None else reasons[i])
            return
        code = _CODE[outcome]
        arrow = isinstance(ids, pa.Array)
        for block, positions, lines in groups:
            if positions is None:
                block.append(lines, code, ids if arrow else list(ids), None, None if reasons is None else list(reasons))
            else:
                block.append(lines, code, ids.take(pa.array(positions)) if arrow else _take(ids, positions), None,
                             None if reasons is None else _take(reasons, positions))

    def _claimed(self, config: str, outcome: str, files: Sequence[str], lines: np.ndarray
                 ) -> list[tuple[_File, np.ndarray | None, np.ndarray]] | None:
        """The rows of each file claimed (its block, the rows' positions, lines), or ``None``
        with nothing changed if any row is refused."""
        names = list(dict.fromkeys(files))
        if len(names) == 1:
            split = [(names[0], None, lines)]
        else:
            number = {name: i for i, name in enumerate(names)}
            which = np.fromiter(map(number.__getitem__, files), np.int64 if len(names) > 32767 else np.int16,
                                len(files))
            order = np.argsort(which, kind="stable")
            bounds = np.cumsum(np.bincount(which, minlength=len(names)))[:-1]
            split = [(name, positions, lines[positions])
                     for name, positions in zip(names, np.split(order, bounds), strict=True)]
        claimed = []
        for name, positions, file_lines in split:
            block = self._read_file(config, name)
            if block is None or not block.claim(file_lines, _CODE[outcome]):
                for done, _, done_lines in claimed:
                    done.release(done_lines)
                return None
            claimed.append((block, positions, file_lines))
        return claimed

    def exclude(self, config: str, file: str, line: int, reason: str, row_id: str | None = None) -> None:
        self._record(config, file, line, "excluded", row_id, None, reason)

    def reject(self, config: str, file: str, line: int, field: str, reason: str, row_id: str | None = None) -> None:
        """``row_id``: the id the row would have had, when known, so a removal can be explained."""
        self._record(config, file, line, "rejected", row_id, field, reason)

    def _files(self, config: str | None = None) -> Iterable[tuple[str, str, _File]]:
        """Every file's rows, by config and file (the order of the ledger's keys)."""
        for name in sorted(self._configs) if config is None else [c for c in (config,) if c in self._configs]:
            files = self._configs[name]
            for file in sorted(files):
                yield name, file, files[file]

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        """Entries sorted by file and line, optionally of one outcome and config."""
        codes = [code for name, code in _CODE.items() if outcome in (None, name)]
        return [entry for name, file, block in self._files(config) for entry in block.entries(name, file, codes)]

    def counts(self, config: str | None = None) -> dict[str, int]:
        """Rows read and rows per outcome, of one config or of all."""
        if config is not None:
            return self.counts_by_config([config])[config]
        by_config = self.counts_by_config(self._configs).values()
        return {key: sum(counts[key] for counts in by_config) for key in ("read", *OUTCOMES)}

    def counts_by_config(self, configs: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`counts` of each config (every outcome is of a row read)."""
        counts = {}
        for config in configs:
            read, tally = 0, np.zeros(len(OUTCOMES), np.int64)
            for _, _, block in self._files(config):
                read += block.read_count()
                tally += block.outcome_counts()
            counts[config] = {"read": read, **dict(zip(OUTCOMES, tally.tolist(), strict=True))}
        return counts

    def check_complete(self) -> None:
        """Raise if any row read has no outcome (a row would be lost without trace)."""
        lost, sample = 0, []
        for _, file, block in self._files():
            count, lines = block.unrecorded()
            lost += count
            sample += [f"{file}:{line}" for line in lines[:5 - len(sample)]]
        if lost:
            raise RuntimeError(f"{lost} raw rows have no outcome (e.g. {', '.join(sample)})")

    def write(self, report_dir: Path) -> None:
        """Write ``rejects.jsonl`` and ``folds.jsonl`` (one JSON object per raw row, by config,
        file and line, each line ending in ``\\n``), a file's rows at a time."""
        report_dir.mkdir(parents=True, exist_ok=True)
        for name, outcomes in (("rejects", ("rejected",)), ("folds", ("folded", "excluded"))):
            codes = [_CODE[outcome] for outcome in outcomes]
            with open(report_dir / f"{name}.jsonl", "wb") as fh:
                for config, file, block in self._files():
                    fh.write(block.jsonl(config, file, codes))


def _line_array(lines: Iterable[int] | np.ndarray) -> np.ndarray:
    """Line numbers as an int64 array."""
    if isinstance(lines, np.ndarray):
        return lines.astype(np.int64, copy=False)
    if isinstance(lines, (list, tuple, range)):
        return np.array(lines, np.int64)
    return np.fromiter(lines, np.int64)


def _columns(rows: list[tuple], width: int) -> tuple | None:
    """Rows of ``width`` values as columns, the lines an int64 array; ``None`` if some row is not."""
    try:
        if set(map(len, rows)) != {width}:
            return None
    except TypeError:  # a row that is an iterator
        return None
    files, lines, *rest = (list(map(itemgetter(i), rows)) for i in range(width))
    try:
        line_array = np.array(lines, np.int64)
    except (TypeError, ValueError, OverflowError):
        return None
    return (files, line_array, *rest)
