"""Every raw row of a config's artifact kinds as one row of an observations table.

One path for every kind: the file is read column-wise (:meth:`BuildContext.column_table`,
JSONL records turned into columns), each field is read from the column its kind declares
(:class:`~builders.stages.readers.layout.ArtifactKind`), each distinct cell of a column with a
parser is parsed once, each distinct value triple is normalized once, and a row that cannot be
used keeps its reason in ``reject_field`` / ``reject_reason`` (or ``exclude_reason``). Nothing
here knows a config's policies: those are steps on the table this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.normalizers.text import (
    clean_text_and_key_columns,
    clean_text_column,
    has_cjk_column,
)
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.parsers.replies import ROT_PREFIX_CHANGES, strip_rot_prefix_column
from builders.stages.readers.layout import Artifact
from builders.stages.readers.records import ColumnTable, RawTable
from builders.stages.validate import RowError, TableValidator
from builders.taxonomy import TIERS, ClosedBits, Closure, Taxonomy, UnknownValueError, members_of_bits

TEXT_COLUMNS = ("rule_text", "rule_key", "rule_is_zh")
"""What :func:`prepared_texts` adds to a file's columns: each row's cleaned text, its dedup key, and
whether it is Chinese."""

SEQ_STRIDE = 1 << 32
"""An observation's ``seq`` (its place in reading order): the artifact's position times this, plus its line."""


def prepared_texts(table: pa.Table, column: str = "rot") -> pa.Table:
    """A file's columns and its texts cleaned (:data:`TEXT_COLUMNS`): needs nothing but the file, so a
    prefetch can run it in another process. A file without ``column`` is left as it is."""
    if column not in table.column_names or TEXT_COLUMNS[0] in table.column_names:
        return table
    texts, keys = clean_text_and_key_columns(table.column(column), strip_rot_prefix_column, ROT_PREFIX_CHANGES)
    for name, array in zip(TEXT_COLUMNS, (texts, keys, pa.array(has_cjk_column(texts))), strict=True):
        table = table.append_column(name, array)
    return table


class ClosureCodes:
    """The distinct label combinations of a build's observations, numbered (an observation's
    ``values`` is a number), each closed under the hierarchy when first met, as bits
    (:meth:`Taxonomy.close_bits`). Names are listed only when asked: :meth:`closure` for one,
    :meth:`table` for all, as Arrow lists made from the bits without a Python list per row."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._numbered = pl.DataFrame(schema={"number": pl.UInt32, **dict.fromkeys(TIERS, pl.UInt64)})
        """Each combination met (a tier's labels as bits per column) and its number."""
        self._closed: list[ClosedBits] = []
        self._closures: dict[int, Closure] = {}
        self._table: pa.Table | None = None

    def __len__(self) -> int:
        return self._numbered.height

    def numbers(self, sets: np.ndarray) -> np.ndarray:
        """The number of each combination (a row of :attr:`LabelSets.sets`); new ones are numbered
        in the order met, and closed."""
        sets = pl.DataFrame(np.asarray(sets, np.uint64).reshape(-1, len(TIERS)), schema=list(TIERS), orient="row")
        new = sets.join(self._numbered, on=TIERS, how="anti").unique(maintain_order=True)
        if new.height:
            self._numbered = pl.concat([self._numbered, new.with_row_index("number", offset=len(self))])
            self._closed.append(self.taxonomy.close_bits(*(new.get_column(tier).to_numpy() for tier in TIERS)))
            self._table = None
        return (sets.join(self._numbered, on=TIERS, how="left", maintain_order="left")
                .get_column("number").to_numpy().astype(np.int64))

    def closed(self) -> ClosedBits:
        """Every combination's closure, by number, as bits."""
        if len(self._closed) != 1:
            empty = np.zeros(0, np.uint64)
            self._closed = [ClosedBits(*(np.concatenate([empty, *parts]) for parts in zip(*self._closed, strict=True)))
                            if self._closed else ClosedBits(*([empty] * 5))]
        return self._closed[0]

    def closure(self, number: int) -> Closure:
        """The closure numbered ``number``, its names listed."""
        closure = self._closures.get(number)
        if closure is None:
            one = ClosedBits(*(bits[number:number + 1] for bits in self.closed()))
            closure = self._closures[number] = self.taxonomy.closures(one)[0]
        return closure

    def changed(self) -> list[int]:
        """The numbers whose closure added or dropped a label (the rows with them are repaired)."""
        closed = self.closed()
        return np.flatnonzero((closed.added | closed.dropped) != 0).tolist()

    def table(self) -> pa.Table:
        """The closed triples as list columns, one row per number."""
        if self._table is None:
            closed = self.closed()
            self._table = pa.table({tier: _lists_of_bits(getattr(closed, tier), self.taxonomy.names(tier))
                                    for tier in TIERS})
        return self._table


