import numpy as np
import pyarrow as pa
import pytest

from builders.configs import rules_steps
from builders.schema import load_schema
from builders.stages.ids import stable_id
from builders.stages.normalizers.text import dedup_key
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.observations import TEXT_COLUMNS, ClosureCodes
from builders.stages.validate import TableValidator
from builders.taxonomy import load_taxonomy

_ROWS = [  # raw_text, text, source, values, reject_field, reject_reason, exclude_reason (the schema checks
    # only the usable rows with values: a row rejected or excluded as read keeps its own reason)
    ("尊老爱幼", "尊老爱幼", "master_table", 0, None, None, None),  # usable and valid
    ("  ", "", "master_table", None, "rot", "empty rule text", None),  # rejected as read, no Chinese text
    ("勤俭 节约", "勤俭节约", "nowhere", None, "derived values", "unknown derived value 'x'", None),
    ("诚实守信", "诚实守信", "nowhere", 0, None, None, None),  # a source the schema does not list
    ("助人为乐", "助人为乐", "master_table", 1, None, None, None),  # values the schema refuses (no dimension)
    ("爱护环境", "爱护环境", "nowhere", 1, None, None, "filtered upstream (retain != 1)"),  # excluded: not checked
    ("敬业奉献", "敬业奉献", "master_table", None, None, None, None),  # no values: not checked here
]


def _observations(rows: list[tuple]) -> pa.Table:
    raw, text, source, values, field, reason, exclude = zip(*rows, strict=True)
    n = len(rows)
    return pa.table({"line": pa.array(range(2, n + 2), pa.int64()), "raw_text": pa.array(raw, pa.string()),
                     "text": pa.array(text, pa.string()), "text_en": pa.nulls(n, pa.string()),
                     "source": pa.array(source, pa.string()), "label_origin": pa.array(["none"] * n, pa.string()),
                     "labeler": pa.nulls(n, pa.string()), "values": pa.array(values, pa.int64()),
                     "reject_field": pa.array(field, pa.string()), "reject_reason": pa.array(reason, pa.string()),
                     "exclude_reason": pa.array(exclude, pa.string())})


def _codes() -> ClosureCodes:
    """Values 0: a dimension and a core value (valid); values 1: none (the schema wants a dimension)."""
    taxonomy = load_taxonomy()
    codes, normalize = ClosureCodes(taxonomy), ValueNormalizer(taxonomy)
    assert codes.numbers(np.array([normalize.bits("社会", "友善", None), (0, 0, 0)], np.uint64)).tolist() == [0, 1]
    return codes


def test_checked_keeps_read_rejects_adds_schema_errors_and_the_ids_they_would_have_had():
    checked = rules_steps._checked(_observations(_ROWS), TableValidator(load_schema("rules")), _codes())
    assert "raw_text" not in checked.column_names
    fields, reasons = checked.column("reject_field").to_pylist(), checked.column("reject_reason").to_pylist()
    assert fields == [None, "rot", "derived values", "source", "dimensions", None, None]
    assert reasons[:3] == [None, "empty rule text", "unknown derived value 'x'"]
    assert reasons[3].startswith("source: ") and reasons[4].startswith("dimensions: ")
    assert reasons[5:] == [None, None]
    would_be = [stable_id("rule", dedup_key(text)) for text in ("勤俭 节约", "诚实守信", "助人为乐")]
    assert checked.column("reject_id").to_pylist() == [None, None, *would_be, None, None]
    assert checked.column("exclude_reason").to_pylist() == [r[6] for r in _ROWS]


def test_checked_rows_all_valid_get_no_reason():
    rows = [_ROWS[0], _ROWS[0]]
    checked = rules_steps._checked(_observations(rows), TableValidator(load_schema("rules")), _codes())
    for name in ("reject_field", "reject_reason", "reject_id"):
        assert checked.column(name).to_pylist() == [None, None]


def _prepared(keys: list[str], zh: list[bool] | None = None) -> pa.Table:
    """A file's cleaned texts as :func:`prepared_texts` gives them: each row's key and whether it is Chinese."""
    return pa.table({TEXT_COLUMNS[1]: pa.array(keys, pa.string()), TEXT_COLUMNS[2]: pa.array(zh or [True] * len(keys))})


@pytest.mark.parametrize("num_proc", [1, 2])
def test_ids_hash_each_chinese_key_once_across_and_within_files(num_proc, monkeypatch):
    monkeypatch.setattr(rules_steps, "_HELPER_KEYS", 1)  # with two processes, every file is hashed beside the build
    ids = rules_steps.Ids(num_proc)
    ids.add(_prepared(["甲", "乙", "甲", "english", "丁"], zh=[True, True, True, False, True]))
    ids.add(_prepared(["乙", "丙", "丙"]))
    table = ids.table("group_key")
    assert table.columns == ["group_key", "id"]
    assert table.rows() == [(key, stable_id("rule", key)) for key in ("甲", "乙", "丁", "丙")]


def test_ids_of_no_file_are_an_empty_table():
    assert rules_steps.Ids(2).table("group_key").is_empty()
