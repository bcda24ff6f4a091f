"""The steps of the rules build that carry no policy: reading every rule artifact into one
observations table, the ids, recording the ledger column, writing the table, and marking
near-duplicates. :func:`builders.configs.rules.build` puts them and the policies together.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from builders.context import BuildContext
from builders.schema import features, load_schema
from builders.stages.ids import BackgroundIds, stable_id
from builders.stages.near_dedup import find_clusters
from builders.stages.near_dedup_background import BackgroundClusters
from builders.stages.normalizers.text import clean_key_column, dedup_key, has_cjk
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.observations import (
    SEQ_STRIDE,
    TEXT_COLUMNS,
    ClosureCodes,
    column_table,
    observe,
    schema_errors,
)
from builders.stages.readers.layout import Artifact, ArtifactKind
from builders.stages.validate import TableValidator
from builders.stages.writer import single_chunk, without_validity
from builders.taxonomy import TIERS

SCHEMA_FIELDS = {"text": "rule", "text_en": "rule_en", "source": "source", "label_origin": "label_origin",
                 "labeler": "labeler"}
"""The observation fields the schema checks before any rule is resolved, by their published names."""


def _would_be_id(text: str | None) -> str | None:
    """The id a rejected row would have had, so a removal can be explained (Chinese texts only)."""
    return stable_id("rule", dedup_key(text)) if isinstance(text, str) and has_cjk(text) else None


def _read(ctx: BuildContext, config: str, artifact: Artifact, prefetch: dict) -> object:
    if artifact.path.suffix.lower() == ".jsonl":
        return column_table(_registered(ctx, config, artifact))
    return ctx.column_table(config, artifact, prefetch.get(artifact.kind.name))


def _registered(ctx: BuildContext, config: str, artifact: Artifact):  # noqa: ANN202
    table = artifact.read()
    table.records = list(ctx.registered(config, table))
    return table


def _checked(table: pa.Table, validator: TableValidator, codes: ClosureCodes) -> pa.Table:
    """Rows usable so far whose fields the schema refuses get that error as their reject reason; every
    rejected row gets the id it would have had (``reject_id``). The raw text is then dropped."""
    checked = pc.and_(pc.and_(table.column("reject_reason").is_null(), table.column("exclude_reason").is_null()),
                      table.column("values").is_valid()).to_numpy(zero_copy_only=False)
    invalid = _schema_errors_of(table, checked, validator, codes)
    rejected = np.flatnonzero(table.column("reject_reason").is_valid().to_numpy(zero_copy_only=False))
    refused, messages = np.array(list(invalid), np.int64), list(invalid.values())
    texts = table.column("raw_text").take(rejected).to_pylist() + table.column("text").take(refused).to_pylist()
    at = np.concatenate([rejected, refused])
    reasons = {
        "reject_field": table.column("reject_field").take(rejected).to_pylist() + [m.split(":")[0] for m in messages],
        "reject_reason": table.column("reject_reason").take(rejected).to_pylist() + messages,
        "reject_id": [_would_be_id(text) for text in texts],
    }
    table = table.drop_columns(["reject_field", "reject_reason", "raw_text"])
    for name, values in reasons.items():
        table = table.append_column(name, _scattered(table.num_rows, at, values))
    return table


def _schema_errors_of(table: pa.Table, checked: np.ndarray, validator: TableValidator,
                      codes: ClosureCodes) -> dict[int, str]:
    """:func:`schema_errors` of the ``checked`` rows. The schema checks every row: at full size,
    half the time of copying the checked rows out first."""
    fields = pa.table({name: table.column(field) for field, name in SCHEMA_FIELDS.items()})
    errors = schema_errors(validator, fields, single_chunk(table.column("values")), codes)
    return {row: message for row, message in errors.items() if checked[row]}


def _scattered(n: int, at: np.ndarray, values: list[str | None]) -> pa.Array:
    """A string column of ``n`` rows holding ``values`` at the (distinct) rows ``at``, null elsewhere."""
    where = np.full(n, -1, np.int64)
    where[at] = np.arange(len(at))
    return pa.array(values, pa.string()).take(pa.array(where, mask=where < 0))


def read_observations(ctx: BuildContext, config: str, kinds: list[ArtifactKind], prefetch: dict,
                      ids: Ids) -> tuple[pl.DataFrame, ClosureCodes]:
    """Every raw row of the config's kinds, in reading order, as one observations table, and the
    value triples its ``values`` number. The master tables are read first, while a prefetch reads
    the other files; ``seq`` keeps reading order. The ``ids`` of each file's keys start as soon as
    its texts are cleaned."""
    normalize, codes = ValueNormalizer(ctx.taxonomy), ClosureCodes(ctx.taxonomy)
    validator = TableValidator(load_schema(config))
    artifacts = ctx.of_kind(*(kind.name for kind in kinds))
    masters_first = sorted(range(len(artifacts)), key=lambda p: artifacts[p].kind.rank != 0)
    read: dict[int, pa.Table] = {}
    for position in ctx.progress(config, masters_first):
        artifact = artifacts[position]
        columns = _read(ctx, config, artifact, prefetch)
        table = observe(artifact, columns, position * SEQ_STRIDE, normalize, codes, ctx.settings.llm_labeler,
                        on_prepared=ids.add)
        read[position] = _checked(table, validator, codes)
    if not read:
        return pl.DataFrame(schema=_EMPTY), codes
    obs = pl.from_arrow(pa.concat_tables([read[p] for p in sorted(read)]))
    return obs, codes


_EMPTY = {"file": pl.String, "line": pl.Int64, "seq": pl.Int64, "kind": pl.String, "rank": pl.Int32,
          "text_column": pl.String, "text": pl.String, "key": pl.String, "zh": pl.Boolean,
          "text_en": pl.String, "values": pl.Int64, "label": pl.Int8, "rewrite": pl.String,
          "label_origin": pl.String, "labeler": pl.String, "source": pl.String, "exclude_reason": pl.String,
          "reject_field": pl.String, "reject_reason": pl.String, "reject_id": pl.String}


def record_repairs(ctx: BuildContext, config: str, obs: pl.DataFrame, codes: ClosureCodes) -> None:
    """List in the repairs each usable raw row whose values normalization changed, in reading order."""
    changed = codes.changed()
    if not changed:
        return
    rows = obs.filter(pl.col("reject_reason").is_null() & pl.col("exclude_reason").is_null()
                      & pl.col("values").is_in(changed)).sort("seq")
    for file, line, number in rows.select("file", "line", "values").iter_rows():
        closure = codes.closure(number)
        ctx.repairs.append({"config": config, "file": file, "line": line,
                            "added": closure.added, "dropped": closure.dropped})


_HELPER_KEYS = 50_000
"""A file with fewer new keys is hashed in the build's process: a helper would cost about as much to start."""


