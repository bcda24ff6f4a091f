"""Rule pairs: the two published rules each row of a dilemma file names, and their pair.

``rule_set.csv`` names its columns the wrong way round (``rot1`` holds the English text,
``translate1`` the Chinese; raw-formats §2.7): columns are told apart by their content, not
their names. The ``dilemmas`` and ``evaluations`` configs both resolve their rows' rules here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from builders.context import BuildContext
from builders.stages.ids import stable_id, stable_ids_of_parts
from builders.stages.ledger import Outcomes
from builders.stages.normalizers.text import clean_text, has_cjk_column
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.readers.layout import Artifact
from builders.stages.readers.prefetch import Prepare
from builders.stages.readers.records import ColumnTable
from builders.taxonomy import TIERS

_VALUE_COLUMNS = (("level1", "core_values_1", "derived_values_1"), ("level2", "core_values_2", "derived_values_2"))


def pair_id(rule_a_id: str, rule_b_id: str) -> str:
    return stable_id("pair", rule_a_id, rule_b_id)


@dataclass(frozen=True, slots=True)
class RulePair:
    """The ids of both published rules a row names, the id of their pair, and the rules' table positions."""

    rule_a_id: str
    rule_b_id: str
    id: str
    at: tuple[int, int]
    """Positions of both rules in the ``rules`` table."""


class PairResolver:
    """The two published rules each row's ``rot``/``translate`` columns name.

    Upstream's ``rule_set.csv`` has English in ``rot1``/``rot2`` and Chinese in
    ``translate1``/``translate2``; every later file has them the other way round, so the
    Chinese side is told by its content. A pair recurs in every scene and every answer
    generated from it: each distinct text is looked up once, each pair made once.
    """

    def __init__(self, ctx: BuildContext, config: str) -> None:
        self.ctx, self.config = ctx, config
        self.outcomes = Outcomes()
        """The rows whose rules fail: rejected or orphans, for the config to hand to the ledger."""
        self.index = ctx.rule_index()
        self.normalize = ValueNormalizer(ctx.taxonomy)
        self._pairs: dict[int, RulePair] = {}
        """Pairs made so far, by :func:`_pair_key`."""

    def _pairs_of(self, keys: np.ndarray) -> list[RulePair]:
        """The pair of each :func:`_pair_key`; the pairs not made yet are made together."""
        key_list = keys.tolist()
        pairs = list(map(self._pairs.get, key_list))
        new = np.flatnonzero(np.fromiter((pair is None for pair in pairs), bool, len(pairs)))
        if len(new):
            at_a, at_b = keys[new] >> _PAIR_SHIFT, keys[new] & _PAIR_MASK
            rule_a, rule_b = self.index.ids_at(at_a), self.index.ids_at(at_b)
            made = map(RulePair, rule_a, rule_b, stable_ids_of_parts("pair", zip(rule_a, rule_b, strict=True)),
                       zip(at_a.tolist(), at_b.tolist(), strict=True))
            for i, pair in zip(new.tolist(), made, strict=True):
                pairs[i] = self._pairs[key_list[i]] = pair
        return pairs

    def _record(self, failure: tuple, file: str, line: int) -> None:
        kind, field, reason = failure
        if kind == "reject":
            self.outcomes.reject(file, line, field, reason)
        else:
            self.ctx.orphan(self.outcomes, file, line, field, reason)

    def pairs(self, columns: ColumnTable, file: str) -> list[RulePair | None]:
        """Both rules of every row; a row that fails is recorded in :attr:`outcomes` and gets ``None``.

        A row fails on an unknown value name (rejected; the first side's values checked
        first) or a rule missing from the rules config (an orphan; ``rot1`` first).
        """
        codes, pairs = self.pair_codes(columns, file)
        return [pairs[code] if code >= 0 else None for code in codes.tolist()]

    def pair_codes(self, columns: ColumnTable, file: str) -> tuple[np.ndarray, list[RulePair]]:
        """:meth:`pairs` as each row's index into a list of distinct pairs (``-1``: the row failed).

        Works on Arrow dictionary codes: each distinct text is looked up once and each
        distinct value cell split once, whatever the number of rows quoting them.
        """
        table = columns.table
        failures: list[tuple] = []
        failed = np.full(table.num_rows, -1, np.int64)
        """Per row, its first failure in ``failures``."""

        for value_columns in _VALUE_COLUMNS:
            if all(c in table.column_names for c in value_columns):
                for row, error in self.normalize.errors(*(table.column(c) for c in value_columns)).items():
                    if failed[row] < 0:
                        failed[row] = len(failures)
                        failures.append(("reject", value_columns[TIERS.index(error.tier)], str(error)))
        at = []
        for n in ("1", "2"):
            rot = _TextColumn(table, f"rot{n}")
            rot_cjk = rot.cjk()
            # Where every rot cell is Chinese (all files but rule_set.csv), translate is never read.
            translate = None if rot_cjk.all() else _TextColumn(table, f"translate{n}")
            use_translate = np.zeros(table.num_rows, bool) if translate is None else translate.cjk() & ~rot_cjk
            chosen = rot.positions(self.index.positions_of, ~use_translate)
            if translate is not None:
                chosen = np.where(use_translate, translate.positions(self.index.positions_of, use_translate), chosen)
            for row in np.flatnonzero((chosen < 0) & (failed < 0)).tolist():
                text = translate.text(row) if use_translate[row] else rot.text(row)  # type: ignore[union-attr]
                failed[row] = len(failures)
                failures.append(_orphan(f"rot{n}", clean_text(text)))
            at.append(chosen)
        codes = np.full(table.num_rows, -1, np.int64)
        pairs: list[RulePair] = []
        ok = failed < 0
        if ok.any():
            keys, inverse = np.unique(_pair_key(at[0][ok], at[1][ok]), return_inverse=True)  # 1-D: 15× faster
            codes[ok] = inverse
            pairs = self._pairs_of(keys)
        lines = columns.lines
        for row in np.flatnonzero(~ok).tolist():
            self._record(failures[failed[row]], file, int(lines[row]))
        return codes, pairs


