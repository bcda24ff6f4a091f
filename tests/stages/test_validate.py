import random

import jsonschema
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from builders.schema import features, load_schema
from builders.stages.validate import SchemaError, TableValidator, _rows_with_duplicates

GOOD = {
    "id": "rule-0123456789abcdef", "rule": "尊重他人是美德", "rule_en": None, "original_rule": "尊重他人是美德",
    "rewritten": False, "dimensions": ["个人"], "core_values": ["友善"], "derived_values": ["尊重他人"],
    "source": "cmos", "label": 1, "label_origin": "human", "labeler": "human", "cluster_id": "rule-0123456789abcdef",
}
CORRUPTIONS = [
    {"id": "rule-XYZ"},
    {"cluster_id": "rule-1"},
    {"rule": ""},
    {"rule_en": ""},
    {"original_rule": None},
    {"dimensions": []},
    {"dimensions": ["国家", "国家"]},
    {"core_values": ["火星"]},
    {"derived_values": ["尊重他人", "勤俭节约"]},
    {"source": "twitter"},
    {"label": 0},
    {"label_origin": "crowd"},
    {"rule": None},
]


def _table(rows):
    return pa.Table.from_pylist(rows, schema=features("rules").arrow_schema)


def test_rejects_exactly_the_rows_jsonschema_rejects():
    rows = [dict(GOOD, id=f"rule-{i:016x}") for i in range(30)]
    for i, change in enumerate(CORRUPTIONS):
        rows[2 * i].update(change)
    schema = load_schema("rules")
    reference = {i for i, row in enumerate(rows) if not jsonschema.Draft202012Validator(schema).is_valid(row)}
    ours = {e.row for e in TableValidator(schema).validate(_table(rows))}
    assert reference == {2 * i for i in range(len(CORRUPTIONS))}
    assert ours == reference


def test_a_column_that_is_one_slice_of_a_longer_array_is_checked_as_its_rows():
    rows = [dict(GOOD, id=f"rule-{i:016x}") for i in range(30)]
    for i, change in enumerate(CORRUPTIONS):
        rows[2 * i].update(change)
    sliced = _table(rows).slice(7, 20)  # each column one chunk with an offset: checked without a copy
    validator = TableValidator(load_schema("rules"))
    copied = pa.Table.from_pylist(sliced.to_pylist(), schema=sliced.schema)
    assert sliced.column("derived_values").chunk(0).offset == 7
    assert validator.validate(sliced) == validator.validate(copied) != []


def test_columns_sharing_their_data_are_reported_as_if_checked_apart():
    rows = [dict(GOOD, id=f"rule-{i:016x}") for i in range(30)]
    for i, change in enumerate(CORRUPTIONS):
        rows[2 * i].update(change)
    rows[4].update(id="rule-XYZ", rule="")
    copied = _table(rows)
    shared = copied.set_column(copied.schema.get_field_index("cluster_id"), "cluster_id", copied.column("id"))
    shared = shared.set_column(shared.schema.get_field_index("original_rule"), "original_rule", shared.column("rule"))
    reference = pa.Table.from_pylist(shared.to_pylist(), schema=shared.schema)
    validator = TableValidator(load_schema("rules"))
    errors = validator.validate(shared)
    assert errors == validator.validate(reference)
    assert {(e.row, e.field) for e in errors} >= {(0, "id"), (0, "cluster_id"), (4, "rule"), (4, "original_rule")}


def test_errors_name_row_and_field():
    rows = [GOOD, dict(GOOD, derived_values=["勤俭节约"])]
    errors = TableValidator(load_schema("rules")).validate(_table(rows))
    assert [(e.row, e.field) for e in errors] == [(1, "derived_values[]")]
    assert "勤俭节约" in errors[0].message


def test_missing_and_extra_columns_are_schema_errors():
    validator = TableValidator(load_schema("rules"))
    with pytest.raises(SchemaError, match="required columns missing"):
        validator.validate(pa.table({"id": ["rule-0123456789abcdef"]}))
    assert validator.validate(pa.table({"id": ["rule-0123456789abcdef"]}), partial=True) == []
    with pytest.raises(SchemaError, match="not in the schema"):
        validator.validate(pa.table({"colour": ["red"]}), partial=True)


def test_unsupported_keyword_is_refused_not_skipped():
    schema = {"type": "object", "properties": {"x": {"type": "string", "format": "email"}}}
    with pytest.raises(SchemaError, match="format"):
        TableValidator(schema)


def test_nested_objects_in_lists():
    schema = {"type": "object", "properties": {"options": {"type": "array", "items": {
        "type": "object", "required": ["letter"],
        "properties": {"letter": {"type": "string", "enum": ["A", "B", "C"]}, "text": {"type": "string"}}}}}}
    table = pa.table({"options": [[{"letter": "A", "text": "x"}], [{"letter": "D", "text": "y"}]]})
    errors = TableValidator(schema).validate(table)
    assert [(e.row, e.field) for e in errors] == [(1, "options[].letter")]
    assert not jsonschema.Draft202012Validator(schema).is_valid({"options": [{"letter": "D", "text": "y"}]})


