"""Where every raw row ended: published, folded into a kept row, excluded by its label, or rejected.

The ledger is one table: a row per raw row with its ``config``, ``file``, ``line``, ``outcome``,
``id`` (the row published, or folded into, or that would have been), ``field`` and ``reason``.
Each config hands its part over as a Polars frame (:meth:`Ledger.record_table`); the lines each
config read are kept beside it. :meth:`Ledger.check_complete` proves, with anti-joins, that every
line read has exactly one outcome, so the counts in the build report add up; the counts, the
entries and the rejects and folds files are views of the table, by config, file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

__all__ = ["OUTCOMES", "OUTCOME_SCHEMA", "Entry", "Ledger", "Outcomes", "outcome_lines"]

OUTCOMES = ("published", "folded", "excluded", "rejected")
OUTCOME_SCHEMA = {"file": pl.String, "line": pl.Int64, "outcome": pl.String, "id": pl.String,
                  "field": pl.String, "reason": pl.String}
"""The columns a config hands over: one row per raw row it read."""
_OUTCOME = pl.Enum(OUTCOMES)
_STORED = {"key": pl.UInt64, "outcome": _OUTCOME, "id": pl.String, "field": pl.String, "reason": pl.String}
"""How the ledger keeps them: each row's config, file and line as one key (:class:`Ledger`)."""
_PAIR_SHIFT = 32
"""A key's (config, file) pair is ``key >> _PAIR_SHIFT``, its line the bits below."""
_LINES = 1 << _PAIR_SHIFT
"""Line numbers the ledger takes: ``0 <= line < 2**32`` (a file's rows are numbered from 1)."""
_WRITE_ROWS = 100_000
"""Lines of a report file joined into one string at a time."""


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