def _lists_of_bits(bits: np.ndarray, names: list[str]) -> pa.ListArray:
    """Each set given as bits (bit ``i``: ``names[i]``) as a list of its names, in ``names`` order."""
    rows, at = members_of_bits(bits, len(names))
    offsets = np.zeros(len(bits) + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=len(bits)), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, pa.string()).take(pa.array(at)))


def column_table(table: RawTable) -> ColumnTable:
    """JSONL records as columns: a list cell is a cell of names joined by ``、`` (what the value
    normalizer splits a cell on), any other non-null cell its text."""
    def cell(value: object) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return "、".join(str(item) for item in value) if isinstance(value, list) else str(value)

    return ColumnTable(pa.table({c: pa.array([cell(r.fields.get(c)) for r in table.records], pa.string())
                                 for c in table.columns}), np.array([r.line for r in table.records], np.int64))


def _per_distinct(column: pa.Array | pa.ChunkedArray, function: Callable[[str | None], object]) -> list:
    """``function`` of each row's cell, called once per distinct cell (a raised ``ValueError`` is the outcome)."""
    encoded = (column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column).dictionary_encode()

    def outcome(cell: str | None) -> object:
        try:
            return function(cell)
        except ValueError as err:
            return err.with_traceback(None)

    outcomes = [outcome(cell) for cell in encoded.dictionary.to_pylist()]
    if encoded.null_count:
        outcomes.append(outcome(None))  # the outcome of a null cell
    return [outcomes[i] for i in encoded.indices.fill_null(len(encoded.dictionary)).to_numpy().tolist()]


