import json

import numpy as np
import polars as pl
import pytest

from builders.stages.ledger import OUTCOME_SCHEMA, Ledger, Outcomes, outcome_lines


def _outcomes(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=OUTCOME_SCHEMA, orient="row")


def test_outcomes_collected_row_by_row_are_the_rows_of_the_table_handed_over():
    collected = Outcomes()
    collected.publish("a.csv", 2, "rule-1")
    collected.fold("a.csv", 3, "rule-1", "same rule text")
    collected.exclude("a.csv", 4, "labelled 0", "rule-3")
    collected.reject("a.csv", 5, "rot", "empty rule text")
    assert collected.frame().equals(_outcomes(
        ("a.csv", 2, "published", "rule-1", None, None), ("a.csv", 3, "folded", "rule-1", None, "same rule text"),
        ("a.csv", 4, "excluded", "rule-3", None, "labelled 0"), ("a.csv", 5, "rejected", None, "rot",
                                                                   "empty rule text")))
    assert Outcomes().frame().schema == pl.Schema(OUTCOME_SCHEMA)


def test_outcomes_given_as_arrays_are_the_rows_collected_one_by_one():
    lines, ids = np.array([4, 2, 9], np.int64), ["d-4", "d-2", "d-9"]
    one_by_one = Outcomes()
    for line, row_id in zip(lines.tolist(), ids, strict=True):
        one_by_one.fold("a.csv", line, row_id, "same dilemma")
    assert outcome_lines("a.csv", lines, "folded", ids, reason="same dilemma").equals(one_by_one.frame())
    rejected = outcome_lines("a.csv", [7, 8], "rejected", field=["scene", "options"], reason=["no scene", "none"])
    assert rejected.rows() == [("a.csv", 7, "rejected", None, "scene", "no scene"),
                               ("a.csv", 8, "rejected", None, "options", "none")]
    assert outcome_lines("a.csv", [], "excluded", reason="no dilemma").height == 0


def test_entries_and_counts_are_views_of_the_table_by_config_file_and_line():
    ledger = Ledger()
    ledger.read("rules", "b.csv", [2])
    ledger.read("rules", "a.csv", np.array([5, 3, 4, 2]))
    ledger.read("rules", "a.csv", [3])  # read again: still one row
    ledger.read("dilemmas", "b.csv", [2, 3])
    ledger.record_table("rules", _outcomes(
        ("b.csv", 2, "published", "rule-1", None, None), ("a.csv", 5, "rejected", None, "rot", "empty rule text"),
        ("a.csv", 2, "published", "rule-2", None, None), ("a.csv", 3, "folded", "rule-2", None, "same rule text")))
    ledger.record_table("rules", _outcomes(("a.csv", 4, "excluded", "rule-3", None, "labelled 0")))
    ledger.record_table("dilemmas", outcome_lines("b.csv", [3, 2], "rejected", field="options", reason="no options"))
    ledger.check_complete()
    assert [(e.config, e.file, e.line, e.outcome) for e in ledger.entries()] == [
        ("dilemmas", "b.csv", 2, "rejected"), ("dilemmas", "b.csv", 3, "rejected"),
        ("rules", "a.csv", 2, "published"), ("rules", "a.csv", 3, "folded"), ("rules", "a.csv", 4, "excluded"),
        ("rules", "a.csv", 5, "rejected"), ("rules", "b.csv", 2, "published")]
    assert [(e.line, e.id, e.reason) for e in ledger.entries("folded", "rules")] == [(3, "rule-2", "same rule text")]
    assert ledger.entries("published", "dilemmas") == []
    by_config = ledger.counts_by_config(["rules", "dilemmas", "taxonomy"])
    assert by_config["rules"] == {"read": 5, "published": 2, "folded": 1, "excluded": 1, "rejected": 1}
    assert by_config["dilemmas"] == {"read": 2, "published": 0, "folded": 0, "excluded": 0, "rejected": 2}
    assert by_config["taxonomy"] == {"read": 0, "published": 0, "folded": 0, "excluded": 0, "rejected": 0}
    assert all(ledger.counts(c) == counts for c, counts in by_config.items())
    assert ledger.counts() == {"read": 7, "published": 2, "folded": 1, "excluded": 1, "rejected": 3}
    assert all(type(n) is int for n in ledger.counts().values())  # counts go into report.json


def test_a_row_given_a_second_outcome_is_refused_naming_its_file_and_line():
    ledger = Ledger()
    ledger.read("rules", "a.csv", [2, 3, 4])
    ledger.record_table("rules", _outcomes(("a.csv", 2, "published", "rule-1", None, None),
                                           ("a.csv", 3, "folded", "rule-1", None, "same rule text"),
                                           ("a.csv", 4, "published", "rule-4", None, None)))
    ledger.check_complete()
    ledger.record_table("rules", _outcomes(("a.csv", 3, "published", "rule-3", None, None)))
    with pytest.raises(RuntimeError, match="^a.csv:3 already folded; cannot also be published$"):
        ledger.check_complete()