class Outcomes:
    """Outcomes a config decides row by row in Python (a loop over records), collected and handed
    to the ledger as one table (:meth:`frame`)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, str, str | None, str | None, str | None]] = []

    def publish(self, file: str, line: int, row_id: str, note: str | None = None) -> None:
        """``note``: e.g. how many rows one raw row became (a blob of scenes)."""
        self.rows.append((file, line, "published", row_id, None, note))

    def fold(self, file: str, line: int, into: str, reason: str) -> None:
        self.rows.append((file, line, "folded", into, None, reason))

    def exclude(self, file: str, line: int, reason: str, row_id: str | None = None) -> None:
        self.rows.append((file, line, "excluded", row_id, None, reason))

    def reject(self, file: str, line: int, field: str, reason: str, row_id: str | None = None) -> None:
        """``row_id``: the id the row would have had, when known, so a removal can be explained."""
        self.rows.append((file, line, "rejected", row_id, field, reason))

    def scene_reply(self, file: str, line: int, items: int, ids: Sequence[str], new: Sequence[str],
                    noun: str, none_parsed: str) -> None:
        """A raw reply of ``items`` numbered scenes, of which ``ids`` parsed with options A, B and C
        and ``new`` were not kept before: rejected (``none_parsed``), folded, or published once as
        its first new row with the count of ``noun`` and of the items skipped."""
        skipped = items - len(ids)
        if not ids:
            self.reject(file, line, "scene", f"{none_parsed} ({items} numbered items)")
        elif not new:
            self.fold(file, line, ids[0], f"same {noun}")
        else:
            note = f"{len(new)} {noun}" + (f"; {skipped} numbered items without options A, B, C skipped"
                                           if skipped else "")
            self.publish(file, line, new[0], note)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=OUTCOME_SCHEMA, orient="row")


def outcome_lines(file: str, lines: Sequence[int] | np.ndarray, outcome: str, ids: Sequence[str | None] | None = None,
                  field: Sequence[str] | str | None = None, reason: Sequence[str] | str | None = None) -> pl.DataFrame:
    """Rows of one file a config decided as arrays: their lines and one outcome; the id, field and
    reason given per row (a sequence) or for all of them (a string, or ``None``)."""
    return pl.DataFrame({"file": file, "line": np.asarray(lines, np.int64), "outcome": outcome, "id": ids,
                         "field": field, "reason": reason}, schema=OUTCOME_SCHEMA)


class _Keyed(NamedTuple):
    read: pl.Series
    """The key of every line read, once, sorted."""
    outcomes: pl.DataFrame
    """Every outcome with its key, in the order recorded."""


class Ledger:
    """The outcomes of the raw rows of one build, and the lines read, per config. Its views (entries,
    counts, the report files) are those of a ledger :meth:`check_complete` passed.

    Each row is compared by its ``key``: one number per (config, file, line), ``pair * 2**32 + line``,
    so checking and sorting a million and a half rows compares integers, not strings. A (config, file)
    pair is numbered once, when first met (a whole file's rows share its number); checking and counting
    need no order, and the views renumber the pairs of the rows they show in sorted order
    (:meth:`_in_order`), so that those keys sort as (config, file, line) do.
    """

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], int] = {}
        """Each (config, file) met, numbered in the order met."""
        self._read: list[np.ndarray] = []
        """Keys of the lines read."""
        self._recorded: list[pl.DataFrame] = []
        """Keyed outcomes (:data:`_STORED`), in the order handed over."""
        self._keyed_tables: _Keyed | None = None
        """What :meth:`_keyed` made of them, until more is read or recorded."""

    def _pair(self, config: str, file: str) -> int:
        return self._pairs.setdefault((config, file), len(self._pairs))

    def read(self, config: str, file: str, lines: Sequence[int] | np.ndarray) -> None:
        """Register raw rows of one file as read; each must get exactly one outcome."""
        lines = np.asarray(lines, np.int64)
        outside = (lines < 0) | (lines >= _LINES)
        if outside.any():
            raise _not_a_line(file, int(lines[outside.argmax()]))
        self._read.append(lines.astype(np.uint64) + np.uint64(self._pair(config, file) * _LINES))
        self._keyed_tables = None

    def record_table(self, config: str, outcomes: pl.DataFrame) -> None:
        """Record a config's outcomes: the columns of :data:`OUTCOME_SCHEMA`, one row per raw row."""
        if outcomes.schema != OUTCOME_SCHEMA:
            outcomes = outcomes.select(*(pl.col(name).cast(dtype) for name, dtype in OUTCOME_SCHEMA.items()))
        lines = outcomes.get_column("line")
        if lines.len() and (lines.min() < 0 or lines.max() >= _LINES):
            raise _not_a_line(*outcomes.filter((pl.col("line") < 0) | (pl.col("line") >= _LINES)).row(0)[:2])
        files = outcomes.get_column("file").unique()
        pairs = [self._pair(config, file) for file in files.to_list()]
        pair = pl.col("file").replace_strict(files, pairs).cast(pl.UInt64)  # the cast: an empty table's is str
        keyed = outcomes.select((pair * _LINES + pl.col("line").cast(pl.UInt64)).alias("key"),
                                pl.col("outcome").cast(_OUTCOME, strict=False), "id", "field", "reason")
        if keyed.get_column("outcome").null_count() > outcomes.get_column("outcome").null_count():
            file, line, outcome = outcomes.filter(keyed.get_column("outcome").is_null()
                                                  & pl.col("outcome").is_not_null()).row(0)[:3]
            raise ValueError(f"{file}:{line}: unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        self._recorded.append(keyed)
        self._keyed_tables = None

    def _keyed(self) -> _Keyed:
        """The lines read and the outcomes recorded so far."""
        if self._keyed_tables is None:
            read = pl.Series("key", np.concatenate(self._read) if self._read else np.empty(0, np.uint64))
            outcomes = pl.concat(self._recorded) if self._recorded else pl.DataFrame(schema=_STORED)
            self._keyed_tables = _Keyed(read.sort().unique(), outcomes)
        return self._keyed_tables

    def _in_order(self, keys: pl.Series) -> pl.Series:
        """``keys`` with each pair renumbered by its place in :meth:`_sorted_pairs`: they sort as
        (config, file, line) do."""
        pairs = list(self._pairs)
        place = np.argsort(sorted(range(len(pairs)), key=pairs.__getitem__)).astype(np.uint64)
        keys = keys.to_numpy()
        shift = np.uint64(_PAIR_SHIFT)
        return pl.Series("key", place[keys >> shift] << shift | keys & np.uint64(_LINES - 1))

    def _sorted_pairs(self) -> list[tuple[str, str]]:
        return sorted(self._pairs)

    def check_complete(self) -> None:
        """Raise, naming file and line, at the first row given an outcome but never read or given a
        second outcome (in the order recorded), else if a row read has none (it would be lost
        without trace)."""
        pairs, (read, outcomes) = list(self._pairs), self._keyed()
        recorded = outcomes.get_column("key")
        if recorded.sort().equals(read):  # one outcome for each line read, and for nothing else
            return
        if not recorded.is_in(read.implode()).all() or recorded.is_duplicated().any():
            raise _first_refusal(pairs, read, outcomes)
        lost = self._in_order(read.filter(~read.is_in(recorded.implode())))
        sample = ", ".join(_place(self._sorted_pairs(), key) for key in lost.sort().head(5).to_list())
        raise RuntimeError(f"{len(lost)} raw rows have no outcome (e.g. {sample})")

    def _view(self, outcomes: Sequence[str] | None = None, config: str | None = None) -> pl.DataFrame:
        """The recorded rows of some outcomes (all when ``None``) and of one config or all, sorted by
        config, file and line: ``pair`` (the place of its (config, file) in :meth:`_sorted_pairs`),
        ``line``, ``outcome``, ``id``, ``field``, ``reason``."""
        pairs, table = list(self._pairs), self._keyed().outcomes
        if config is not None:
            table = table.filter((pl.col("key") // _LINES).is_in([n for n, (c, _) in enumerate(pairs) if c == config]))
        if outcomes is not None:
            table = table.filter(pl.col("outcome").is_in(outcomes))
        return table.with_columns(self._in_order(table.get_column("key"))).sort("key").select(
            (pl.col("key") // _LINES).alias("pair"), (pl.col("key") % _LINES).cast(pl.Int64).alias("line"),
            pl.exclude("key"))

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        """Entries sorted by config, file and line, optionally of one outcome and config."""
        pairs = self._sorted_pairs()
        return [Entry(*pairs[pair], *row) for pair, *row in
                self._view(None if outcome is None else [outcome], config).iter_rows()]

    def counts(self, config: str | None = None) -> dict[str, int]:
        """Rows read and rows per outcome, of one config or of all."""
        if config is not None:
            return self.counts_by_config([config])[config]
        read, outcomes = self._keyed()
        tally = np.bincount(outcomes.get_column("outcome").to_physical().to_numpy(), minlength=len(OUTCOMES))
        return {"read": len(read), **{outcome: int(n) for outcome, n in zip(OUTCOMES, tally, strict=True)}}

    def counts_by_config(self, configs: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`counts` of each config: tallies by (config, file) pair, summed by config."""
        pairs, (read, outcomes), shift = list(self._pairs), self._keyed(), np.uint64(_PAIR_SHIFT)
        read_by = np.bincount((read.to_numpy() >> shift).astype(np.intp), minlength=len(pairs))
        tally = np.bincount((outcomes.get_column("key").to_numpy() >> shift).astype(np.intp) * len(OUTCOMES)
                            + outcomes.get_column("outcome").to_physical().to_numpy(),
                            minlength=len(pairs) * len(OUTCOMES)).reshape(len(pairs), len(OUTCOMES))
        counts = {config: {"read": 0, **dict.fromkeys(OUTCOMES, 0)} for config in configs}
        for n, (config, _) in enumerate(pairs):
            if config in counts:
                counts[config]["read"] += int(read_by[n])
                for outcome, k in zip(OUTCOMES, tally[n], strict=True):
                    counts[config][outcome] += int(k)
        return counts

    def write(self, report_dir: Path) -> None:
        """Write ``rejects.jsonl`` and ``folds.jsonl`` (folded and excluded rows): a JSON object per
        raw row as ``json.dumps(entry, ensure_ascii=False)`` writes it without its empty fields, by
        config, file and line, each line ending in ``\\n``."""
        report_dir.mkdir(parents=True, exist_ok=True)
        heads = pl.Series([json.dumps({"config": config, "file": file}, ensure_ascii=False)[:-1]
                           for config, file in self._sorted_pairs()], dtype=pl.String)  # escaped once per file
        for name, outcomes in (("rejects", ("rejected",)), ("folds", ("folded", "excluded"))):
            with open(report_dir / f"{name}.jsonl", "wb") as fh:
                for part in self._view(outcomes).iter_slices(_WRITE_ROWS):  # a full build folds ~85 MB of lines
                    lines = part.select(_json_line(heads.gather(part.get_column("pair"))))
                    fh.write(lines.to_series().str.join("").item().encode("utf-8"))


def _not_a_line(file: str, line: int) -> ValueError:
    return ValueError(f"{file}:{line}: not a line number (0 to {_LINES - 1})")


def _place(pairs: list[tuple[str, str]], key: int) -> str:
    """``file:line`` of a key."""
    return f"{pairs[key // _LINES][1]}:{key % _LINES}"


def _first_refusal(pairs: list[tuple[str, str]], read: pl.Series, outcomes: pl.DataFrame) -> RuntimeError:
    """The first row, in the order recorded, given an outcome but never read or given a second one."""
    was_read = pl.col("key").is_in(read.implode())
    outcomes = outcomes.with_columns(first=pl.when(was_read).then(pl.col("outcome").first().over("key")))
    key, outcome, first = (outcomes.filter(~was_read | ~pl.col("key").is_first_distinct())
                           .select("key", "outcome", "first").row(0))
    return RuntimeError(f"{_place(pairs, key)} was given an outcome but never read" if first is None
                        else f"{_place(pairs, key)} already {first}; cannot also be {outcome}")


_JSON_ESCAPES = {"\\": "\\\\", '"': '\\"', **{chr(c): json.dumps(chr(c))[1:-1] for c in range(0x20)}}
"""What ``json.dumps(..., ensure_ascii=False)`` escapes in a string: backslash, quote, control characters."""


def _json_string(name: str) -> pl.Expr:
    escaped = pl.col(name).cast(pl.String).str.replace_many(list(_JSON_ESCAPES), list(_JSON_ESCAPES.values()))
    return pl.concat_str(pl.lit('"'), escaped, pl.lit('"'))


def _json_line(heads: pl.Series) -> pl.Expr:
    """An entry's JSON line, after its ``heads`` (``{"config": …, "file": …`` of each row); a null
    ``id``, ``field`` or ``reason`` is left out."""
    members = [pl.concat_str(pl.lit(f', "{name}": '), _json_string(name)).fill_null("")
               for name in ("outcome", "id", "field", "reason")]
    return pl.concat_str(pl.lit(heads), pl.lit(', "line": '), pl.col("line").cast(pl.String), *members,
                         pl.lit("}\n"))
