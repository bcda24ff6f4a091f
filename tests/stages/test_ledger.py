import json

import pytest

from builders.stages.ledger import Ledger


def test_bulk_publish_records_what_one_by_one_publishing_records():
    one, bulk = Ledger(), Ledger()
    for ledger in (one, bulk):
        ledger.read_lines("rules", "final.csv", range(2, 5))
    for line in range(2, 5):
        one.publish("rules", "final.csv", line, f"rule-{line}")
    bulk.publish_many("rules", [("final.csv", line, f"rule-{line}") for line in range(2, 5)])
    assert bulk.entries() == one.entries()
    assert bulk.counts() == one.counts() == {"read": 3, "published": 3, "folded": 0, "excluded": 0, "rejected": 0}


def test_bulk_publish_refuses_rows_never_read_or_already_recorded():
    ledger = Ledger()
    ledger.read_lines("rules", "final.csv", [2])
    with pytest.raises(RuntimeError, match="final.csv:3 was given an outcome but never read"):
        ledger.publish_many("rules", [("final.csv", 3, "rule-a")])
    ledger.reject("rules", "final.csv", 2, "rot", "empty rule text")
    with pytest.raises(RuntimeError, match="already rejected"):
        ledger.publish_many("rules", [("final.csv", 2, "rule-a")])


def test_columns_of_several_files_publish_what_one_by_one_publishing_records_and_refuse_the_same_rows():
    one, bulk = Ledger(), Ledger()
    rows = [("b.csv", 3, "rule-1"), ("a.csv", 2, "rule-2"), ("b.csv", 2, "rule-3"), ("a.csv", 4, "rule-4")]
    for ledger in (one, bulk):
        ledger.read_lines("rules", "a.csv", [2, 4])
        ledger.read_lines("rules", "b.csv", [2, 3])
    for file, line, row_id in rows:
        one.publish("rules", file, line, row_id)
    files, lines, ids = (list(column) for column in zip(*rows, strict=True))
    bulk.publish_columns("rules", files, lines, ids)
    assert bulk.entries() == one.entries()
    by_columns, by_tuples = Ledger(), Ledger()
    for ledger in (by_columns, by_tuples):
        ledger.read_lines("rules", "a.csv", [2])
    with pytest.raises(RuntimeError, match="b.csv:3 was given an outcome but never read"):
        by_columns.publish_columns("rules", ["a.csv", "b.csv"], [2, 3], ["rule-1", "rule-2"])
    with pytest.raises(RuntimeError, match="b.csv:3 was given an outcome but never read"):
        by_tuples.publish_many("rules", [("a.csv", 2, "rule-1"), ("b.csv", 3, "rule-2")])
    assert by_columns.entries() == by_tuples.entries()  # the rows before the refused one, as row by row
    with pytest.raises(ValueError, match="2 files, 2 lines and 1 ids"):
        by_columns.publish_columns("rules", ["a.csv", "a.csv"], [2, 3], ["rule-1"])


def test_bulk_fold_records_what_one_by_one_folding_records_and_refuses_the_same_rows():
    one, bulk = Ledger(), Ledger()
    for ledger in (one, bulk):
        ledger.read_lines("rules", "llm.csv", range(2, 5))
    for line in range(2, 5):
        one.fold("rules", "llm.csv", line, "rule-a", "same rule text")
    bulk.fold_many("rules", [("llm.csv", line, "rule-a", "same rule text") for line in range(2, 5)])
    assert bulk.entries() == one.entries()
    with pytest.raises(RuntimeError, match="llm.csv:5 was given an outcome but never read"):
        bulk.fold_many("rules", [("llm.csv", 5, "rule-a", "same rule text")])
    with pytest.raises(RuntimeError, match="already folded"):
        bulk.fold_many("rules", [("llm.csv", 2, "rule-b", "same rule text")])


def test_counts_of_every_config_in_one_pass_match_the_counts_of_each():
    ledger = Ledger()
    ledger.read_lines("rules", "a.csv", [2, 3, 4, 5])
    ledger.read("dilemmas", "b.csv", 2)
    ledger.read("dilemmas", "b.csv", 3)
    ledger.publish("rules", "a.csv", 2, "rule-1")
    ledger.fold("rules", "a.csv", 3, "rule-1", "same rule text")
    ledger.exclude("rules", "a.csv", 4, "labelled 0")
    ledger.reject("rules", "a.csv", 5, "rot", "empty rule text")
    ledger.reject("dilemmas", "b.csv", 2, "options", "no options")
    by_config = ledger.counts_by_config(["rules", "dilemmas", "taxonomy"])
    assert by_config["rules"] == {"read": 4, "published": 1, "folded": 1, "excluded": 1, "rejected": 1}
    assert by_config["dilemmas"] == {"read": 2, "published": 0, "folded": 0, "excluded": 0, "rejected": 1}
    assert by_config["taxonomy"] == {"read": 0, "published": 0, "folded": 0, "excluded": 0, "rejected": 0}
    assert all(ledger.counts(c) == counts for c, counts in by_config.items())
    assert ledger.counts()["read"] == 6 and ledger.counts()["rejected"] == 2


