"""Where every raw row ended: published, folded into a kept row, excluded by its label, or rejected.

The ledger refuses to record a row twice, and :meth:`Ledger.check_complete` proves each row
read has exactly one outcome, so the counts in the build report always add up.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("published", "folded", "excluded", "rejected")


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


class _LineWriter:
    """Each entry as one JSON object without its empty fields, in field order.

    Byte for byte ``json.dumps(fields, ensure_ascii=False)``; but configs, files, outcomes,
    fields and reasons repeat across hundreds of thousands of rows, so each distinct string
    is encoded once and a line is one join.
    """

    def __init__(self) -> None:
        self._encoded: dict[str, str] = {}

    def _string(self, value: str) -> str:
        encoded = self._encoded.get(value)
        if encoded is None:
            encoded = self._encoded[value] = _ENCODE_STRING(value)
        return encoded

    def line(self, entry: Entry) -> str:
        string = self._string
        line = (f'{{"config": {string(entry.config)}, "file": {string(entry.file)}, "line": {entry.line:d}, '
                f'"outcome": {string(entry.outcome)}')
        if entry.id is not None:
            line += f', "id": {_ENCODE_STRING(entry.id)}'
        if entry.field is not None:
            line += f', "field": {string(entry.field)}'
        if entry.reason is not None:
            line += f', "reason": {string(entry.reason)}'
        return line + "}\n"


class Ledger:
    """Outcomes of the raw rows of one build, keyed by (config, file, line)."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str, int], None] = {}
        self._entries: dict[tuple[str, str, int], Entry] = {}

    def read(self, config: str, file: str, line: int) -> None:
        """Register a raw row as read; it must later get exactly one outcome."""
        self._read[(config, file, line)] = None

    def read_lines(self, config: str, file: str, lines: Iterable[int]) -> None:
        """Register many raw rows of one file as read (a file read column-wise)."""
        self._read.update(dict.fromkeys((config, file, line) for line in lines))

    def _record(self, entry: Entry) -> None:
        key = (entry.config, entry.file, entry.line)
        if key not in self._read:
            raise RuntimeError(f"{entry.file}:{entry.line} was given an outcome but never read")
        if key in self._entries:
            previous = self._entries[key]
            raise RuntimeError(
                f"{entry.file}:{entry.line} already {previous.outcome}; cannot also be {entry.outcome}"
            )
        self._entries[key] = entry

    def publish(self, config: str, file: str, line: int, row_id: str, note: str | None = None) -> None:
        """``note``: e.g. how many rows one raw row became (a blob of scenes)."""
        self._record(Entry(config, file, line, "published", id=row_id, reason=note))

    def publish_many(self, config: str, published: Iterable[tuple[str, int, str]]) -> None:
        """Record many ``(file, line, row id)`` as published: a rules build publishes a quarter of a million."""
        self._record_many(config, "published", ((file, line, row_id, None) for file, line, row_id in published))

    def fold(self, config: str, file: str, line: int, into: str, reason: str) -> None:
        self._record(Entry(config, file, line, "folded", id=into, reason=reason))

    def fold_many(self, config: str, folded: Iterable[tuple[str, int, str, str]]) -> None:
        """Record many ``(file, line, id folded into, reason)`` as folded (hundreds of thousands of copies)."""
        self._record_many(config, "folded", folded)

    def _record_many(self, config: str, outcome: str, rows: Iterable[tuple[str, int, str, str | None]]) -> None:
        read, entries = self._read, self._entries
        for file, line, row_id, reason in rows:
            key = (config, file, line)
            entry = Entry(config, file, line, outcome, row_id, None, reason)
            if key not in read or key in entries:
                self._record(entry)  # raises the same error as one by one
            entries[key] = entry

    def exclude(self, config: str, file: str, line: int, reason: str, row_id: str | None = None) -> None:
        self._record(Entry(config, file, line, "excluded", id=row_id, reason=reason))

    def reject(self, config: str, file: str, line: int, field: str, reason: str, row_id: str | None = None) -> None:
        """``row_id``: the id the row would have had, when known, so a removal can be explained."""
        self._record(Entry(config, file, line, "rejected", id=row_id, field=field, reason=reason))

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        """Entries sorted by file and line, optionally of one outcome and config."""
        return sorted(
            (e for e in self._entries.values()
             if (outcome is None or e.outcome == outcome) and (config is None or e.config == config)),
            key=lambda e: (e.config, e.file, e.line),
        )

    def counts(self, config: str | None = None) -> dict[str, int]:
        """Rows read and rows per outcome, of one config or of all."""
        if config is not None:
            return self.counts_by_config([config])[config]
        tally = Counter(entry.outcome for entry in self._entries.values())
        return {"read": len(self._read), **{outcome: tally.get(outcome, 0) for outcome in OUTCOMES}}

    def counts_by_config(self, configs: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`counts` of each config, in one pass over the rows (every outcome is of a row read)."""
        read = Counter(config for config, _, _ in self._read)
        tally = Counter((entry.config, entry.outcome) for entry in self._entries.values())
        return {c: {"read": read[c], **{outcome: tally[(c, outcome)] for outcome in OUTCOMES}} for c in configs}

    def check_complete(self) -> None:
        """Raise if any row read has no outcome (a row would be lost without trace)."""
        lost = [k for k in self._read if k not in self._entries]
        if lost:
            sample = ", ".join(f"{f}:{n}" for _, f, n in sorted(lost)[:5])
            raise RuntimeError(f"{len(lost)} raw rows have no outcome (e.g. {sample})")

    def write(self, report_dir: Path) -> None:
        """Write ``rejects.jsonl`` and ``folds.jsonl`` (one JSON object per raw row)."""
        report_dir.mkdir(parents=True, exist_ok=True)
        for name, outcomes in (("rejects", ("rejected",)), ("folds", ("folded", "excluded"))):
            entries = self._entries
            chosen = sorted(key for key, entry in entries.items() if entry.outcome in outcomes)
            line = _LineWriter().line
            with open(report_dir / f"{name}.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(line(entries[key]) for key in chosen)
