"""The ``rules`` config: upstream rule tables, label files and LLM replies → one row per rule.

Upstream keeps the same rule in several places (the master table, label files, classified
generations, the v1 release), in Chinese or English, labelled by humans, an LLM or nobody.
This builder reads them all, gathers the copies of each rule under its normalized Chinese
text, and publishes one row per rule: values from the most curated copy, the label from
the best annotation (human over LLM), the provenance from the most specific source.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from operator import attrgetter
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.context import BuildContext
from builders.schema import features, load_schema
from builders.stages.dedup import group_exact, keep_best
from builders.stages.ids import BackgroundIds, id_numbers, number_order, sort_indices, stable_id, stable_ids
from builders.stages.near_dedup import BackgroundClusters, find_clusters
from builders.stages.normalizers.text import (
    clean_key,
    clean_key_column,
    clean_text,
    clean_text_and_key_columns,
    clean_text_column,
    dedup_key,
    has_cjk,
    has_cjk_column,
)
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.parsers.replies import (
    ROT_PREFIX_CHANGES,
    ReplyParseError,
    parse_classification,
    parse_label,
    parse_label_reply,
    strip_rot_prefix,
    strip_rot_prefix_column,
)
from builders.stages.readers.layout import Artifact, ArtifactKind
from builders.stages.readers.records import ColumnTable, Record
from builders.stages.validate import RowError, TableValidator
from builders.stages.writer import rows_to_table, single_chunk, without_validity
from builders.taxonomy import TIERS, Closure, UnknownValueError

CONFIG = "rules"

_VALUE_COLUMNS = {
    "master_table": ("level", "core values", "derived values"),
    "llm_labels": ("level", "core values", "derived values"),
    "llm_input": ("层面", "核心价值", "衍生价值"),
    "seed_rules": ("Level", "Core Values", "Derived Values"),
    "human_retained": ("Level", "Core Values", "Derived Values"),
    "v1_release": ("level", "core values", "derived values"),
}
_RULE_COLUMN = {"v1_release": "rule"}

ARTIFACTS = [
    ArtifactKind("master_table", CONFIG, ("data_control/final.csv",),
                 ("rot", "translate", "level", "core values", "derived values"),
                 "The master rule table after labelling and rewriting (GBK)."),
    ArtifactKind("human_retained", CONFIG, ("data_control/label_rot_data/human/*.csv",),
                 ("rot", "Level", "Core Values", "Derived Values"),
                 "Rules human annotators kept (人工最终保留数据.csv)."),
    ArtifactKind("human_labels", CONFIG,
                 ("data_control/label_rot_data/human/*.csv",
                  "data_control/label_rot_data/human_label_samples/*.csv"),
                 ("rot", "标签", "重写"),
                 "Human labels -1/0/1 with rewrites."),
    ArtifactKind("llm_labels", CONFIG, ("data_control/label_rot_data/llm/*.csv",),
                 ("rot", "level", "core values", "derived values", "标签"),
                 "LLM labels: raw 标签/重写 replies."),
    ArtifactKind("llm_input", CONFIG, ("data_control/label_rot_data/llm/*.csv",),
                 ("rot", "层面", "核心价值", "衍生价值"),
                 "Rules sent to LLM labelling (llm_rot.csv)."),
    ArtifactKind("generated_classified", CONFIG, ("rule_generation/6_final/*.csv",),
                 ("rot", "derived_values"),
                 "Generated rules with raw 层面/核心价值/衍生价值 classification replies."),
    ArtifactKind("seed_rules", CONFIG, ("basic_value_rule/*/*.csv",),
                 ("rot", "Level", "Core Values", "Derived Values"),
                 "English seed rules from SC101 and MIC."),
    ArtifactKind("v1_release", CONFIG, ("*.jsonl",),
                 ("rule", "level", "core values", "derived values"),
                 "The v1 Hub release (CVC.jsonl, C-VARC(EN).jsonl)."),
]

_ARTIFACT_RANK = {
    name: rank for rank, name in enumerate(
        ("master_table", "human_retained", "llm_labels", "llm_input", "generated_classified",
         "v1_release", "seed_rules", "human_labels")
    )
}
"""Which copy's text and values win: the most curated artifact first."""
_ORIGIN_RANK = {"human": 0, "llm": 1, "none": 2}
_GENERIC_SOURCES = {"master_table", "v1_release", "human_curated", "generated", "unknown"}
_SOURCE_PREFIXES = (
    ("cmos", "cmos"), ("flames", "flames"), ("zhihu", "zhihu_kol"), ("people_daily", "people_daily"),
    ("encyclopedia", "encyclopedia_qa"), ("web", "web_crawl"), ("crawl", "web_crawl"),
    ("sc101", "sc101"), ("mic", "mic"),
)


@dataclass(slots=True)
class Observation:
    """One raw row that says something about a rule."""

    file: str
    line: int
    kind: str
    text: str
    lang: str
    key: str
    """The dedup key of ``text``."""
    text_en: str | None = None
    values: Closure | None = None
    label: int | None = None
    rewrite: str | None = None
    label_origin: str = "none"
    labeler: str | None = None
    source: str = "unknown"
    seq: int = 0
    """Where the row was read: artifacts in reading order, rows in file order."""
    en_key: str | None = None
    """The dedup key of ``text_en``, when it was computed column-wise already."""

    def rank(self) -> tuple:
        """Which copy's text and values win."""
        return (_ARTIFACT_RANK[self.kind], self.file, self.line)

    def label_rank(self) -> tuple:
        """Which annotation wins: human over LLM, then file order."""
        return (_ORIGIN_RANK[self.label_origin], self.file, self.line)


_label_reply = lru_cache(maxsize=1 << 16)(parse_label_reply)
"""Labelling replies repeat (``标签：1\n重写：`` most of all): each distinct one is parsed once."""
_classification = lru_cache(maxsize=1 << 16)(parse_classification)
"""Classification replies repeat per label combination; the lists are only read, never changed."""


def rule_id(original_zh: str) -> str:
    """The stable id of a rule: a hash of its normalized original Chinese text."""
    return stable_id("rule", dedup_key(original_zh))


def _would_be_id(fields: dict, column: str) -> str | None:
    text = fields.get(column)
    return rule_id(text) if isinstance(text, str) and has_cjk(text) else None


@lru_cache(maxsize=1024)
def _source_from_path(relpath: str) -> str:
    path = PurePosixPath(relpath)
    for part in (path.stem.lower(), path.parent.name.lower()):
        for prefix, source in _SOURCE_PREFIXES:
            if part.startswith(prefix):
                return source
    return "generated"