def test_a_row_twice_in_one_table_is_refused_at_its_second_row():
    ledger = Ledger()
    ledger.read("rules", "a.csv", range(10_000))
    ledger.record_table("rules", outcome_lines("a.csv", [2, 9_000, 2, 5], "published", ["x", "y", "z", "w"]))
    with pytest.raises(RuntimeError, match="a.csv:2 already published; cannot also be published"):
        ledger.check_complete()


def test_an_outcome_for_a_row_never_read_is_refused_naming_its_file_and_line():
    ledger = Ledger()
    ledger.read("rules", "a.csv", [2])
    ledger.record_table("rules", outcome_lines("a.csv", [2], "published", ["rule-a"]))
    ledger.record_table("rules", outcome_lines("b.csv", [2], "published", ["rule-b"]))  # a file never read
    with pytest.raises(RuntimeError, match="^b.csv:2 was given an outcome but never read$"):
        ledger.check_complete()
    other = Ledger()
    other.read("rules", "a.csv", [2])
    other.record_table("dilemmas", outcome_lines("a.csv", [2], "published", ["d-1"]))  # read by another config
    with pytest.raises(RuntimeError, match="a.csv:2 was given an outcome but never read"):
        other.check_complete()


def test_the_first_refusal_in_the_order_recorded_is_the_one_raised():
    ledger = Ledger()
    ledger.read("rules", "a.csv", [2, 3])
    ledger.record_table("rules", outcome_lines("a.csv", [2, 2], "folded", ["x", "y"], reason="same"))
    ledger.record_table("rules", outcome_lines("a.csv", [7], "published", ["z"]))
    with pytest.raises(RuntimeError, match="a.csv:2 already folded; cannot also be folded"):
        ledger.check_complete()


def test_a_row_read_and_never_given_an_outcome_fails_the_check_naming_file_and_line():
    ledger = Ledger()
    ledger.read("rules", "a.csv", [70_000, 0, *range(2, 20, 3), 2**32 - 1])
    ledger.read("rules", "b.csv", [1])
    ledger.record_table("rules", outcome_lines("a.csv", range(2, 20, 6), "published", ["r-2", "r-8", "r-14"]))
    with pytest.raises(RuntimeError, match=r"^7 raw rows have no outcome \(e.g. a.csv:0, a.csv:5, a.csv:11, "
                                           r"a.csv:17, a.csv:70000\)$"):
        ledger.check_complete()
    Ledger().check_complete()  # nothing read, nothing lost


def test_a_line_number_the_ledger_cannot_key_is_refused_naming_file_and_line():
    with pytest.raises(ValueError, match=r"a.csv:-5: not a line number \(0 to 4294967295\)"):
        Ledger().read("rules", "a.csv", [2, -5])
    with pytest.raises(ValueError, match="b.csv:4294967296: not a line number"):
        Ledger().record_table("rules", outcome_lines("b.csv", [2**32], "published", ["x"]))


def test_an_unknown_outcome_is_refused_when_handed_over():
    with pytest.raises(ValueError, match="a.csv:2: unknown outcome 'dropped'"):
        Ledger().record_table("rules", outcome_lines("a.csv", [2], "dropped", ["x"]))