@pytest.mark.parametrize("longest", [5, 200])  # near items compared, or sorted (lists longer than _NEAR)
def test_duplicate_items_are_found_in_exactly_the_rows_that_repeat_one(longest):
    pick = random.Random(longest)
    lists = [None if pick.random() < 0.05 else
             [pick.choice(["国家", "社会", "个人", None]) for _ in range(pick.randint(0, 4))] for _ in range(3000)]
    lists[17] = [str(i) for i in range(longest)]  # long, no repeat
    lists[18] = [str(i) for i in range(longest - 1)] + ["0"]  # its first and last item the same
    arr = pa.array(lists, pa.list_(pa.string()))
    expected = [i for i, items in enumerate(lists)
                if items and len([v for v in items if v is not None]) != len({v for v in items if v is not None})]
    got = _rows_with_duplicates(pc.list_flatten(arr), pc.list_parent_indices(arr).to_numpy(),
                                pc.max(pc.list_value_length(arr)).as_py())
    assert 18 in got and 17 not in got and len(got) > 100
    assert got == expected


def test_list_items_checked_through_their_distinct_values_give_each_items_errors():
    rows = [dict(GOOD, id=f"rule-{i:016x}") for i in range(8)]
    rows[1]["core_values"] = ["火星", "火星"]  # unknown, and twice in its row
    rows[2]["core_values"] = ["友善", None]
    rows[3]["core_values"] = ["火星"]
    rows[5]["core_values"] = ["月亮", "友善", "火星"]
    table = _table(rows)
    validator = TableValidator(load_schema("rules"))
    errors = [e for e in validator.validate(table) if e.field.startswith("core_values")]
    column = table.column("core_values").chunk(0)
    items = validator.schema["properties"]["core_values"]["items"]
    parents = pc.list_parent_indices(column).to_numpy()
    one_by_one = [(int(parents[e.row]), e.field, e.message)
                  for e in validator._check(pc.list_flatten(column), items, "core_values[]")]
    assert sorted(one_by_one) == [(e.row, e.field, e.message) for e in errors if e.field == "core_values[]"]
    assert [(e.row, e.field) for e in errors] == [
        (1, "core_values"), (1, "core_values[]"), (1, "core_values[]"), (2, "core_values[]"),
        (3, "core_values[]"), (5, "core_values[]"), (5, "core_values[]")]
    assert {e.message for e in errors if e.row == 5} == {"'月亮' is not one of the allowed values",
                                                        "'火星' is not one of the allowed values"}
    schema = load_schema("rules")
    assert {e.row for e in errors} == {i for i, row in enumerate(rows)
                                       if not jsonschema.Draft202012Validator(schema).is_valid(row)}


def test_string_lengths_are_counted_in_characters_whatever_their_bytes():
    schema = {"type": "object", "properties": {"text": {"type": ["string", "null"], "minLength": 2, "maxLength": 3}}}
    texts = ["", "a", "ab", "abc", "abcd", "中", "中文", "中文字", "中文字符", "a中",
             "😀", "😀😀", "😀😀😀", "😀😀😀😀", "abcdefghijkl", "中文字符中文字符中文字符", None]
    errors = TableValidator(schema).validate(pa.table({"text": pa.array(texts, pa.string())}))
    expected = [(i, "shorter than 2 characters" if len(t) < 2 else "longer than 3 characters")
                for i, t in enumerate(texts) if t is not None and not 2 <= len(t) <= 3]
    assert [(e.row, e.message) for e in errors] == expected


@pytest.mark.parametrize("pattern", ["^rule-[0-9a-f]{16}$", "^eval-[0-9a-f]{4}$", "^[0-9a-f]{3}$"])
def test_ids_read_off_their_bytes_match_where_the_regex_matches(pattern):
    import re

    from builders.stages.validate import _all_fixed_hex

    head, width = pattern[1:pattern.index("[")], int(pattern[pattern.index("{") + 1:pattern.index("}")])
    good = [head + f"{i:0{width}x}"[-width:] for i in (0, 1, 255, 4095, 12)]
    wrong = [head + "F" * width, head + "0" * (width - 1), head + "0" * (width + 1), "x" + good[0][1:],
             good[0][:-1] + "g", (head[:-1] + "a" + "0" * width) if head else "a-" + "0" * (width - 2),
             good[0][:-1] + next((c for c in head if c not in "0123456789abcdef"), "r"), good[0] + "\n", ""]
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": pattern}}}
    assert _all_fixed_hex(pa.array(good), pattern)
    for bad in wrong:
        cells = [*good[:2], bad, *good[2:]]
        assert not _all_fixed_hex(pa.array(cells), pattern), bad
        errors = TableValidator(schema).validate(pa.table({"id": cells}))
        assert [e.row for e in errors] == [i for i, c in enumerate(cells) if not re.fullmatch(pattern[1:-1], c)]
    assert not _all_fixed_hex(pa.array(good), "^(rule|eval)-[0-9a-f]{16}$")
    assert not _all_fixed_hex(pa.array([*good, None]), pattern)