def test_written_ledgers_are_json_dumps_of_each_entry_without_its_empty_fields(tmp_path):
    ledger = Ledger()
    ledger.read_lines("rules", "b.csv", range(2, 7))
    ledger.read_lines("dilemmas", "a.csv", [10, 9])
    ledger.reject("rules", "b.csv", 6, "rot", 'quote " backslash \\ newline \n tab \t 中文 \u2028 \x01')
    ledger.reject("rules", "b.csv", 2, "label", "中文", row_id="rule-1")
    ledger.fold("rules", "b.csv", 3, "rule-1", "same rule")
    ledger.exclude("rules", "b.csv", 4, "label: 否")
    ledger.exclude("dilemmas", "a.csv", 10, "中文", row_id="dilemma-2")
    ledger.fold("dilemmas", "a.csv", 9, "dilemma-1", "same rule")
    ledger.publish("rules", "b.csv", 5, "rule-5")
    ledger.write(tmp_path)

    def expected(outcomes):
        return "".join(
            json.dumps({k: v for k, v in vars_of(e).items() if v is not None}, ensure_ascii=False) + "\n"
            for e in ledger.entries() if e.outcome in outcomes)

    assert (tmp_path / "rejects.jsonl").read_text(encoding="utf-8") == expected(("rejected",))
    assert (tmp_path / "folds.jsonl").read_text(encoding="utf-8") == expected(("folded", "excluded"))
    folds = (tmp_path / "folds.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["line"] for line in folds] == [9, 10, 3, 4]


def vars_of(entry):
    return {name: getattr(entry, name) for name in entry.__slots__}


def test_ids_given_as_an_arrow_array_are_recorded_as_ids_given_as_a_list(tmp_path):
    import pyarrow as pa

    def build(as_arrow):
        ledger = Ledger()
        ledger.read_lines("rules", "a.csv", range(2, 12))
        ledger.read_lines("rules", "b.csv", [2, 3])
        ledger.fold("rules", "a.csv", 9, "rule-9", "same rule text")
        ledger.reject("rules", "a.csv", 2, "rot", "empty rule text", row_id="rule-2")
        files, lines, ids = ["a.csv", "b.csv", "a.csv", "a.csv"], [5, 2, 3, 7], ["rule-5", "rule-b", "rule-3", None]
        ledger.publish_columns("rules", files, lines, pa.array(ids, pa.string()) if as_arrow else ids)
        ledger.fold("rules", "a.csv", 4, "rule-3", "same rule text")
        ledger.publish_columns("rules", ["a.csv"], [8], pa.array(["rule-8"]) if as_arrow else ["rule-8"])
        ledger.reject("rules", "a.csv", 6, "label", "not -1, 0 or 1")
        ledger.fold_many("rules", [("a.csv", 11, "rule-5", "same rule text"), ("a.csv", 10, "rule-8", "same")])
        ledger.publish("rules", "b.csv", 3, "rule-b3")
        return ledger

    listed, arrow = build(False), build(True)
    assert arrow.entries() == listed.entries()
    assert [e.id for e in arrow.entries("published")] == ["rule-3", "rule-5", None, "rule-8", "rule-b", "rule-b3"]
    listed.write(tmp_path / "listed")
    arrow.write(tmp_path / "arrow")
    for name in ("rejects.jsonl", "folds.jsonl"):
        assert (tmp_path / "arrow" / name).read_bytes() == (tmp_path / "listed" / name).read_bytes()
    assert '"id": "rule-8"' in (tmp_path / "arrow" / "folds.jsonl").read_text(encoding="utf-8")


def test_a_ledger_column_records_what_the_calls_row_by_row_record():
    import polars as pl
    import pytest

    outcomes = pl.DataFrame({
        "file": ["b.csv", "a.csv", "a.csv", "a.csv", "a.csv"], "line": [2, 5, 2, 3, 4],
        "outcome": ["published", "rejected", "published", "folded", "excluded"],
        "id": ["rule-1", None, "rule-2", "rule-2", "rule-3"],
        "field": [None, "rot", None, None, None],
        "reason": [None, "empty rule text", None, "same rule text", "labelled 0 (unrelated) at a.csv:9"]})
    column, calls = Ledger(), Ledger()
    for ledger in (column, calls):
        ledger.read_lines("rules", "a.csv", [2, 3, 4, 5])
        ledger.read_lines("rules", "b.csv", [2])
    column.record_table("rules", outcomes)
    calls.publish("rules", "b.csv", 2, "rule-1")
    calls.reject("rules", "a.csv", 5, "rot", "empty rule text")
    calls.publish("rules", "a.csv", 2, "rule-2")
    calls.fold("rules", "a.csv", 3, "rule-2", "same rule text")
    calls.exclude("rules", "a.csv", 4, "labelled 0 (unrelated) at a.csv:9", "rule-3")
    assert column.entries() == calls.entries()
    column.check_complete()
    with pytest.raises(RuntimeError, match="a.csv:3 already folded; cannot also be folded"):
        column.record_table("rules", outcomes.filter(pl.col("line") == 3))


def test_a_reply_of_numbered_scenes_is_rejected_folded_or_published_once_with_its_counts():
    ledger = Ledger()
    ledger.read_lines("scenarios", "blobs.csv", [2, 3, 4, 5])
    ledger.scene_reply("scenarios", "blobs.csv", 2, 3, [], [], "scenes", "no scene with options A, B and C")
    ledger.scene_reply("scenarios", "blobs.csv", 3, 2, ["s-1", "s-2"], ["s-1", "s-2"], "scenes", "unused")
    ledger.scene_reply("scenarios", "blobs.csv", 4, 3, ["s-1", "s-3"], ["s-3"], "scenes", "unused")
    ledger.scene_reply("scenarios", "blobs.csv", 5, 2, ["s-2", "s-1"], [], "scenes", "unused")
    assert [(e.line, e.outcome, e.id, e.field, e.reason) for e in ledger.entries()] == [
        (2, "rejected", None, "scene", "no scene with options A, B and C (3 numbered items)"),
        (3, "published", "s-1", None, "2 scenes"),
        (4, "published", "s-3", None, "1 scenes; 1 numbered items without options A, B, C skipped"),
        (5, "folded", "s-2", None, "same scenes"),
    ]