def test_written_ledgers_are_json_dumps_of_each_entry_without_its_empty_fields(tmp_path):
    ledger = Ledger()
    ledger.read("rules", "b.csv", range(2, 7))
    ledger.read("dilemmas", "a \"quoted\" \\ 中文.csv", [10, 9])
    ledger.record_table("rules", _outcomes(
        ("b.csv", 6, "rejected", None, "rot", 'quote " backslash \\ newline \n tab \t 中文 \u2028 \x01 \x1f \x7f'),
        ("b.csv", 2, "rejected", "rule-1", "label", "中文"), ("b.csv", 3, "folded", "rule-1", None, "same rule"),
        ("b.csv", 4, "excluded", None, None, "label: 否"), ("b.csv", 5, "published", "rule-5", None, None)))
    ledger.record_table("dilemmas", _outcomes(("a \"quoted\" \\ 中文.csv", 10, "excluded", "dilemma-2", None, "中文"),
                                              ("a \"quoted\" \\ 中文.csv", 9, "folded", "d-1", None, "")))
    ledger.write(tmp_path)

    def expected(outcomes):
        return "".join(
            json.dumps({k: v for k, v in vars_of(e).items() if v is not None}, ensure_ascii=False) + "\n"
            for e in ledger.entries() if e.outcome in outcomes)

    assert (tmp_path / "rejects.jsonl").read_text(encoding="utf-8") == expected(("rejected",))
    assert (tmp_path / "folds.jsonl").read_text(encoding="utf-8") == expected(("folded", "excluded"))
    folds = (tmp_path / "folds.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["line"] for line in folds] == [9, 10, 3, 4]
    Ledger().write(tmp_path / "empty")
    assert (tmp_path / "empty" / "rejects.jsonl").read_bytes() == b""


def test_every_character_json_escapes_is_written_as_json_dumps_writes_it(tmp_path):
    texts = [chr(c) for c in range(0x80)] + ["\u2028", "é", "中文", "\U0001f600", "\\\"\\n", ""]
    ledger = Ledger()
    ledger.read("rules", "a.csv", range(len(texts)))
    ledger.record_table("rules", outcome_lines("a.csv", range(len(texts)), "rejected", texts, field=texts,
                                               reason=texts))
    ledger.write(tmp_path)
    written = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")
    assert written == "".join(json.dumps({"config": "rules", "file": "a.csv", "line": line, "outcome": "rejected",
                                   "id": text, "field": text, "reason": text}, ensure_ascii=False) + "\n"
                              for line, text in enumerate(texts))


def test_a_report_longer_than_one_written_part_is_whole_and_in_order(tmp_path):
    from builders.stages import ledger as ledger_module

    n = ledger_module._WRITE_ROWS + 7
    ledger = Ledger()
    ledger.read("rules", "a.csv", range(n))
    ledger.record_table("rules", outcome_lines("a.csv", np.arange(n)[::-1], "folded", ["r"] * n, reason="same"))
    ledger.write(tmp_path)
    lines = (tmp_path / "folds.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["line"] for line in lines] == list(range(n))


def vars_of(entry):
    return {name: getattr(entry, name) for name in entry.__slots__}


def test_a_reply_of_numbered_scenes_is_rejected_folded_or_published_once_with_its_counts():
    collected = Outcomes()
    collected.scene_reply("blobs.csv", 2, 3, [], [], "scenes", "no scene with options A, B and C")
    collected.scene_reply("blobs.csv", 3, 2, ["s-1", "s-2"], ["s-1", "s-2"], "scenes", "unused")
    collected.scene_reply("blobs.csv", 4, 3, ["s-1", "s-3"], ["s-3"], "scenes", "unused")
    collected.scene_reply("blobs.csv", 5, 2, ["s-2", "s-1"], [], "scenes", "unused")
    ledger = Ledger()
    ledger.read("scenarios", "blobs.csv", [2, 3, 4, 5])
    ledger.record_table("scenarios", collected.frame())
    ledger.check_complete()
    assert [(e.line, e.outcome, e.id, e.field, e.reason) for e in ledger.entries()] == [
        (2, "rejected", None, "scene", "no scene with options A, B and C (3 numbered items)"),
        (3, "published", "s-1", None, "2 scenes"),
        (4, "published", "s-3", None, "1 scenes; 1 numbered items without options A, B, C skipped"),
        (5, "folded", "s-2", None, "same scenes"),
    ]


def test_files_met_out_of_order_in_one_table_are_viewed_and_counted_by_config_file_and_line(tmp_path):
    ledger = Ledger()
    ledger.read("rules", "c.csv", [1])
    ledger.record_table("rules", Outcomes().frame())  # an empty table records nothing
    ledger.read("rules", "a.csv", [2, 1])
    ledger.read("default", "c.csv", [1])
    ledger.record_table("rules", outcome_lines("c.csv", [1], "folded", ["r-2"], reason="same").vstack(
        outcome_lines("a.csv", [2, 1], "published", ["r-2", "r-1"])))
    ledger.record_table("default", outcome_lines("c.csv", [1], "rejected", field="rot", reason="empty"))
    ledger.check_complete()
    assert [(e.config, e.file, e.line) for e in ledger.entries()] == [
        ("default", "c.csv", 1), ("rules", "a.csv", 1), ("rules", "a.csv", 2), ("rules", "c.csv", 1)]
    assert ledger.counts_by_config(["rules"])["rules"] == {"read": 3, "published": 2, "folded": 1, "excluded": 0,
                                                           "rejected": 0}
    assert [(e.config, e.file) for e in ledger.entries(config="rules", outcome="folded")] == [("rules", "c.csv")]
    ledger.write(tmp_path)
    assert [json.loads(line)["config"] for line in (tmp_path / "rejects.jsonl").read_text().splitlines()] == [
        "default"]