class _Reject(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _values(normalize: ValueNormalizer, fields: dict, columns: tuple[str, str, str]) -> Closure:
    try:
        return normalize(*(fields.get(c) for c in columns))
    except UnknownValueError as err:
        column = columns[TIERS.index(err.tier)]
        raise _Reject(column, str(err)) from None


def _observe(
    ctx: BuildContext, normalize: ValueNormalizer, artifact: Artifact, fields: dict, file: str, line: int
) -> Observation | None:
    """One raw record → an observation; ``None`` when upstream filtered it out (retain != 1)."""
    kind = artifact.kind.name
    column = _RULE_COLUMN.get(kind, "rot")
    raw_text = fields.get(column)
    text = clean_text(strip_rot_prefix(raw_text) if isinstance(raw_text, str) else raw_text)
    if not text:
        raise _Reject(column, "empty rule text")
    obs = Observation(file, line, kind, text, "zh" if has_cjk(text) else "en", clean_key(text))
    if kind in _VALUE_COLUMNS:
        obs.values = _values(normalize, fields, _VALUE_COLUMNS[kind])
    if kind == "master_table":
        obs.source = "master_table"
        obs.text_en = clean_text(fields.get("translate")) or None
    elif kind == "human_retained":
        obs.source, obs.label, obs.label_origin, obs.labeler = "human_curated", 1, "human", "human"
    elif kind == "human_labels":
        try:
            obs.label = parse_label(fields["标签"])
        except ReplyParseError as err:
            raise _Reject("标签", str(err)) from None
        obs.rewrite = clean_text(fields.get("重写")) or None
        obs.label_origin, obs.labeler = "human", "human"
    elif kind == "llm_labels":
        try:
            reply = _label_reply(fields["标签"])
        except ReplyParseError as err:
            raise _Reject("标签", str(err)) from None
        obs.label, obs.rewrite = reply.label, clean_text(reply.rewrite) or None
        obs.label_origin, obs.labeler = "llm", ctx.settings.llm_labeler
    elif kind == "generated_classified":
        try:
            parsed = _classification(fields["derived_values"])
        except ReplyParseError as err:
            raise _Reject("derived_values", str(err)) from None
        try:
            obs.values = normalize(*parsed.values())
        except UnknownValueError as err:
            raise _Reject("derived_values", str(err)) from None
        obs.source = _source_from_path(file)
    elif kind == "seed_rules":
        if str(fields.get("retain", "1")).strip() not in ("1", ""):
            return None
        obs.source = _source_from_path(file)
    elif kind == "v1_release":
        obs.source = "v1_release"
    return obs


def _value_codes(normalize: ValueNormalizer, table: pa.Table, columns: tuple[str, str, str]
                 ) -> tuple[np.ndarray, list[Closure | _Reject]]:
    """Each row's index into a list of outcomes (:meth:`ValueNormalizer.codes`): its normalized values,
    or the :class:`_Reject` naming the column of its first unknown label."""
    codes, outcomes = normalize.codes(*(table.column(column) for column in columns))
    return codes, [_Reject(columns[TIERS.index(o.tier)], str(o)) if isinstance(o, UnknownValueError) else o
                   for o in outcomes]


def _closures_by_row(normalize: ValueNormalizer, table: pa.Table, columns: tuple[str, str, str]) -> list:
    """Each row's normalized values, or the :class:`_Reject` naming the column of its first unknown label."""
    codes, outcomes = _value_codes(normalize, table, columns)
    return [outcomes[i] for i in codes.tolist()]


def _repeated(value: str, n: int) -> np.ndarray:
    """An object array of ``n`` references to ``value``: ``np.full`` would make a new string for
    every cell, ten times slower."""
    array = np.empty(n, object)
    array.fill(value)
    return array


class _TextColumns:
    """The cleaned texts, dedup keys and translations (``None``: none) of some rows of master tables:
    the arrays as they were cleaned, and the position of each row in them.

    Rows are dropped twice (the rejected, then those resolved one by one) before the rest are
    taken in id order; taking positions instead of the texts copies each text once, not three
    times: at full scale each copy is 50 MB of memory the kernel must hand over and zero. A
    column is copied out only when all of it is asked for.
    """

    def __init__(self, text: pa.Array, key: pa.Array, text_en: pa.Array, at: np.ndarray | None = None) -> None:
        self._arrays = {"text": text, "key": key, "text_en": text_en}
        self._whole = at is None
        self.at = np.arange(len(text)) if at is None else at
        """Per row, its position in the arrays."""
        self._columns: dict[str, pa.Array] = {}

    @classmethod
    def concat(cls, parts: list[_TextColumns]) -> _TextColumns:
        if len(parts) == 1:
            return parts[0]
        return cls(*(pa.concat_arrays([p.column(name) for p in parts]) for name in ("text", "key", "text_en")))

    def take(self, rows: np.ndarray) -> _TextColumns:
        return _TextColumns(*self._arrays.values(), self.at[rows])

    def column(self, name: str) -> pa.Array:
        """The rows' ``text``, ``key`` or ``text_en``, as one array."""
        if name not in self._columns:
            array = self._arrays[name]
            self._columns[name] = array if self._whole else array.take(pa.array(self.at))
        return self._columns[name]

    def cells(self, name: str, rows: np.ndarray) -> pa.Array:
        """The column's cells of the given rows."""
        return self._arrays[name].take(pa.array(self.at[rows]))

    def cell(self, name: str, row: int) -> str | None:
        return self._arrays[name][int(self.at[row])].as_py()

    def codes(self, name: str) -> tuple[pa.Array, np.ndarray]:
        """The distinct values of a column, and each row's index into them. They may include values
        of rows no longer here (never the index of a row here)."""
        encoded = self._arrays[name].dictionary_encode()
        return encoded.dictionary, encoded.indices.to_numpy()[self.at]

    def is_in(self, name: str, values: pa.Array) -> np.ndarray:
        """Per row, whether its cell of the column is one of ``values``."""
        return pc.is_in(self._arrays[name], value_set=values).to_numpy(zero_copy_only=False)[self.at]

    def after(self, name: str, head: pa.ChunkedArray | pa.Array, order: np.ndarray) -> pa.Array:
        """``head`` (the column of other rows) followed by these rows' column, taken in ``order``."""
        head = head if isinstance(head, pa.ChunkedArray) else pa.chunked_array([head], head.type)
        n_head, at = len(head), order.astype(np.int64, copy=True)
        ours = at >= n_head
        at[ours] = n_head + self.at[at[ours] - n_head]
        return pa.chunked_array([*head.chunks, self._arrays[name]], head.type).take(pa.array(at))


@dataclass
class _MasterRows:
    """The valid rows of a master table, column-wise: most of them become published rows as
    they are, without an :class:`Observation` each (see :func:`_split_plain`)."""

    files: np.ndarray
    """Per row, the file it was read from (objects: the same string for the rows of a file)."""
    lines: np.ndarray
    seq: np.ndarray
    texts: _TextColumns
    """Each row's text, the dedup key of its text, and its translation (``None``: none)."""
    zh: np.ndarray
    values: np.ndarray
    """Per row, the index of its normalized values in :attr:`closures`."""
    closures: list[Closure]
    annotations: np.ndarray
    """Per row (objects), the one label that accepts it as it is (``None``: none, or not told yet:
    :func:`_split_plain` tells them)."""
    copies: list[Observation]
    """The rows' other copies, none labelled, row after row (:attr:`copy_rows`); a row's Chinese
    ones in reading order, then the English ones linked through its translation."""
    copy_rows: np.ndarray
    """The row of each copy (non-decreasing)."""
    first: np.ndarray
    """Per row, the ``seq`` of its first Chinese copy (the row itself, its annotation or a copy):
    where its group is in reading order (:attr:`_Resolved.seq`)."""
    sources: np.ndarray
    """Per row (objects), the published ``source``: its most specific copy's (:func:`_resolve_copies`)."""
    hashed: list[BackgroundIds]
    """The ids of the keys of each master table read (all its rows, in one or more shares), hashed while
    the build goes on."""
    hashed_rows: np.ndarray
    """Per row, its position in the ids of :attr:`hashed`, one after the other."""

    @classmethod
    def empty(cls) -> _MasterRows:
        nothing = pa.array([], pa.string())
        return cls(np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   _TextColumns(nothing, nothing, nothing), np.zeros(0, bool), np.zeros(0, np.int64), [],
                   np.zeros(0, object), [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object), [],
                   np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return len(self.lines)

    @property
    def text(self) -> pa.Array:
        return self.texts.column("text")

    @property
    def key(self) -> pa.Array:
        return self.texts.column("key")

    @property
    def text_en(self) -> pa.Array:
        return self.texts.column("text_en")

    @classmethod
    def concat(cls, parts: list[_MasterRows]) -> _MasterRows:
        if len(parts) == 1:
            return parts[0]

        def offsets(sizes: list[int]) -> list[int]:
            return np.cumsum([0, *sizes[:-1]]).tolist()

        return cls(np.concatenate([p.files for p in parts]), np.concatenate([p.lines for p in parts]),
                   np.concatenate([p.seq for p in parts]), _TextColumns.concat([p.texts for p in parts]),
                   np.concatenate([p.zh for p in parts]),
                   np.concatenate([p.values + offset for p, offset in zip(
                       parts, offsets([len(p.closures) for p in parts]), strict=True)]),
                   [c for p in parts for c in p.closures],
                   np.concatenate([p.annotations for p in parts]), [c for p in parts for c in p.copies],
                   np.concatenate([p.copy_rows + offset for p, offset in zip(
                       parts, offsets([p.size for p in parts]), strict=True)]),
                   np.concatenate([p.first for p in parts]), np.concatenate([p.sources for p in parts]),
                   [h for p in parts for h in p.hashed],
                   np.concatenate([p.hashed_rows + offset for p, offset in zip(
                       parts, offsets([sum(len(h) for h in p.hashed) for p in parts]), strict=True)]))

    def observations(self, rows: np.ndarray, en_keys: pa.Array | None = None) -> list[Observation]:
        """The given rows as observations (rows that go through the build one by one); ``en_keys``:
        the dedup keys of all rows' translations, if computed."""
        english = self.texts.cells("text_en", rows).to_pylist()
        columns = zip(self.files[rows].tolist(), self.lines[rows].tolist(), self.texts.cells("text", rows).to_pylist(),
                      self.zh[rows].tolist(), self.texts.cells("key", rows).to_pylist(), english,
                      [self.closures[i] for i in self.values[rows].tolist()], self.seq[rows].tolist(),
                      [None] * len(rows) if en_keys is None else en_keys.take(rows).to_pylist(), strict=True)
        return [Observation(file, line, "master_table", text, "zh" if zh else "en", key, english, values,
                            source="master_table", seq=seq, en_key=en_key)
                for file, line, text, zh, key, english, values, seq, en_key in columns]

    def take(self, rows: np.ndarray) -> _MasterRows:
        return _MasterRows(self.files[rows], self.lines[rows], self.seq[rows], self.texts.take(rows),
                           self.zh[rows], self.values[rows],
                           self.closures, self.annotations[rows], *self._copies_of(rows), self.first[rows],
                           self.sources[rows], self.hashed, self.hashed_rows[rows])

    def ids(self) -> pa.Array:
        """Each row's id: :func:`rule_id` of its text, the hash of its key."""
        if not len(self.hashed_rows):
            return pa.array([], pa.string())
        return pa.concat_arrays([h.result() for h in self.hashed]).take(pa.array(self.hashed_rows))

    def id_numbers(self) -> np.ndarray:
        """:func:`~builders.stages.ids.id_numbers` of :meth:`ids`, without reading back their hex digits."""
        if not len(self.hashed_rows):
            return np.zeros(0, np.uint64)
        return np.concatenate([h.numbers() for h in self.hashed])[self.hashed_rows]

    def _copies_of(self, rows: np.ndarray) -> tuple[list[Observation], np.ndarray]:
        """The copies of the given rows, numbered as in :meth:`take`."""
        if not self.copies:
            return [], np.zeros(0, np.int64)
        renumbered = np.full(self.size, -1, np.int64)
        renumbered[rows] = np.arange(len(rows))
        new_rows = renumbered[self.copy_rows]
        at = np.flatnonzero(new_rows >= 0)
        at = at[np.argsort(new_rows[at], kind="stable")]
        return [self.copies[i] for i in at.tolist()], new_rows[at]

    def labelled(self) -> list[Observation]:
        """The annotations of the rows that have one, in row order."""
        return [a for a in self.annotations if a is not None]

    def others(self, row: int) -> list[Observation]:
        """The row's annotation and copies: every observation that folds into it."""
        lo, hi = np.searchsorted(self.copy_rows, [row, row + 1])
        annotation = self.annotations[row]
        return self.copies[lo:hi] if annotation is None else [annotation, *self.copies[lo:hi]]

    def members(self, row: int, obs: Observation) -> list[Observation]:
        """The row's group as :func:`_group` makes it, with ``obs`` the row itself: the Chinese copies
        in reading order, then the English ones."""
        others = self.others(row)
        zh = sorted([obs, *(o for o in others if o.lang == "zh")], key=attrgetter("seq"))
        return zh + [o for o in others if o.lang != "zh"]

    def folding(self, ids: pa.Array) -> Iterator[tuple[Observation, str]]:
        """Each annotation and copy with the id of the row it folds into (``ids``: one per row)."""
        if len(ids) != len(self.annotations):
            raise ValueError(f"{len(ids)} ids for {len(self.annotations)} rows")
        annotated = np.flatnonzero(np.not_equal(self.annotations, None))
        yield from zip([self.annotations[row] for row in annotated.tolist()], ids.take(pa.array(annotated)).to_pylist(),
                       strict=True)
        yield from zip(self.copies, ids.take(pa.array(self.copy_rows)).to_pylist(), strict=True)


def _master_texts(table: pa.Table, helpers: int) -> tuple[pa.Array, pa.Array, list[BackgroundIds], np.ndarray]:
    """A master table's cleaned rule texts, their dedup keys and the ids they give, and whether each is
    Chinese: Arrow work, so it can run in a thread. With ``helpers``, that many helper processes hash
    a share of the keys each from here on, beside the Python work that follows (the ids are first
    needed after :func:`_split_plain`); with none, they are hashed here when needed."""
    texts, keys = clean_text_and_key_columns(table.column("rot"), strip_rot_prefix_column, ROT_PREFIX_CHANGES)
    bounds = np.linspace(0, len(keys), max(1, helpers) + 1).astype(np.int64).tolist()
    ids = [BackgroundIds("rule", keys.slice(start, end - start), background=helpers > 0)
           for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
    return texts, keys, ids, has_cjk_column(texts)


def _master_translations(table: pa.Table) -> pa.Array:
    """A master table's cleaned translations (``None`` for none)."""
    english = clean_text_column(table.column("translate"))
    empty = pc.equal(pc.binary_length(english), 0)
    return pc.if_else(empty, pa.scalar(None, pa.string()), english) if pc.any(empty).as_py() else english


def _read_master_table(ctx: BuildContext, normalize: ValueNormalizer, validator: TableValidator, file: str,
                       columns: ColumnTable, seq: int) -> _MasterRows:
    """The master table read column-wise: the ledger entries :func:`_observe` and
    :func:`_validate_observations` give row by row, and the valid rows."""
    table = columns.table
    lines = columns.lines
    raw = table.column("rot")
    with ThreadPoolExecutor(max_workers=1) as pool:  # Arrow cleans the texts while Python closes the values
        cleaning = pool.submit(_master_texts, table, ctx.num_proc if ctx.num_proc > 1 else 0)
        codes, outcomes = _value_codes(normalize, table, _VALUE_COLUMNS["master_table"])
        english = _master_translations(table)
        texts, keys, ids, zh = cleaning.result()
    empty = pc.equal(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    failed = empty | np.array([isinstance(o, _Reject) for o in outcomes], bool)[codes]
    for i in np.flatnonzero(failed).tolist():
        problem = _Reject("rot", "empty rule text") if empty[i] else outcomes[codes[i]]
        text = raw[i].as_py() or ""
        ctx.ledger.reject(CONFIG, file, int(lines[i]), problem.field, problem.reason,
                          rule_id(text) if has_cjk(text) else None)
    rows = np.flatnonzero(~failed)
    present = np.bincount(codes[rows], minlength=len(outcomes)) > 0
    used, values = np.flatnonzero(present), (np.cumsum(present) - 1)[codes[rows]]  # np.unique's, in O(n)
    closures = [outcomes[i] for i in used.tolist()]
    seqs = seq + lines[rows]
    n = len(rows)
    master = _MasterRows(_repeated(file, n), lines[rows], seqs, _TextColumns(texts, keys, english).take(rows), zh[rows],
                         values, closures, np.full(n, None, object), [], np.zeros(0, np.int64), seqs.copy(),
                         _repeated("master_table", n), ids, rows)
    repaired = np.array([bool(c.added or c.dropped) for c in closures], bool)[values]
    for line, value in zip(master.lines[repaired].tolist(), values[repaired].tolist(), strict=True):
        _record_repair(ctx, file, line, closures[value])
    every = len(texts)
    invalid = _schema_errors(validator, pa.table({
        "rule": texts, "rule_en": english, "source": pa.repeat("master_table", every),
        "label_origin": pa.repeat("none", every), "labeler": pa.nulls(every, pa.string()),
    }), closures, values, rows)
    for row, message in invalid.items():
        ctx.ledger.reject(CONFIG, file, int(master.lines[row]), message.split(":")[0], message,
                          rule_id(master.texts.cell("text", row)) if master.zh[row] else None)
    if invalid:
        keep = np.ones(n, bool)
        keep[list(invalid)] = False
        master = master.take(np.flatnonzero(keep))
    return master


@dataclass
class _Facts:
    """What :func:`_split_plain` asks of each observation, column by column (in the observations' order):
    read from the columns a file's observations were made from, not from the objects."""

    key: pa.Array
    zh: np.ndarray
    labelled: np.ndarray
    accepting: np.ndarray
    """The label accepts the rule as it is (:func:`_accepts_as_is`)."""
    translated: np.ndarray
    """``text_en`` is set."""
    seq: np.ndarray

    @classmethod
    def of(cls, observations: list[Observation]) -> _Facts:
        """The facts of observations made one by one."""
        return cls(pa.array([o.key for o in observations], pa.string()),
                   np.array([o.lang == "zh" for o in observations], bool),
                   np.array([o.label is not None for o in observations], bool),
                   np.array([_accepts_as_is(o) for o in observations], bool),
                   np.array([o.text_en is not None for o in observations], bool),
                   np.array([o.seq for o in observations], np.int64))

    @classmethod
    def concat(cls, parts: list[_Facts]) -> _Facts:
        return cls(pa.concat_arrays([p.key for p in parts]) if parts else pa.array([], pa.string()),
                   *(np.concatenate([getattr(p, name) for p in parts] or [np.zeros(0, dtype)])
                     for name, dtype in (("zh", bool), ("labelled", bool), ("accepting", bool),
                                         ("translated", bool), ("seq", np.int64))))


def _observe_records(ctx: BuildContext, normalize: ValueNormalizer, artifact: Artifact,
                     records: Iterable[Record], seq: int) -> list[Observation]:
    """Records of one artifact → observations; rows that cannot be used go to the ledger."""
    observations: list[Observation] = []
    for record in records:
        try:
            obs = _observe(ctx, normalize, artifact, record.fields, record.file, record.line)
        except _Reject as err:
            row_id = _would_be_id(record.fields, _RULE_COLUMN.get(artifact.kind.name, "rot"))
            ctx.ledger.reject(CONFIG, record.file, record.line, err.field, err.reason, row_id)
            continue
        if obs is None:
            ctx.ledger.exclude(CONFIG, record.file, record.line, "filtered upstream (retain != 1)")
            continue
        obs.seq = seq + record.line
        _keep(ctx, observations, obs)
    return observations


def _per_distinct(column: pa.ChunkedArray | pa.Array, function) -> list:
    """``function`` of each row's cell, called once per distinct cell."""
    encoded = (column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column).dictionary_encode()
    outcomes = [function(cell) for cell in [*encoded.dictionary.to_pylist(), None]]  # the last: a null cell
    return [outcomes[i] for i in encoded.indices.fill_null(len(encoded.dictionary)).to_numpy().tolist()]


def _label_or_reject(cell: str) -> int | _Reject:
    try:
        return parse_label(cell)
    except ReplyParseError as err:
        return _Reject("标签", str(err))


def _reply_or_reject(cell: str) -> tuple[int, str | None] | _Reject:
    try:
        reply = _label_reply(cell)
    except ReplyParseError as err:
        return _Reject("标签", str(err))
    return reply.label, clean_text(reply.rewrite) or None


TEXT_COLUMNS = ("rule_text", "rule_key", "rule_is_zh")
"""What :func:`prepared_texts` adds to a rule file's columns: each row's cleaned rule text, its dedup key,
and whether it is Chinese."""


def prepared_texts(table: pa.Table, column: str = "rot") -> pa.Table:
    """A rule file's columns and its rule texts cleaned (:data:`TEXT_COLUMNS`).

    Needs nothing but the file, so a prefetch can run it in another process while the master
    table builds. A file without the rule column is left as it is: its build names the column.
    """
    if column not in table.column_names:
        return table
    cleaned = clean_text_column(strip_rot_prefix_column(table.column(column)))
    for name, array in zip(TEXT_COLUMNS, (cleaned, clean_key_column(cleaned), pa.array(has_cjk_column(cleaned))),
                           strict=True):
        table = table.append_column(name, array)
    return table


PREFETCH = {kind.name: prepared_texts for kind in ARTIFACTS
            if kind.name != "master_table" and all(p.endswith(".csv") for p in kind.patterns)}
"""The rule files a build may read ahead in a background process (the CSV files but the master tables,
which are read first), with the preparation that needs no other file."""


_LANGS = ("en", "zh")
"""An observation's ``lang``, by whether its text is Chinese."""


def _observe_columns(ctx: BuildContext, normalize: ValueNormalizer, artifact: Artifact, columns: ColumnTable,
                     seq: int, validator: TableValidator | None = None) -> tuple[list[Observation], _Facts]:
    """A CSV artifact read column-wise (and :func:`prepared_texts`) → what :func:`_observe_records`
    gives for its records, with each distinct value triple, label cell and reply parsed once, and
    the rows checked against the schema column-wise, so only valid rows become observations; and
    their :class:`_Facts`."""
    kind, file, table = artifact.kind.name, artifact.relpath, columns.table
    column = _RULE_COLUMN.get(kind, "rot")
    if TEXT_COLUMNS[0] not in table.column_names:
        table = prepared_texts(table, column)
    texts = table.column(TEXT_COLUMNS[0]).combine_chunks()
    n = len(texts)
    problems: dict[int, _Reject] = {
        i: _Reject(column, "empty rule text")
        for i in np.flatnonzero(pc.equal(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)).tolist()}

    def first_problem(outcomes: list) -> None:
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, _Reject):
                problems.setdefault(i, outcome)

    values: list = [None] * n
    if kind in _VALUE_COLUMNS:
        values = _closures_by_row(normalize, table, _VALUE_COLUMNS[kind])
        first_problem(values)
    labels: list = [None] * n
    rewrites: list = [None] * n
    excluded = np.zeros(n, bool)
    if kind == "human_labels":
        labels = _per_distinct(table.column("标签"), _label_or_reject)
        first_problem(labels)
        rewrites = [rewrite or None for rewrite in clean_text_column(table.column("重写")).to_pylist()]
    elif kind == "llm_labels":
        replies = _per_distinct(table.column("标签"), _reply_or_reject)
        first_problem(replies)
        labels = [None if isinstance(r, _Reject) else r[0] for r in replies]
        rewrites = [None if isinstance(r, _Reject) else r[1] for r in replies]
    elif kind == "generated_classified":
        def classified(cell: str) -> Closure | _Reject:
            try:
                parsed = _classification(cell)
            except ReplyParseError as err:
                return _Reject("derived_values", str(err))
            try:
                return normalize(*parsed.values())
            except UnknownValueError as err:
                return _Reject("derived_values", str(err))

        values = _per_distinct(table.column("derived_values"), classified)
        first_problem(values)
    elif kind == "seed_rules" and "retain" in table.column_names:
        excluded = np.array(_per_distinct(table.column("retain"), lambda cell: str(cell).strip() not in ("1", "")),
                            bool)
    source = {"human_retained": "human_curated", "generated_classified": _source_from_path(file),
              "seed_rules": _source_from_path(file)}.get(kind, "unknown")
    origin, labeler = {"human_retained": ("human", "human"), "human_labels": ("human", "human"),
                       "llm_labels": ("llm", ctx.settings.llm_labeler)}.get(kind, ("none", None))
    if kind == "human_retained":
        labels = [1] * n
    lines = columns.lines
    ledger, raw = ctx.ledger, table.column(column)
    rejected = np.array(sorted(problems), np.int64)
    excluded[rejected] = False
    for i in sorted([*problems, *np.flatnonzero(excluded).tolist()]):
        if i in problems:
            raw_text = raw[i].as_py()
            row_id = rule_id(raw_text) if isinstance(raw_text, str) and has_cjk(raw_text) else None
            ledger.reject(CONFIG, file, int(lines[i]), problems[i].field, problems[i].reason, row_id)
        else:
            ledger.exclude(CONFIG, file, int(lines[i]), "filtered upstream (retain != 1)")
    keep = ~excluded
    keep[rejected] = False
    for i in np.flatnonzero(keep).tolist():
        _record_repair(ctx, file, int(lines[i]), values[i])
    zh = table.column(TEXT_COLUMNS[2]).combine_chunks()
    checked = np.flatnonzero(keep & np.array([v is not None for v in values], bool))
    if len(checked):
        at = checked.tolist()
        invalid = _schema_errors(validator or TableValidator(load_schema(CONFIG)), pa.table({
            "rule": texts.take(checked), "rule_en": pa.nulls(len(at), pa.string()),
            "source": pa.repeat(source, len(at)),
            "label_origin": pa.array([origin if labels[i] is not None else "none" for i in at], pa.string()),
            "labeler": pa.array([labeler if labels[i] is not None else None for i in at], pa.string()),
        }), *_distinct_closures([values[i] for i in at]))
        for row, message in invalid.items():
            i = at[row]
            ledger.reject(CONFIG, file, int(lines[i]), message.split(":")[0], message,
                          rule_id(texts[i].as_py()) if zh[i].as_py() else None)
        keep[checked[list(invalid)]] = False
    rows = np.flatnonzero(keep)
    at = rows.tolist()
    values, labels, rewrites = [values[i] for i in at], [labels[i] for i in at], [rewrites[i] for i in at]
    keys = table.column(TEXT_COLUMNS[1]).combine_chunks().take(rows)
    is_zh, seqs = zh.take(rows).to_pylist(), lines[rows] + seq
    repeat = itertools.repeat
    observations = list(map(Observation, repeat(file), lines[rows].tolist(), repeat(kind), texts.take(rows).to_pylist(),
                            [_LANGS[z] for z in is_zh], keys.to_pylist(), repeat(None), values, labels, rewrites,
                            [origin if label is not None else "none" for label in labels],
                            [labeler if label is not None else None for label in labels], repeat(source),
                            seqs.tolist()))
    accepts = kind in _ACCEPTING_KINDS
    accepting = [accepts and label == 1 and rewrite is None for label, rewrite in zip(labels, rewrites, strict=True)]
    facts = _Facts(keys, np.array(is_zh, bool), np.array([label is not None for label in labels], bool),
                   np.array(accepting, bool), np.zeros(len(observations), bool), seqs)
    return observations, facts


def _record_repair(ctx: BuildContext, file: str, line: int, values: Closure | None) -> None:
    """Record in the repairs a raw row whose values normalization changed."""
    if values is not None and (values.added or values.dropped):
        ctx.repairs.append({"config": CONFIG, "file": file, "line": line,
                            "added": values.added, "dropped": values.dropped})


def _keep(ctx: BuildContext, observations: list[Observation], obs: Observation) -> None:
    """Add an observation, recording in the repairs when normalization changed its values."""
    observations.append(obs)
    _record_repair(ctx, obs.file, obs.line, obs.values)


_SEQ_STRIDE = 1 << 32
"""``Observation.seq`` of an artifact's rows: its reading position times this, plus the row's line."""


def read_observations(ctx: BuildContext) -> tuple[list[Observation], _Facts, list[_MasterRows]]:
    """Read every rule artifact; rows that cannot be read are rejected in the ledger.

    CSV files are read column-wise; the valid rows of a master table are returned as
    columns, every other row as an observation, in reading order.

    The master tables are read first, while a prefetch (:data:`PREFETCH`) starts on the other
    files; what reading records in order (the observations, the repairs) is put back in
    reading order. The ledger is kept by file and line, whatever the order.
    """
    normalize = ValueNormalizer(ctx.taxonomy)
    validator = TableValidator(load_schema(CONFIG))
    artifacts = ctx.of_kind(*(kind.name for kind in ARTIFACTS))
    masters_first = sorted(range(len(artifacts)), key=lambda p: artifacts[p].kind.name != "master_table")
    read: dict[int, tuple[tuple[list[Observation], _Facts] | _MasterRows, list[dict]]] = {}
    repairs = len(ctx.repairs)
    for position in ctx.progress(CONFIG, masters_first):
        artifact, seq, before = artifacts[position], position * _SEQ_STRIDE, len(ctx.repairs)
        if artifact.path.suffix.lower() != ".csv":  # JSONL: value cells may be lists
            rows = _validate_observations(ctx, _observe_records(ctx, normalize, artifact,
                                                                ctx.registered(CONFIG, artifact.read()), seq))
            rows = rows, _Facts.of(rows)
        elif artifact.kind.name == "master_table":
            rows = _read_master_table(ctx, normalize, validator, artifact.relpath, ctx.column_table(CONFIG, artifact),
                                      seq)
        else:
            rows = _observe_columns(ctx, normalize, artifact,
                                    ctx.column_table(CONFIG, artifact, PREFETCH[artifact.kind.name]), seq, validator)
        read[position] = rows, ctx.repairs[before:]
    del ctx.repairs[repairs:]
    observations: list[Observation] = []
    facts: list[_Facts] = []
    masters: list[_MasterRows] = []
    for position in sorted(read):
        rows, recorded = read[position]
        if isinstance(rows, _MasterRows):
            masters.append(rows)
        else:
            observations += rows[0]
            facts.append(rows[1])
        ctx.repairs += recorded
    return observations, _Facts.concat(facts), masters


def _distinct_closures(values: list[Closure]) -> tuple[list[Closure], np.ndarray]:
    """The distinct closures (the normalizer shares one object per combination) and each row's index among them."""
    index: dict[int, int] = {}
    closures: list[Closure] = []
    which: list[int] = []
    for closure in values:
        i = index.get(id(closure))
        if i is None:
            i = index[id(closure)] = len(closures)
            closures.append(closure)
        which.append(i)
    return closures, np.array(which, np.int64)


def _schema_errors(validator: TableValidator, fields: pa.Table, closures: list[Closure],
                   which: np.ndarray, rows: np.ndarray | None = None) -> dict[int, str]:
    """The first schema error of each invalid row (``field: message``), given its text fields and values
    (``closures[which[row]]``). ``rows``: the rows checked, when ``fields`` holds more (rows then
    numbered as in ``rows``, as ``which`` is).

    Value lists are checked once per distinct closure, then their errors are given to every
    row that has that closure.
    """
    errors = validator.validate(fields, partial=True)
    if rows is not None:
        position = np.full(fields.num_rows, -1, np.int64)
        position[rows] = np.arange(len(rows))
        errors = [replace(e, row=int(position[e.row])) for e in errors if position[e.row] >= 0]
    closure_errors: dict[int, list[RowError]] = {}
    for error in validator.validate(pa.table({
        "dimensions": [c.dimensions for c in closures],
        "core_values": [c.core_values for c in closures],
        "derived_values": [c.derived_values for c in closures],
    }), partial=True):
        closure_errors.setdefault(error.row, []).append(error)
    if closure_errors:
        flagged = np.flatnonzero(np.isin(which, list(closure_errors)))
        errors = sorted(errors + [replace(error, row=row) for row, i in zip(flagged.tolist(), which[flagged].tolist(),
                                                                            strict=True)
                                  for error in closure_errors[i]])
    invalid: dict[int, str] = {}
    for error in errors:
        invalid.setdefault(error.row, f"{error.field}: {error.message}")
    return invalid


def _validate_observations(ctx: BuildContext, observations: list[Observation]) -> list[Observation]:
    """Check the normalized fields of every valued observation against the schema."""
    valued = [o for o in observations if o.values is not None]
    invalid = _schema_errors(TableValidator(load_schema(CONFIG)), pa.table({
        "rule": [o.text for o in valued],
        "rule_en": pa.array([o.text_en for o in valued], pa.string()),
        "source": [o.source for o in valued],
        "label_origin": [o.label_origin for o in valued],
        "labeler": pa.array([o.labeler for o in valued], pa.string()),
    }), *_distinct_closures([o.values for o in valued]))
    for row, message in invalid.items():
        obs = valued[row]
        ctx.ledger.reject(CONFIG, obs.file, obs.line, message.split(":")[0], message,
                          rule_id(obs.text) if obs.lang == "zh" else None)
    rejected = {id(valued[row]) for row in invalid}
    return [o for o in observations if id(o) not in rejected]


_ACCEPTING_KINDS = ("llm_labels", "human_labels")
"""The files whose labels can accept a rule as it is (``human_retained`` rows are labelled 1 but are copies)."""


def _accepts_as_is(obs: Observation) -> bool:
    """A label (LLM or human) that keeps the rule as it is: with the master row, the group's outcome is known."""
    return obs.kind in _ACCEPTING_KINDS and obs.label == 1 and obs.rewrite is None


def _key_codes(master: _MasterRows) -> tuple[int, np.ndarray, Callable[[], pa.Array]]:
    """The count of distinct keys of the master rows, each row's index into them, and the keys
    themselves, made when asked for (only rows of other files are looked up among them).

    Read off the rows' ids, which hash the keys and are made anyway: sorting their 64-bit numbers
    takes a fraction of hashing the texts again. Rows under one id are checked to hold one key; if
    two keys ever shared an id, the texts themselves are encoded instead.
    """
    numbers = master.id_numbers()
    order = np.argsort(numbers)
    ordered = numbers[order]
    new = np.ones(len(order), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    code_in_order = np.cumsum(new) - 1
    codes = np.empty(len(order), np.int64)
    codes[order] = code_in_order
    first = order[new]
    """A row of each key, in the order of the codes."""
    again = np.flatnonzero(~new)
    if len(again) and not pc.all(pc.equal(master.texts.cells("key", order[again]),
                                          master.texts.cells("key", first[code_in_order[again]]))).as_py():
        return _text_codes(master)
    return len(first), codes, lambda: master.texts.cells("key", first)


def _text_codes(master: _MasterRows) -> tuple[int, np.ndarray, Callable[[], pa.Array]]:
    """:func:`_key_codes` by encoding the key texts."""
    distinct, codes = master.texts.codes("key")
    return len(distinct), codes, lambda: distinct


def _split_plain(masters: list[_MasterRows], observations: list[Observation], facts: _Facts) -> _MasterRows | None:
    """The master rows whose group's outcome is known without resolving it, published as they are.

    Such a row is Chinese and the only master row under its key. Its other copies are taken
    out of ``observations`` and kept with it: Chinese copies without a label or a translation,
    at most one label that accepts the rule unchanged, and the English rows linked through its
    translation, when no other row has that translation and none of those English rows is
    labelled. Whatever they are, the master copy wins (:data:`_ARTIFACT_RANK`) and they fold
    into it. The other master rows join ``observations`` (in reading order). ``facts``: those
    of ``observations``.
    """
    if not masters:
        return None
    master = _MasterRows.concat(masters)
    n_keys, codes, distinct_keys = _key_codes(master)
    plain = master.zh & (np.bincount(codes[master.zh], minlength=n_keys)[codes] == 1)
    zh, english = np.flatnonzero(facts.zh), np.flatnonzero(~facts.zh)
    """Where the Chinese and the English observations are."""
    sole = np.full(n_keys, -1, np.int64)
    """Per master key: the Chinese observation under it that accepts the rule as it is (``-1``: none)."""
    under, code = np.zeros(0, np.int64), np.zeros(0, np.int64)
    """The Chinese observations under a master key, and that key."""
    if len(zh):
        of_key = pc.fill_null(pc.index_in(facts.key.take(zh), value_set=distinct_keys()), -1).to_numpy()
        under, code = zh[of_key >= 0], of_key[of_key >= 0]
        labelled, accepting = facts.labelled[under], facts.accepting[under]
        n_labelled = np.bincount(code[labelled], minlength=n_keys)
        decided = (n_labelled == 0) | ((n_labelled == 1) & (np.bincount(code[accepting], minlength=n_keys) == 1))
        plain &= (decided & (np.bincount(code[facts.translated[under]], minlength=n_keys) == 0))[codes]
        sole[code[accepting]] = under[accepting]
    english_keys = facts.key.take(english)
    foreign = master.texts.cells("key", np.flatnonzero(~master.zh)).to_pylist()
    en_keys = None
    linked = np.zeros(master.size, bool)
    if len(english) or foreign:
        en_keys = clean_key_column(master.text_en)
        has_translation = pc.is_valid(master.text_en).to_numpy(zero_copy_only=False)
        wanted = pa.concat_arrays([english_keys, pa.array(foreign, pa.string())])
        linked = pc.is_in(en_keys, value_set=wanted).to_numpy(zero_copy_only=False)
        linked &= has_translation
        if linked.any():
            translations = en_keys.filter(pa.array(has_translation & master.zh)).value_counts()
            blocked = set(translations.field("values").filter(pc.greater(translations.field("counts"), 1)).to_pylist())
            blocked.update(foreign)
            blocked.update(english_keys.filter(pa.array(facts.labelled[english])).to_pylist())
            translated = (observations[i] for i in np.flatnonzero(facts.zh & facts.translated).tolist())
            blocked.update(o.en_key or clean_key(o.text_en) for o in translated if o.text_en)
            candidates = np.flatnonzero(linked & plain)
            plain[candidates[[k in blocked for k in en_keys.take(candidates).to_pylist()]]] = False
    rows = np.flatnonzero(plain)
    kept = master.take(rows)
    row_of_key = np.full(n_keys, -1, np.int64)
    row_of_key[codes[rows]] = np.arange(len(rows))
    annotation = sole[codes[rows]]
    with_annotation = np.flatnonzero(annotation >= 0)
    kept.annotations[with_annotation] = [observations[i] for i in annotation[with_annotation].tolist()]
    # The copies: each Chinese observation under a plain row's key but its annotation, and each
    # English observation whose key is a plain row's translation.
    zh_row = row_of_key[code]
    copy = (zh_row >= 0) & (sole[code] != under)
    english_row = np.zeros(0, np.int64)
    if len(english) and (linked & plain).any():
        with_link = np.flatnonzero(linked & plain)
        found = pc.index_in(english_keys, value_set=en_keys.take(with_link))
        english_row = pc.fill_null(found, -1).to_numpy().astype(np.int64)
        english_row[english_row >= 0] = row_of_key[codes[with_link[english_row[english_row >= 0]]]]
    taken_en = english[english_row >= 0]
    copy_rows = np.concatenate([zh_row[copy], english_row[english_row >= 0]])
    order = np.lexsort((np.arange(len(copy_rows)), copy_rows))  # per row: Chinese in reading order, then English
    pool = np.concatenate([under[copy], taken_en])
    kept.copies, kept.copy_rows = [observations[i] for i in pool[order].tolist()], copy_rows[order]
    for i in taken_en.tolist():
        observations[i].text_en = observations[i].text_en or observations[i].text  # as _group links it
    taken = zh_row >= 0
    np.minimum.at(kept.first, zh_row[taken], facts.seq[under[taken]])
    kept.sources = _sources_of(kept)
    out = np.concatenate([under[taken], taken_en])
    if len(out):
        stays = np.ones(len(observations), bool)
        stays[out] = False
        observations[:] = itertools.compress(observations, stays.tolist())
    _splice(observations, master.observations(np.flatnonzero(~plain), en_keys))
    return kept


def _specific_source(copies: Iterable[Observation], default: str) -> str:
    """The ``source`` a group publishes: its best-ranked copy's among those with a specific one."""
    specific = [o for o in copies if o.source not in _GENERIC_SOURCES]
    return min(specific, key=Observation.rank).source if specific else default


def _sources_of(rows: _MasterRows) -> np.ndarray:
    """Per plain row, the ``source`` its group publishes (:func:`_specific_source`; the row itself is
    ``master_table`` and a label's is ``unknown``, neither specific, so its copies decide)."""
    sources = _repeated("master_table", rows.size)
    with_copies = np.unique(rows.copy_rows)
    starts, ends = np.searchsorted(rows.copy_rows, [with_copies, with_copies + 1])
    for row, start, end in zip(with_copies.tolist(), starts.tolist(), ends.tolist(), strict=True):
        sources[row] = _specific_source(rows.copies[start:end], "master_table")
    return sources


def _splice(observations: list[Observation], rest: list[Observation]) -> None:
    """Put master rows taken as observations into ``observations`` in reading order, as if read one by one."""
    for _, run in itertools.groupby(rest, key=lambda o: o.seq // _SEQ_STRIDE):  # one run per master file
        run = list(run)
        at = bisect.bisect(observations, run[0].seq, key=attrgetter("seq"))
        observations[at:at] = run


@dataclass(slots=True)
class _Group:
    """All observations of one rule, and what the build decided for it."""

    key: str
    members: list[Observation] = field(default_factory=list)


def _group(ctx: BuildContext, observations: list[Observation], linked: int = 0) -> list[_Group]:
    """Group copies by normalized Chinese text; link English copies through their translation.

    English copies no Chinese rule translates are handed to ``rules_en`` (``ctx.english_rules``),
    which records their outcome here too.

    ``linked``: English copies linked already (those of plain master rows, :func:`_split_plain`).
    """
    zh = [o for o in observations if o.lang == "zh"]
    groups = {k: _Group(k, v) for k, v in group_exact(zh, attrgetter("key")).items()}
    english = [o for o in observations if o.lang == "en"]
    wanted = {o.key for o in english}
    by_english: dict[str, str] = {}
    translations = ((o.en_key or clean_key(o.text_en), o) for o in zh if o.text_en) if wanted else ()
    for key, obs in sorted(((k, o) for k, o in translations if k in wanted), key=lambda pair: pair[1].rank()):
        by_english.setdefault(key, obs.key)
    for obs in english:
        target = by_english.get(obs.key)
        if target is None:  # no Chinese rule translates it: an English rule, published in rules_en
            ctx.english_rules.append(obs)
            continue
        obs.text_en = obs.text_en or obs.text
        groups[target].members.append(obs)
        linked += 1
    ctx.notes.setdefault(CONFIG, {})["english_linked"] = linked
    return list(groups.values())


@dataclass(slots=True)
class _Resolved:
    """A group's published row, with what the second dedup pass and the ledger need."""

    row: dict
    key: str
    """Dedup key of the published text (differs from the group key after a rewrite)."""
    group_key: str
    """Dedup key of the original text."""
    kept: Observation
    members: list[Observation]
    seq: int
    """``Observation.seq`` of the group's first copy: where the rule comes in reading order."""

    @property
    def rank(self) -> tuple:
        """Which of the rules sharing a published text is kept: the best annotated, then the best copy."""
        return (_ORIGIN_RANK[self.row["label_origin"]], self.kept.rank(), self.row["id"])


def _row(row_id: str, rule: str, kept: Observation, english: str | None, source: str,
         annotation: Observation | None) -> dict:
    values = kept.values
    return {
        "id": row_id,
        "rule": rule,
        "rule_en": english,
        "original_rule": kept.text,
        "rewritten": rule != kept.text,
        "dimensions": values.dimensions,
        "core_values": values.core_values,
        "derived_values": values.derived_values,
        "source": source,
        "label": annotation.label if annotation else None,
        "label_origin": annotation.label_origin if annotation else "none",
        "labeler": annotation.labeler if annotation else None,
    }


def _resolve(ctx: BuildContext, group: _Group, group_id: str, stats: Counter) -> _Resolved | None:
    """One group (and its id) → a published row, or ``None`` when it is excluded or rejected."""
    members = group.members
    if len(members) == 1 and (only := members[0]).values is not None and only.label is None:
        # Most rules: one unlabelled copy from a rule table, published as it is.
        return _Resolved(_row(group_id, only.text, only, only.text_en, only.source, None),
                         group.key, group.key, only, members, only.seq)
    return _resolve_copies(ctx, group, group_id, stats)


def _resolve_copies(ctx: BuildContext, group: _Group, group_id: str, stats: Counter) -> _Resolved | None:
    """A group with several copies or an annotation: pick the copy, the label and the text."""
    ledger = ctx.ledger
    members = group.members
    valued = [o for o in members if o.values is not None]
    if not valued:
        for obs in members:
            ledger.reject(CONFIG, obs.file, obs.line, "rot",
                          "label for a rule that no rule table lists (no value labels)", group_id)
        return None
    single = len(members) == 1
    by_rank = members if single else sorted(members, key=Observation.rank)
    kept = valued[0] if single else next(o for o in by_rank if o.values is not None)
    labelled = [o for o in members if o.label is not None]
    annotation = min(labelled, key=Observation.label_rank) if labelled else None
    if annotation and len({o.label for o in labelled}) > 1:
        stats["label_conflicts"] += 1
    if annotation and annotation.label == 0:
        for obs in members:
            ledger.exclude(CONFIG, obs.file, obs.line,
                           f"labelled 0 (unrelated) at {annotation.file}:{annotation.line}", group_id)
        stats["excluded_label_0"] += 1
        return None
    if annotation and annotation.label == -1 and not annotation.rewrite:
        for obs in members:
            ledger.reject(CONFIG, obs.file, obs.line, "标签",
                          f"labelled -1 at {annotation.file}:{annotation.line} without a rewrite", group_id)
        return None
    original = kept.text
    rule = annotation.rewrite if annotation and annotation.rewrite else original
    if single:
        english, source = kept.text_en, kept.source
    else:
        english = next((o.text_en for o in by_rank if o.text_en), None)
        source = _specific_source(by_rank, kept.source)
    key = clean_key(rule) if rule != original else group.key
    return _Resolved(_row(group_id, rule, kept, english, source, annotation), key, group.key, kept, members,
                     members[0].seq)


def _demote(ctx: BuildContext, plain: _MasterRows, resolved: list[_Resolved],
            stats: Counter) -> tuple[_MasterRows, list[_Resolved]]:
    """Take out of the plain rows those whose text a rewrite gives another rule: they take part
    in the second dedup pass as resolved rules."""
    rewritten = {r.key for r in resolved if r.key != r.group_key}
    hit = (plain.texts.is_in("key", pa.array(sorted(rewritten), pa.string())) if rewritten
           else np.zeros(plain.size, bool))
    if not hit.any():
        return plain, []
    rows = np.flatnonzero(hit)
    groups = [_Group(obs.key, plain.members(row, obs))
              for row, obs in zip(rows.tolist(), plain.observations(rows), strict=True)]
    demoted = [_resolve(ctx, group, stable_id("rule", group.key), stats) for group in groups]
    return plain.take(np.flatnonzero(~hit)), demoted


def _exact_dedup(ctx: BuildContext, resolved: list[_Resolved],
                 stats: Counter) -> list[tuple[_Resolved, list[_Resolved], int]]:
    """Second dedup pass on the published text: a rewrite can land on another rule's text.

    ``resolved`` in reading order; the result in the order of each text's first copy, each
    kept rule with the rules folded into it and the ``seq`` of that first copy.
    """
    kept = []
    if resolved:
        stats.setdefault("folded_after_rewrite", 0)  # the report states the count even when nothing folds
    for copies in group_exact(resolved, attrgetter("key")).values():
        if len(copies) == 1:
            kept.append((copies[0], [], copies[0].seq))
            continue
        best, folded = keep_best(copies, lambda r: r.rank)
        for other in folded:
            ctx.rule_aliases[other.group_key] = best.row["id"]
        stats["folded_after_rewrite"] += len(folded)
        # A folded copy whose own text is the published (rewritten) text carries that text's translation.
        english = next((o.row["rule_en"] for o in sorted(folded, key=lambda r: r.rank) if o.row["rule_en"]), None)
        if english and (best.row["rule_en"] is None or best.row["rewritten"]):
            best.row["rule_en"] = english
        kept.append((best, folded, copies[0].seq))
    return kept


@dataclass
class _Kept:
    """Every rule left after exact dedup, in reading order: resolved groups and plain master rows.

    Position ``p`` in reading order is ``entries[p]``: ``< len(resolved)`` a resolved group,
    else a plain row (``entries[p] - len(resolved)``).
    """

    resolved: list[tuple[_Resolved, list[_Resolved], int]]
    plain: _MasterRows
    plain_ids: pa.Array
    entries: np.ndarray

    @classmethod
    def of(cls, resolved: list[tuple[_Resolved, list[_Resolved], int]], plain: _MasterRows) -> _Kept:
        seqs = np.concatenate([np.array([seq for *_, seq in resolved], np.int64), plain.first])
        return cls(resolved, plain, plain.ids(), np.argsort(seqs, kind="stable"))

    def id_order(self) -> np.ndarray:
        """The sort indices of the ids of the resolved rules, then of the plain rows: the order of the
        rules table when every kept rule is published (near-duplicates not folded)."""
        resolved = pa.array([best.row["id"] for best, *_ in self.resolved], pa.string())
        numbers = id_numbers(resolved) if len(resolved) else np.zeros(0, np.uint64)
        if numbers is None or not self.plain.size or (
                len(resolved) and resolved[0].as_py()[:-16] != self.plain_ids[0].as_py()[:-16]):
            return sort_indices(pa.concat_arrays([resolved, self.plain_ids]))
        return number_order(np.concatenate([numbers, self.plain.id_numbers()]))

    def id_at(self, position: int) -> str:
        """The id of the kept rule at ``position`` in reading order (without listing them all)."""
        entry = int(self.entries[position])
        n_resolved = len(self.resolved)
        return self.resolved[entry][0].row["id"] if entry < n_resolved else self.plain_ids[entry - n_resolved].as_py()

    def ids(self) -> list[str]:
        """Each kept rule's id, in reading order."""
        ids = [best.row["id"] for best, *_ in self.resolved] + self.plain_ids.to_pylist()
        return [ids[e] for e in self.entries.tolist()]

    def texts_and_ranks(self) -> tuple[list[str], list[int]]:
        """The published text of each kept rule and its place in :attr:`_Resolved.rank` order, in reading order.

        The rank's last part, the id, never decides: no two kept rules have the same kept copy.
        """
        kept = [best.kept for best, *_ in self.resolved]
        texts = [best.row["rule"] for best, *_ in self.resolved] + self.plain.text.to_pylist()
        origin = [_ORIGIN_RANK[best.row["label_origin"]] for best, *_ in self.resolved]
        origin += [_ORIGIN_RANK["none" if a is None else a.label_origin] for a in self.plain.annotations]
        kind = [_ARTIFACT_RANK[o.kind] for o in kept] + [_ARTIFACT_RANK["master_table"]] * len(self.plain_ids)
        files = [o.file for o in kept] + self.plain.files.tolist()
        names = {name: i for i, name in enumerate(sorted(set(files)))}
        lines = np.concatenate([np.array([o.line for o in kept], np.int64), self.plain.lines.astype(np.int64)])
        at = self.entries
        order = np.lexsort((lines[at], np.array([names[f] for f in files])[at], np.array(kind)[at],
                            np.array(origin)[at]))
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return [texts[e] for e in at.tolist()], rank.tolist()


def _near_duplicate_clusters(ctx: BuildContext, kept: _Kept) -> list[int] | BackgroundClusters | None:
    """Each kept rule's cluster as the position (reading order) of its best-annotated member (itself if alone).

    ``None`` when near-duplicates are off. When they are only marked and a second process
    is allowed, they are found in the background: nothing else in the build depends on them.
    """
    settings = ctx.settings.near_dup
    if settings.mode == "off" or not len(kept.entries):
        return None
    texts, rank = kept.texts_and_ranks()
    if settings.mode == "mark" and ctx.num_proc > 1:
        return BackgroundClusters(texts, rank=rank, **settings.kwargs())
    return find_clusters(texts, rank=rank, num_proc=ctx.num_proc, **settings.kwargs())


def _mark_near_duplicates(ctx: BuildContext, kept_ids: list[str], clusters: list[int], positions: list[int]) -> None:
    """Record the clusters: the ``cluster_id`` of the published rules, ``ctx.near_duplicates``, their counts.

    ``kept_ids``: the ids in the order the clusters were computed in; ``positions``: where in
    that order each row of the rules table is.
    """
    members: dict[str, list[str]] = {}
    for row_id, representative in zip(kept_ids, clusters, strict=True):
        if kept_ids[representative] != row_id:
            members.setdefault(kept_ids[representative], []).append(row_id)
    ctx.near_duplicates[CONFIG] = {rep: sorted(ids) for rep, ids in sorted(members.items())}
    notes = ctx.notes.setdefault(CONFIG, {})
    notes["near_duplicate_clusters"] = len(members)
    notes["near_duplicate_members"] = sum(map(len, members.values()))
    if not members or ctx.settings.near_dup.mode == "fold":
        return  # every cluster_id is already the row's own id, or the row it was folded into
    table = ctx.tables[CONFIG]
    at = table.schema.get_field_index("cluster_id")
    cluster_ids = pa.array([kept_ids[clusters[p]] for p in positions], pa.string())
    ctx.tables[CONFIG] = ctx.results[CONFIG] = table.set_column(at, table.schema.field(at), cluster_ids)


def _rules_table(rows: list[dict], plain: _MasterRows, plain_ids: pa.Array, schema: pa.Schema,
                 order: np.ndarray | None) -> tuple[pa.Table, np.ndarray]:
    """The published rules sorted by id: the resolved rules' ``rows`` and the plain rows, and the row
    order (into those rows, then the plain ones). ``order``: the sort indices of their ids, if known.

    Each column is taken in id order once; the value and annotation columns, which hold a few
    distinct values, are taken as indices into those. A column equal to another (every id its own
    cluster's, every text its own original) is that column, so it is taken and checked once.
    """
    resolved = rows_to_table(rows, schema)
    n_resolved, n = len(rows), len(rows) + plain.size
    if order is None:
        order = sort_indices(pa.concat_arrays([single_chunk(resolved.column("id")), plain_ids]))
    order = np.asarray(order)
    if len(order) != n:
        raise ValueError(f"an order of {len(order)} rows for {n} rules")
    at = pa.array(order)
    at_plain = np.flatnonzero(np.not_equal(plain.annotations, None))
    annotations = [plain.annotations[i] for i in at_plain.tolist()]

    def taken(name: str, plain_column: pa.Array) -> pa.Array:
        return without_validity(single_chunk(pa.chunked_array(
            [*resolved.column(name).chunks, plain_column], schema.field(name).type).take(at)))

    def taken_text(name: str, plain_column: str) -> pa.Array:
        return without_validity(single_chunk(plain.texts.after(plain_column, resolved.column(name), order)))

    def through(name: str, distinct: pa.Array, codes: np.ndarray) -> pa.Array:
        """The column whose plain rows hold ``distinct[codes]``."""
        values = pa.concat_arrays([single_chunk(resolved.column(name)), distinct.cast(schema.field(name).type)])
        indices = np.concatenate([np.arange(n_resolved), n_resolved + codes])[order]
        return without_validity(values.take(pa.array(indices)))

    def coded(name: str, rows: np.ndarray, given: list, default: object) -> pa.Array:
        """The column whose plain ``rows`` hold ``given`` and whose other plain rows hold ``default``,
        through the few distinct values."""
        distinct = [default, *dict.fromkeys(v for v in given if v != default)]
        codes = np.zeros(plain.size, np.int64)
        codes[rows] = [distinct.index(v) for v in given]
        return through(name, pa.array(distinct, schema.field(name).type), codes)

    def annotated(field: str, default: object) -> pa.Array:
        """Each plain row's annotation's ``field`` (``default`` without one)."""
        return coded(field, at_plain, [getattr(a, field) for a in annotations], default)

    def tier_column(tier: str) -> pa.Array:
        """A value tier, through the distinct closures (listed in the pool's thread, beside the other's take)."""
        distinct = pa.array([getattr(c, tier) for c in plain.closures], schema.field(tier).type)
        return through(tier, distinct, plain.values)

    def same_in_resolved(name: str, like: str) -> bool:
        return resolved.column(name).equals(resolved.column(like))

    specific = np.flatnonzero(plain.sources != "master_table")
    making = {  # the longest first, so that the two threads end together
        "rule": lambda: taken_text("rule", "text"), "rule_en": lambda: taken_text("rule_en", "text_en"),
        **{tier: partial(tier_column, tier) for tier in TIERS},
        "id": lambda: taken("id", plain_ids),
        "source": lambda: coded("source", specific, plain.sources[specific].tolist(), "master_table"),
        "rewritten": lambda: taken("rewritten", pa.repeat(False, plain.size)),
        "label": lambda: annotated("label", None), "label_origin": lambda: annotated("label_origin", "none"),
        "labeler": lambda: annotated("labeler", None),
    }
    if not same_in_resolved("original_rule", "rule"):
        making["original_rule"] = lambda: taken_text("original_rule", "text")
    if not same_in_resolved("cluster_id", "id"):
        making["cluster_id"] = lambda: taken("cluster_id", plain_ids)
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow takes a column without the GIL
        columns = dict(zip(making, pool.map(lambda make: make(), making.values()), strict=True))
    columns.setdefault("original_rule", columns["rule"])
    columns.setdefault("cluster_id", columns["id"])
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema), order


def _publish_resolved(ctx: BuildContext, kept: _Kept, representatives: np.ndarray,
                      position_of: np.ndarray) -> tuple[list[dict], list[tuple[str, str]], list[int]]:
    """Record the outcome of every copy of the resolved rules: the rows published, their keys
    (original, published) and their positions in reading order."""
    rows: list[dict] = []
    keys: list[tuple[str, str]] = []
    positions: list[int] = []
    published: list[tuple[str, int, str]] = []
    folds: list[tuple[str, int, str, str]] = []
    for i, (best, folded, _) in enumerate(kept.resolved):
        position = int(position_of[i])
        best_id, rep_id = best.row["id"], kept.id_at(representatives[position])
        if rep_id != best_id:
            for other in (best, *folded):
                ctx.rule_aliases[other.group_key] = ctx.rule_aliases[other.key] = rep_id
                folds += [(obs.file, obs.line, rep_id, f"near-duplicate of {rep_id}") for obs in other.members]
            continue
        for obs in best.members:
            if obs is best.kept:
                published.append((obs.file, obs.line, best_id))
            else:
                folds.append((obs.file, obs.line, best_id, "same rule text"))
        for other in folded:
            reason = f"same text as {best_id} after rewrite"
            folds += [(obs.file, obs.line, best_id, reason) for obs in other.members]
        best.row["cluster_id"] = best_id  # when near-duplicates are marked, set again once the clusters are known
        rows.append(best.row)
        positions.append(position)
        keys.append((best.kept.key, best.key if best.row["rewritten"] else best.kept.key))
    ctx.ledger.fold_many(CONFIG, folds)
    ctx.ledger.publish_many(CONFIG, published)
    return rows, keys, positions


def _publish_plain(ctx: BuildContext, kept: _Kept, representatives: np.ndarray,
                   position_of: np.ndarray) -> tuple[_MasterRows, pa.Array, np.ndarray]:
    """Record the outcome of the plain rows: the rows published, their ids and their positions in reading order."""
    plain, plain_ids = kept.plain, kept.plain_ids
    positions = position_of[len(kept.resolved):]
    folded = representatives[positions] != positions
    for i in np.flatnonzero(folded).tolist():
        rep_id = kept.id_at(representatives[positions[i]])
        ctx.rule_aliases[plain.texts.cell("key", i)] = rep_id
        ctx.ledger.fold(CONFIG, plain.files[i], int(plain.lines[i]), rep_id, f"near-duplicate of {rep_id}")
        ctx.ledger.fold_many(CONFIG, ((o.file, o.line, rep_id, f"near-duplicate of {rep_id}") for o in plain.others(i)))
    if folded.any():
        rest = np.flatnonzero(~folded)
        plain, plain_ids, positions = plain.take(rest), plain_ids.take(pa.array(rest)), positions[rest]
    ctx.ledger.publish_columns(CONFIG, plain.files, plain.lines, plain_ids)
    ctx.ledger.fold_many(CONFIG, ((o.file, o.line, row_id, "same rule text") for o, row_id in plain.folding(plain_ids)))
    return plain, plain_ids, positions


def _rule_keys(keys: list[tuple[str, str]], plain: _TextColumns,
               order: np.ndarray) -> Callable[[], tuple[list[str], list[str]]]:
    """The keys of the published rules (original, published) in table order, listed when first asked
    for: only a build that links other configs to the rules needs them."""
    def listed() -> tuple[list[str], list[str]]:
        return tuple(plain.after("key", pa.array([pair[side] for pair in keys], pa.string()), order).to_pylist()
                     for side in (0, 1))

    return listed


def build(ctx: BuildContext) -> pa.Table:
    """Build the published rules, sorted by id, recording every raw row's outcome."""
    observations, facts, masters = read_observations(ctx)
    plain = _split_plain(masters, observations, facts)
    stats: Counter = Counter()
    groups = _group(ctx, observations, sum(o.lang != "zh" for o in plain.copies) if plain else 0)
    resolved = [r for g, group_id in zip(groups, stable_ids("rule", [g.key for g in groups]), strict=True)
                if (r := _resolve(ctx, g, group_id, stats))]
    demoted: list[_Resolved] = []
    if plain is not None:
        plain, demoted = _demote(ctx, plain, resolved, stats)
    resolved = sorted(resolved + demoted, key=lambda r: r.seq) if demoted else resolved
    kept = _Kept.of(_exact_dedup(ctx, resolved, stats), plain or _MasterRows.empty())
    clusters = _near_duplicate_clusters(ctx, kept)
    fold_near = ctx.settings.near_dup.mode == "fold"
    representatives = np.asarray(clusters) if fold_near and clusters is not None else np.arange(len(kept.entries))
    position_of = np.empty(len(kept.entries), np.int64)
    position_of[kept.entries] = np.arange(len(kept.entries))
    with ThreadPoolExecutor(max_workers=1) as pool:  # Arrow sorts the ids while Python records the outcomes
        presorted = None if fold_near else pool.submit(kept.id_order)
        rows, keys, positions = _publish_resolved(ctx, kept, representatives, position_of)
        plain, plain_ids, plain_positions = _publish_plain(ctx, kept, representatives, position_of)
        table, order = _rules_table(rows, plain, plain_ids, features(CONFIG).arrow_schema,
                                    presorted.result() if presorted else None)
    ctx.rule_keys = _rule_keys(keys, plain.texts, order)
    repairs = [r for r in ctx.repairs if r["config"] == CONFIG]
    stats["rows_hierarchy_closed"] = sum(1 for r in repairs if r["added"])
    stats["rows_hierarchy_contradicted"] = sum(1 for r in repairs if r["dropped"])
    ctx.notes.setdefault(CONFIG, {}).update(stats)
    ctx.tables[CONFIG] = table
    if clusters is not None:
        in_table_order = np.concatenate([np.array(positions, np.int64), plain_positions])[order].tolist()
    if isinstance(clusters, BackgroundClusters):
        ctx.defer(CONFIG, lambda: _mark_near_duplicates(ctx, kept.ids(), clusters.result(), in_table_order))
    elif clusters is not None:
        _mark_near_duplicates(ctx, kept.ids(), clusters, in_table_order)
    return ctx.tables[CONFIG]