_PAIR_SHIFT = 32
_PAIR_MASK = (1 << _PAIR_SHIFT) - 1


def _pair_key(at_a: np.ndarray, at_b: np.ndarray) -> np.ndarray:
    """One integer per pair of rule positions (a table's positions fit in 31 bits), ordered as the pairs are."""
    return (at_a << _PAIR_SHIFT) | at_b


def _orphan(field: str, text: str) -> tuple:
    return ("orphan", field, f"rule {text!r} is not in the rules config")


class _TextColumn:
    """One text column of a table as dictionary codes (a missing column: every cell empty)."""

    def __init__(self, table: pa.Table, name: str) -> None:
        if name in table.column_names:
            encoded = table.column(name).combine_chunks().dictionary_encode()
            self.values = pa.concat_arrays([encoded.dictionary.cast(pa.string()), pa.array([""])])
            self.codes = encoded.indices.fill_null(len(self.values) - 1).to_numpy()
        else:
            self.values, self.codes = pa.array([""]), np.zeros(table.num_rows, np.int64)

    def text(self, row: int) -> str:
        return self.values[int(self.codes[row])].as_py() or ""

    def cjk(self) -> np.ndarray:
        """Per row: the cell holds Chinese characters."""
        return has_cjk_column(self.values)[self.codes]

    def positions(self, positions_of: Callable[[pa.Array], np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Per row: the position of the rule its cell names, or -1; looked up for ``rows`` only."""
        found = np.full(len(self.values), -1, np.int64)
        needed = np.unique(self.codes[rows])
        found[needed] = positions_of(self.values.take(needed))
        return found[self.codes]


def pair_rows(ctx: BuildContext, artifact: Artifact, pairs: PairResolver) -> tuple[str, np.ndarray, list[str]]:
    """A rule pair file, its lines whose two rules are published and their pair ids (what
    :func:`resolved_rows` yields of it, as columns, to be folded into their dilemmas together)."""
    read = ctx.column_table(pairs.config, artifact)
    codes, found = pairs.pair_codes(read, artifact.relpath)
    ok = codes >= 0
    pair_ids = [pair.id for pair in found]
    return artifact.relpath, read.lines[ok], list(map(pair_ids.__getitem__, codes[ok].tolist()))


def resolved_rows(ctx: BuildContext, artifact: Artifact, pairs: PairResolver, cells: tuple[str, ...],
                  prepare: Prepare | None = None) -> Iterator[tuple[tuple, RulePair, int]]:
    """``(cells, pair, line)`` for each row of a file (of ``pairs.config``) whose two rules are published.

    ``cells``: the row's cells of those columns, in that order (``None`` for a column the
    file lacks). ``prepare``: see :meth:`BuildContext.column_table`.
    """
    read = ctx.column_table(pairs.config, artifact, prepare)
    table = read.table
    values = [table.column(c).to_pylist() if c in table.column_names else [None] * table.num_rows for c in cells]
    rows = zip(read.lines.tolist(), pairs.pairs(read, artifact.relpath), *values, strict=True)
    return ((tuple(row_cells), pair, line) for line, pair, *row_cells in rows if pair is not None)