class Ids:
    """The stable ids of the keys of Chinese rows, hashed (in a helper process when a second one is
    allowed and a file brings many new keys) from the moment each file's texts are cleaned, while
    the build goes on."""

    def __init__(self, num_proc: int) -> None:
        self._background = num_proc > 1
        self._hashing: list[tuple[pa.Array, BackgroundIds]] = []

    def add(self, prepared: pa.Table) -> None:
        """Start hashing the keys of one file's Chinese rows not hashed yet, from its cleaned texts
        (:data:`TEXT_COLUMNS`), before the rows are checked: a rejected row's key may be hashed too. A
        key repeated within the file is hashed each time (:meth:`table` keeps one): finding the
        distinct keys first would delay the hashing, which the build then waits for."""
        keys = prepared.column(TEXT_COLUMNS[1]).filter(prepared.column(TEXT_COLUMNS[2])).combine_chunks()
        if self._hashing:
            hashed = pa.concat_arrays([k for k, _ in self._hashing])
            keys = keys.filter(pc.invert(pc.is_in(keys, value_set=hashed)))
        if len(keys):
            background = self._background and len(keys) >= _HELPER_KEYS
            self._hashing.append((keys, BackgroundIds("rule", keys, background=background)))

    def table(self, key: str) -> pl.DataFrame:
        """Each key hashed (in column ``key``, once) and its ``id``."""
        if not self._hashing:
            return pl.DataFrame(schema={key: pl.String, "id": pl.String})
        keys = pl.Series(key, pa.concat_arrays([k for k, _ in self._hashing]))
        first = keys.is_first_distinct()  # found while the keys are hashed
        ids = pl.Series("id", pa.concat_arrays([h.result() for _, h in self._hashing]))
        return pl.DataFrame([keys, ids]).filter(first)


