"""Write stage: Arrow tables → deterministic Parquet shards named the Hub way.

Same rows and settings give the same bytes (fixed shard and row-group sizes, fixed
compression, no timestamps), so a publish can skip every shard that did not change. Pages
are cut where the content says (content-defined chunking, with a page index), as
``datasets`` writes for the Hub: an edited row changes the pages around it, not every page
after it, so the Hub's Xet storage re-uploads a few chunks of a touched shard, not the shard.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders.stages.ids import sort_indices

CDC_OPTIONS = {"min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0}
"""pyarrow's content-defined chunking of data pages: ``datasets.config.DEFAULT_CDC_OPTIONS``, what
``push_to_hub`` and ``to_parquet`` use since ``datasets`` writes for Xet."""


def _column(values: list, type_: pa.DataType) -> pa.Array:
    """One column; a struct shared between rows (a rule's reference in each of its dilemmas) is
    converted once and repeated with ``take``."""
    if not pa.types.is_struct(type_) or len({id(v) for v in values[:4096]}) > 2048:
        return pa.array(values, type=type_)
    index: dict[int, int] = {}
    distinct: list = []
    positions = []
    for value in values:
        position = index.get(id(value))
        if position is None:
            position = index[id(value)] = len(distinct)
            distinct.append(value)
        positions.append(position)
    return pa.array(distinct, type=type_).take(pa.array(positions, pa.int32()))


def rows_to_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Row dicts → a table of ``schema``, column by column (every row must have every column)."""
    if rows and rows[0].keys() != set(schema.names):
        missing, extra = set(schema.names) - rows[0].keys(), rows[0].keys() - set(schema.names)
        raise ValueError(f"rows do not match the schema: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if rows and set(map(len, rows)) == {len(schema)} and not any(pa.types.is_struct(f.type) for f in schema):
        # Flat rows of the same width as the first: one pass over the dicts in Arrow instead of one
        # per column, so each row (scattered in memory) is read once.
        flat = pa.array(rows, type=pa.struct(list(schema))).flatten()
        return pa.Table.from_arrays(flat, schema=schema)
    return pa.Table.from_arrays([_column([row[f.name] for row in rows], f.type) for f in schema], schema=schema)


def without_validity(array: pa.Array) -> pa.Array:
    """The array without an all-valid validity bitmap (and so with a fresh conversion's ``nbytes``)."""
    if array.null_count:
        return array
    if pa.types.is_list(array.type):
        return pa.ListArray.from_arrays(array.offsets, without_validity(array.values), type=array.type)
    if pa.types.is_struct(array.type):
        return pa.StructArray.from_arrays([without_validity(child) for child in array.flatten()],
                                          fields=list(array.type))
    if array.buffers()[0] is None:
        return array
    return pa.Array.from_buffers(array.type, len(array), [None, *array.buffers()[1:]], offset=array.offset)


def single_chunk(column: pa.ChunkedArray) -> pa.Array:
    """A column as one array, without copying one that is a single chunk already."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def sort_table(table: pa.Table, column: str, order: pa.Array | np.ndarray | None = None
               ) -> tuple[pa.Table, np.ndarray]:
    """The table sorted by a column of distinct values, and the row order (Python's sort order).
    ``order``: that column's sort indices, when computed already (beside other work, say).

    ``take`` gives every column a validity bitmap, even without nulls; those are dropped so
    the sorted table is the same, down to ``nbytes`` (which the card reports), as one made
    from rows that were already sorted.
    """
    if order is None:
        order = sort_indices(single_chunk(table.column(column)))
    elif len(order) != table.num_rows:
        raise ValueError(f"an order of {len(order)} rows for a table of {table.num_rows}")
    order = pa.array(order) if isinstance(order, np.ndarray) else order

    def sorted_column(column: pa.ChunkedArray) -> pa.Array:
        return without_validity(single_chunk(column.take(order)))

    # Columns holding the same data (a text that is also the original text) are taken once.
    first = {_data_of(c): i for i, c in reversed(list(enumerate(table.columns)))}
    distinct = sorted(set(first.values()))
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow takes a column without the GIL
        taken = dict(zip(distinct, pool.map(sorted_column, [table.column(i) for i in distinct]), strict=True))
    columns = [taken[first[_data_of(c)]] for c in table.columns]
    return pa.Table.from_arrays(columns, schema=table.schema), order.to_numpy()


def _data_of(column: pa.ChunkedArray) -> tuple:
    """What a column holds, by the buffers of its chunks: equal for columns that share their data."""
    return (column.type, *((chunk.offset, len(chunk), *(b.address if b else None for b in chunk.buffers()))
                           for chunk in column.chunks if len(chunk)))


def shard_paths(config: str, split: str, num_shards: int) -> list[str]:
    """``data/<config>/<split>-0000i-of-0000N.parquet`` for each shard."""
    return [
        f"data/{config}/{split}-{i:05d}-of-{num_shards:05d}.parquet" for i in range(num_shards)
    ]


def _leaves(array: pa.Array, path: str) -> Iterator[tuple[str, pa.Array]]:
    """The Parquet leaf columns of an Arrow column: their paths (``a.list.element``, ``a.b``) and values."""
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        yield from _leaves(array.flatten(), f"{path}.list.element")
    elif pa.types.is_struct(array.type):
        for i, field in enumerate(array.type):
            yield from _leaves(array.field(i), f"{path}.{field.name}")
    else:
        yield path, array


def dictionary_columns(table: pa.Table, sample_rows: int) -> list[str]:
    """The leaf columns worth dictionary-encoding: those whose first ``sample_rows`` rows (the first row
    group) hold each value at least twice on average.

    Arrow would build a dictionary for every column and give it up only past a megabyte, which a
    row group of free texts or ids never reaches: each of their values would be hashed and stored
    with an index beside it for nothing (the rules shards: 11% larger and slower to write).
    """
    paths = []
    for name in table.column_names:
        for path, values in _leaves(single_chunk(table.column(name).slice(0, sample_rows)), name):
            given = len(values) - values.null_count
            if given and 2 * pc.count_distinct(values).as_py() <= given:
                paths.append(path)
    return paths


def _write_shard(table: pa.Table, target: Path, row_group_rows: int, dictionary: list[str], cdc: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=row_group_rows, compression="zstd", use_dictionary=dictionary,
                   write_statistics=True, use_content_defined_chunking=CDC_OPTIONS if cdc else False,
                   write_page_index=cdc)


def write_shards(
    table: pa.Table, out_dir: Path, config: str, split: str, *, shard_rows: int, row_group_rows: int,
    cdc: bool = True,
) -> list[str]:
    """Write ``table`` as one or more shards under ``out_dir``; return their relative paths.

    Shards are separate files written by Arrow outside the GIL, so they are written three at a
    time: the rules' three shards share the cores from the start instead of the last one being
    written alone once the first two are done. Each file's bytes do not depend on that.
    ``cdc=False`` writes fixed-size pages without a page index (what the benchmark compares with).
    """
    num_shards = max(1, math.ceil(table.num_rows / shard_rows))
    paths = shard_paths(config, split, num_shards)
    dictionary = dictionary_columns(table, row_group_rows)
    with ThreadPoolExecutor(max_workers=min(3, num_shards)) as pool:
        for done in [pool.submit(_write_shard, table.slice(i * shard_rows, shard_rows), out_dir / relpath,
                                 row_group_rows, dictionary, cdc) for i, relpath in enumerate(paths)]:
            done.result()
    return paths
