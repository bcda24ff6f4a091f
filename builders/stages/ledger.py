"""Where every raw row ended: published, folded into a kept row, excluded by its label, or rejected.

The ledger refuses to record a row twice, and :meth:`Ledger.check_complete` proves each row
read has exactly one outcome, so the counts in the build report always add up. A config hands
it its outcomes row by row or as columns (``file``, ``line``, ``id``, ``reason``); the rejects
and folds files are views of them, by config, file and line. The rows of each raw file are kept
column-wise (:mod:`builders.stages.ledger_files`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from builders.stages.ledger_files import (
    CODE,
    NOT_READ,
    OUTCOMES,
    Entry,
    FileRows,
    id_at,
    refusal,
    take_rows,
)

__all__ = ["OUTCOMES", "Entry", "Ledger"]


class Ledger:
    """Outcomes of the raw rows of one build, keyed by (config, file, line)."""

    def __init__(self) -> None:
        self._configs: dict[str, dict[str, FileRows]] = {}

    def _file(self, config: str, file: str) -> FileRows:
        files = self._configs.get(config)
        if files is None:
            files = self._configs[config] = {}
        block = files.get(file)
        if block is None:
            block = files[file] = FileRows()
        return block

    def _read_file(self, config: str, file: str) -> FileRows | None:
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
            raise refusal(file, line, NOT_READ, outcome)
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
        if block is not None and block.claim(line_array, CODE[outcome]):
            block.append(line_array, CODE[outcome], list(ids), None, None if reasons is None else list(reasons))
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
                self._record(config, file, line, outcome, id_at(ids, i), None, None if reasons is None else reasons[i])
            return
        code = CODE[outcome]
        arrow = isinstance(ids, pa.Array)
        for block, positions, lines in groups:
            if positions is None:
                block.append(lines, code, ids if arrow else list(ids), None, None if reasons is None else list(reasons))
            else:
                block.append(lines, code, ids.take(pa.array(positions)) if arrow else take_rows(ids, positions), None,
                             None if reasons is None else take_rows(reasons, positions))

    def _claimed(self, config: str, outcome: str, files: Sequence[str], lines: np.ndarray
                 ) -> list[tuple[FileRows, np.ndarray | None, np.ndarray]] | None:
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
            if block is None or not block.claim(file_lines, CODE[outcome]):
                for done, _, done_lines in claimed:
                    done.release(done_lines)
                return None
            claimed.append((block, positions, file_lines))
        return claimed

    def record_table(self, config: str, outcomes: pl.DataFrame) -> None:
        """Record a config's ledger column: one row per raw row with its ``file``, ``line``, ``outcome``,
        ``id`` (the row published, or folded into, or that would have been), ``field`` and ``reason``.
        The published rows of a file are recorded as columns, the others row by row, by file and line."""
        published = outcomes.filter(pl.col("outcome") == "published")
        for file in sorted(published.get_column("file").unique().to_list()):
            rows = published.filter(pl.col("file") == file)
            self.publish_columns(config, [file] * rows.height, rows.get_column("line").to_numpy(),
                                 rows.get_column("id").to_arrow().cast(pa.string()))
        rest = outcomes.filter(pl.col("outcome") != "published").sort("file", "line")
        for file, line, outcome, row_id, field, reason in rest.select(
                "file", "line", "outcome", "id", "field", "reason").iter_rows():
            self._record(config, file, line, outcome, row_id, field, reason)

    def exclude(self, config: str, file: str, line: int, reason: str, row_id: str | None = None) -> None:
        self._record(config, file, line, "excluded", row_id, None, reason)

    def reject(self, config: str, file: str, line: int, field: str, reason: str, row_id: str | None = None) -> None:
        """``row_id``: the id the row would have had, when known, so a removal can be explained."""
        self._record(config, file, line, "rejected", row_id, field, reason)

    def scene_reply(self, config: str, file: str, line: int, items: int, ids: Sequence[str], new: Sequence[str],
                    noun: str, none_parsed: str) -> None:
        """A raw reply of ``items`` numbered scenes, of which ``ids`` parsed with options A, B and C
        and ``new`` were not kept before: rejected (``none_parsed``), folded, or published once as
        its first new row with the count of ``noun`` and of the items skipped."""
        skipped = items - len(ids)
        if not ids:
            self.reject(config, file, line, "scene", f"{none_parsed} ({items} numbered items)")
        elif not new:
            self.fold(config, file, line, ids[0], f"same {noun}")
        else:
            note = f"{len(new)} {noun}" + (f"; {skipped} numbered items without options A, B, C skipped"
                                           if skipped else "")
            self.publish(config, file, line, new[0], note)

    def _files(self, config: str | None = None) -> Iterable[tuple[str, str, FileRows]]:
        """Every file's rows, by config and file (the order of the ledger's keys)."""
        for name in sorted(self._configs) if config is None else [c for c in (config,) if c in self._configs]:
            files = self._configs[name]
            for file in sorted(files):
                yield name, file, files[file]

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        """Entries sorted by file and line, optionally of one outcome and config."""
        codes = [code for name, code in CODE.items() if outcome in (None, name)]
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
            codes = [CODE[outcome] for outcome in outcomes]
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