def _optional_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Cleaned texts, an empty one null."""
    cleaned = clean_text_column(column)
    return pc.if_else(pc.equal(pc.binary_length(cleaned), 0), pa.scalar(None, pa.string()), cleaned)


def _prepared_then(table: pa.Table, column: str, then: Callable[[pa.Table], None] | None) -> pa.Table:
    """:func:`prepared_texts`, then handed to ``then`` before anyone waiting for it goes on."""
    table = prepared_texts(table, column)
    if then is not None:
        then(table)
    return table


class _Problems:
    """The first reason each row cannot be used, in the order the checks run."""

    def __init__(self, n: int) -> None:
        self.field: list[str | None] = [None] * n
        self.reason: list[str | None] = [None] * n

    def add(self, row: int, column: str, reason: str) -> None:
        if self.field[row] is None:
            self.field[row], self.reason[row] = column, reason


def observe(artifact: Artifact, columns: ColumnTable, seq: int, normalize: ValueNormalizer, codes: ClosureCodes,
            labeler: str, on_prepared: Callable[[pa.Table], None] | None = None) -> pa.Table:
    """One artifact's rows as observations: provenance, the fields its kind declares, and why a row
    cannot be used (``reject_field``/``reject_reason``, ``exclude_reason``). ``labeler``: the name of
    an LLM labeler the kind does not name. ``on_prepared`` is given the file's columns and
    :data:`TEXT_COLUMNS` as soon as the texts are cleaned (the ids of their keys can start then)."""
    kind, table = artifact.kind, columns.table
    fields = kind.fields(table.column_names)
    column_of = {name: column for column, name in fields.items()}
    text_column = column_of["text"]
    valued = all(tier in column_of for tier in TIERS)
    with ThreadPoolExecutor(max_workers=1) as pool:  # Arrow cleans the texts while Python closes the values
        cleaning = pool.submit(_prepared_then, table, text_column, on_prepared)
        if valued:
            label_sets = normalize.label_sets(*(table.column(column_of[tier]) for tier in TIERS))
        optional = {name: _optional_text(table.column(column_of[name])) for name in ("text_en", "rewrite")
                    if name in column_of and name not in kind.parse}
        table = cleaning.result()
    n = table.num_rows
    problems = _Problems(n)
    texts = table.column(TEXT_COLUMNS[0]).combine_chunks()
    for row in np.flatnonzero(pc.equal(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)).tolist():
        problems.add(row, text_column, "empty rule text")
    out: dict[str, list | pa.Array] = dict(optional)
    values: list[int | None] | pa.Array = [None] * n
    if valued:
        values = pa.array(codes.numbers(label_sets.sets)).take(pa.array(label_sets.which, mask=label_sets.which < 0))
        for row, error in label_sets.errors.items():
            problems.add(row, column_of[error.tier], str(error))
    parsed: dict[int, tuple[int, int, int]] = {}
    """The labels each row's reply gives (as bits), numbered together once every row is parsed."""
    for name, parse in kind.parse.items():
        column = column_of[name]
        for row, outcome in enumerate(_per_distinct(table.column(column), parse)):
            if isinstance(outcome, ValueError):
                problems.add(row, column, str(outcome))
                continue
            if all(tier in outcome for tier in TIERS):
                try:
                    parsed[row] = normalize.bits(*(outcome[tier] for tier in TIERS))
                except UnknownValueError as err:
                    problems.add(row, column, str(err))
            for key, value in outcome.items():
                if key not in TIERS:
                    if key not in out:
                        out[key] = [None] * n
                    out[key][row] = value
    if parsed:
        values = values if isinstance(values, list) else values.to_pylist()
        for row, number in zip(parsed, codes.numbers(np.array(list(parsed.values()), np.uint64)).tolist(), strict=True):
            values[row] = number
    labels = out.get("label", [kind.label.every_row] * n if kind.label else [None] * n)
    labelled = pa.array(labels, pa.int8()).is_valid()
    origin = "none" if kind.label is None else kind.label.origin
    labeler_name = None if kind.label is None else kind.label.labeler or labeler
    text_en = out.get("text_en", pa.nulls(n, pa.string()))
    return pa.table({
        "file": pa.repeat(artifact.relpath, n).cast(pa.string()),
        "line": pa.array(columns.lines, pa.int64()),
        "seq": pa.array(columns.lines + seq, pa.int64()),
        "kind": pa.repeat(kind.name, n).cast(pa.string()),
        "rank": pa.repeat(kind.rank, n).cast(pa.int32()),
        "text_column": pa.repeat(text_column, n).cast(pa.string()),
        "raw_text": table.column(text_column).combine_chunks(),
        "text": texts,
        "key": table.column(TEXT_COLUMNS[1]).combine_chunks(),
        "zh": table.column(TEXT_COLUMNS[2]).combine_chunks(),
        "text_en": text_en,
        "values": values if isinstance(values, pa.Array) else pa.array(values, pa.int64()),
        "label": pa.array(labels, pa.int8()),
        "rewrite": pa.array(out.get("rewrite", [None] * n), pa.string()),
        "label_origin": pc.if_else(labelled, origin, "none"),
        "labeler": pc.if_else(labelled, pa.scalar(labeler_name, pa.string()), pa.scalar(None, pa.string())),
        "source": pa.repeat(kind.source_of(artifact.relpath), n).cast(pa.string()),
        "reject_field": pa.array(problems.field, pa.string()),
        "reject_reason": pa.array(problems.reason, pa.string()),
        "exclude_reason": pa.array(out.get("exclude_reason", [None] * n), pa.string()),
    })


def schema_errors(validator: TableValidator, fields: pa.Table, values: pa.Array, codes: ClosureCodes) -> dict[int, str]:
    """The first schema error of each invalid row (``field: message``), given its fields named as in the
    schema and the number of its values (:class:`ClosureCodes`). Value lists are checked once per
    distinct triple; their errors are then every row's with that triple."""
    errors = validator.validate(fields, partial=True)
    by_triple: dict[int, list[RowError]] = {}
    for error in validator.validate(codes.table(), partial=True):
        by_triple.setdefault(error.row, []).append(error)
    if by_triple:
        numbers = values.to_numpy(zero_copy_only=False)
        flagged = np.flatnonzero(np.isin(numbers, list(by_triple)))
    if by_triple and len(flagged):
        errors = sorted(errors + [replace(error, row=row) for row in flagged.tolist()
                                  for error in by_triple[int(numbers[row])]])
    invalid: dict[int, str] = {}
    for error in errors:
        invalid.setdefault(error.row, f"{error.field}: {error.message}")
    return invalid
