from builders.readers.records import read_csv, read_jsonl


def test_csv_records_keep_their_starting_line_across_multiline_cells(tmp_path):
    path = tmp_path / "llm.csv"
    path.write_text('rot,标签\n规则一,"标签：1\n重写："\n规则二,"标签：0\n重写："\n', encoding="utf-8")
    table = read_csv(path, "llm.csv")
    assert [(r.line, r.fields["rot"]) for r in table.records] == [(2, "规则一"), (4, "规则二")]
    assert table.records[0].fields["标签"] == "标签：1\n重写："


def test_csv_row_with_wrong_field_count_is_a_bad_line(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("rot,标签,重写\n规则一,1,\n规则二,1\n", encoding="utf-8")
    table = read_csv(path, "f.csv")
    assert [r.line for r in table.records] == [2]
    assert [(b.line, b.reason) for b in table.bad] == [(3, "expected 3 fields, found 2")]


def test_jsonl_malformed_line_is_a_bad_line(tmp_path):
    path = tmp_path / "CVC.jsonl"
    path.write_text('{"rule": "规则"}\n{oops\n\n["not", "object"]\n', encoding="utf-8")
    table = read_jsonl(path, "CVC.jsonl")
    assert [r.line for r in table.records] == [1]
    assert [b.line for b in table.bad] == [2, 4]
    assert table.columns == ["rule"]