def keys_where(frame: pl.DataFrame, column: str, where: str, otherwise: str) -> pl.Series:
    """The dedup key of ``column``'s text in the rows where ``where`` holds; ``otherwise``'s value elsewhere."""
    rows = frame.select(pl.arg_where(pl.col(where))).to_series()
    texts = frame.get_column(column).gather(rows)
    return frame.get_column(otherwise).clone().scatter(rows, keys_of(texts)).alias("pub_key")


def keys_of(texts: pl.Series) -> pl.Series:
    """The dedup key of each cleaned text."""
    return pl.from_arrow(clean_key_column(texts.to_arrow().cast(pa.string()))).cast(pl.String)


def rules_table(config: str, kept: pl.DataFrame, codes: ClosureCodes) -> pa.Table:
    """The published rules (sorted by id already) as the config's Arrow table.

    Only the published columns leave Polars, as its own string views (no copy): the cast to the
    schema's types is then each text column's one copy.
    """
    schema = features(config).arrow_schema
    values = codes.table()
    at = pa.array(kept.get_column("values").to_numpy(), pa.int64())
    arrow = kept.select(f.name for f in schema if f.name not in TIERS).to_arrow(compat_level=pl.CompatLevel.newest())
    columns = {}
    for field in schema:
        column = values.column(field.name).take(at) if field.name in TIERS else arrow.column(field.name)
        columns[field.name] = without_validity(single_chunk(column).cast(field.type))
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def near_duplicate_clusters(ctx: BuildContext, texts: list[str],
                            rank: list[int]) -> list[int] | BackgroundClusters | None:
    """Each kept rule's cluster as the position (reading order) of its best-annotated member (itself if alone).

    ``None`` when near-duplicates are off. When they are only marked and a second process
    is allowed, they are found in the background: nothing else in the build depends on them.
    """
    settings = ctx.settings.near_dup
    if settings.mode == "off" or not texts:
        return None
    if settings.mode == "mark" and ctx.num_proc > 1:
        return BackgroundClusters(texts, rank=rank, **settings.kwargs())
    return find_clusters(texts, rank=rank, num_proc=ctx.num_proc, **settings.kwargs())


def mark_near_duplicates(ctx: BuildContext, config: str, kept_ids: list[str], clusters: list[int],
                         positions: list[int]) -> None:
    """Record the clusters: the ``cluster_id`` of the published rules, ``ctx.near_duplicates``, their counts.

    ``kept_ids``: the ids in the order the clusters were computed in; ``positions``: where in
    that order each row of the rules table is.
    """
    members: dict[str, list[str]] = {}
    for row_id, representative in zip(kept_ids, clusters, strict=True):
        if kept_ids[representative] != row_id:
            members.setdefault(kept_ids[representative], []).append(row_id)
    ctx.near_duplicates[config] = {rep: sorted(ids) for rep, ids in sorted(members.items())}
    notes = ctx.notes.setdefault(config, {})
    notes["near_duplicate_clusters"] = len(members)
    notes["near_duplicate_members"] = sum(map(len, members.values()))
    if not members or ctx.settings.near_dup.mode == "fold":
        return  # every cluster_id is already the row's own id, or the row it was folded into
    table = ctx.tables[config]
    at = table.schema.get_field_index("cluster_id")
    cluster_ids = pa.array([kept_ids[clusters[p]] for p in positions], pa.string())
    ctx.tables[config] = ctx.results[config] = table.set_column(at, table.schema.field(at), cluster_ids)
