import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.stages.writer import dictionary_columns, rows_to_table, shard_paths, sort_table, write_shards

SCHEMA = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string()))])


def test_rows_become_a_typed_table_and_a_missing_column_is_an_error():
    table = rows_to_table([{"id": "a", "tags": ["x"]}, {"id": "b", "tags": []}], SCHEMA)
    assert table.schema == SCHEMA and table.column("tags").to_pylist() == [["x"], []]
    with pytest.raises(ValueError, match=r"missing \['tags'\]"):
        rows_to_table([{"id": "a"}], SCHEMA)


def test_shards_are_named_the_hub_way_and_written_identically_twice(tmp_path):
    table = rows_to_table([{"id": str(i), "tags": []} for i in range(5)], SCHEMA)
    first = write_shards(table, tmp_path / "a", "rules", "train", shard_rows=2, row_group_rows=1)
    second = write_shards(table, tmp_path / "b", "rules", "train", shard_rows=2, row_group_rows=1)
    assert first == second == shard_paths("rules", "train", 3)
    assert [(tmp_path / "a" / p).read_bytes() for p in first] == [(tmp_path / "b" / p).read_bytes() for p in first]


def test_only_columns_with_repeated_values_are_dictionary_encoded(tmp_path):
    rule = pa.struct([("id", pa.string()), ("kind", pa.string())])
    table = pa.table({
        "id": [f"rule-{i}" for i in range(8)], "source": ["sc101", "mic"] * 4,
        "tags": [["国家", "个人"], ["国家"]] * 4, "label": pa.nulls(8, pa.int8()),
        "rule": pa.array([{"id": f"r{i}", "kind": "zh"} for i in range(8)], rule),
    })
    chosen = dictionary_columns(table, sample_rows=4)
    assert chosen == ["source", "tags.list.element", "rule.kind"]
    [path] = write_shards(table, tmp_path, "rules", "train", shard_rows=8, row_group_rows=4)
    group = pq.ParquetFile(tmp_path / path).metadata.row_group(0)
    encoded = {group.column(i).path_in_schema for i in range(group.num_columns)
               if "RLE_DICTIONARY" in group.column(i).encodings}
    assert encoded == set(chosen)
    assert pq.read_table(tmp_path / path).equals(table)


def test_structs_shared_between_rows_convert_like_separate_ones():
    rule = pa.struct([("id", pa.string()), ("tags", pa.list_(pa.string()))])
    schema = pa.schema([("id", pa.string()), ("rule", rule)])
    shared = {"id": "r1", "tags": ["x", "y"]}
    rows = [{"id": str(i), "rule": shared if i % 5 else {"id": f"r{i}", "tags": []}} for i in range(10)]
    table = rows_to_table(rows, schema)
    assert table.column("rule").to_pylist()[:2] == [{"id": "r0", "tags": []}, shared]
    assert table.equals(pa.Table.from_pylist([{**r, "rule": dict(r["rule"])} for r in rows], schema=schema))


def test_sorted_table_is_the_same_whether_columns_share_their_data_or_not():
    ids = pa.array([f"rule-{i:016x}" for i in (5, 3, 9, 1)])
    texts = pa.chunked_array([pa.array(["五", "三"]), pa.array(["九", "一"])])
    shared = pa.table({"id": ids, "cluster_id": ids, "rule": texts, "original_rule": texts,
                       "other": pa.chunked_array([pa.array(["五", "x"]), pa.array(["九", "一"])])})
    copied = pa.Table.from_pylist(shared.to_pylist(), schema=shared.schema)
    (got, order), (expected, expected_order) = sort_table(shared, "id"), sort_table(copied, "id")
    assert got.equals(expected) and got.nbytes == expected.nbytes and order.tolist() == expected_order.tolist()
    assert got.column("rule").to_pylist() == ["一", "三", "五", "九"] and got.column("other").to_pylist()[2] == "五"


def test_sorted_table_takes_an_order_computed_beforehand():
    table = pa.table({"id": ["c", "a", "b"], "rule": ["三", "一", "二"]})
    got, order = sort_table(table, "id", order=pa.array([1, 2, 0]))
    assert (got, order.tolist()) == (sort_table(table, "id")[0], [1, 2, 0])
    with pytest.raises(ValueError, match="an order of 2 rows for a table of 3"):
        sort_table(table, "id", order=pa.array([1, 2]))


def _shared_share(old: bytes, new: bytes, block: int = 16 * 1024) -> float:
    """Share of ``new``'s consecutive blocks found anywhere in ``old`` (at any offset)."""
    blocks = [new[i:i + block] for i in range(0, len(new) - block + 1, block)]
    return sum(old.find(b) >= 0 for b in blocks) / len(blocks)


@pytest.mark.parametrize("cdc", [True, False])
def test_an_inserted_row_leaves_the_pages_after_it_unchanged_with_content_defined_chunking(tmp_path, cdc):
    """A row inserted near the start (a new rule, or an edited one whose id sorts elsewhere) shifts every
    fixed-size page after it by one row; content-defined pages realign right after it, so almost every
    byte of the new shard is found in the old one."""
    import hashlib

    texts = [hashlib.sha256(str(i).encode()).hexdigest()[: 24 + i % 40] for i in range(200_000)]
    edited = [*texts[:2_000], "a new row", *texts[2_000:]]
    files = []
    for name, column in (("old", texts), ("new", edited)):
        table = pa.table({"text": column})
        (path,) = write_shards(table, tmp_path / name, "rules", "train", shard_rows=1_000_000, row_group_rows=1_000_000,
                               cdc=cdc)
        files.append((tmp_path / name / path).read_bytes())
    shared = _shared_share(*files)
    if cdc:
        assert shared > 0.9, shared
        metadata = pq.ParquetFile(tmp_path / "new" / shard_paths("rules", "train", 1)[0]).metadata
        assert metadata.row_group(0).column(0).has_offset_index  # the page index datasets writes too
    else:
        assert shared < 0.2, shared
