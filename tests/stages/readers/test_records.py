import pyarrow.csv as pa_csv
import pytest

from builders.stages.readers.encoding import decode_bytes
from builders.stages.readers.records import (
    read_csv,
    read_csv_columns,
    read_gbk_csv_columns,
    read_jsonl,
    read_utf8_csv_columns,
)


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


@pytest.mark.parametrize(("text", "encoding", "lines"), [
    ('rot , translate\n规则一,"a, ""quoted"" b"\n"规则""二"x,  c\n规则三,\n', "gbk", [2, 3, 4]),
    # multi-line cells (one holding a blank line), and no line break at the end of the file
    ('rot,标签\n规则一,"标签：1\n\n重写：x"\n"规则\n二",1\n规则三,\n"规则四","a\nb\nc"', "utf-8", [2, 5, 7, 8]),
])
def test_csv_read_column_wise_matches_the_records_line_for_line(tmp_path, text, encoding, lines):
    path = tmp_path / "f.csv"
    path.write_text(text, encoding=encoding)
    columns = read_csv_columns(decode_bytes(path.read_bytes(), path))
    records = read_csv(path, "f.csv").records
    assert columns.table.column_names == text.partition("\n")[0].replace(" ", "").split(",")
    assert columns.lines.tolist() == [r.line for r in records] == lines
    assert columns.table.to_pylist() == [r.fields for r in records]


@pytest.mark.parametrize("text", [
    "rot,标签\n规则一,1\n\n规则二,1\n",  # a blank line
    'rot,标签\n规则一,"标签：1\n重写："\n\n规则二,1\n',  # a blank line after a multi-line cell
    "rot,标签\r\n规则一,1\r\n",
    "rot,标签,重写\n规则一,1,\n规则二,1\n",  # a ragged row
])
def test_csv_that_cannot_be_tied_to_lines_column_wise_is_left_to_the_records(tmp_path, text):
    path = tmp_path / "f.csv"
    assert read_csv_columns(decode_bytes(text.encode("utf-8"), path)) is None


_GBK_TEXTS = [
    'rot , translate\n规则一,"a, ""quoted"" b"\n"规则""二"x,  c\n规则三,\n',
    'rot,标签\n规则一,"标签：1\n\n重写：x"\n"规则\n二",1\n规则三,\n"规则四","a\nb\nc"',
    "rot,标签\n" + "a,b\n" * 3000 + "规则一,1\n",  # the first non-ASCII byte far into the file
]


@pytest.mark.parametrize("text", _GBK_TEXTS)
def test_gbk_bytes_read_by_arrow_give_the_table_of_the_decoded_text(tmp_path, text):
    data = text.encode("gbk")
    _assert_same_as_decoded(read_gbk_csv_columns(data), data, tmp_path, "gbk")


def _assert_same_as_decoded(by_arrow, data: bytes, tmp_path, encoding: str) -> None:
    """The table read from the bytes is the one read from the text ``decode_bytes`` makes of them."""
    decoded = decode_bytes(data, tmp_path / "f.csv")
    assert decoded.encoding == encoding
    by_text = read_csv_columns(decoded)
    assert by_arrow.table.equals(by_text.table) and by_arrow.lines.tolist() == by_text.lines.tolist()


_TRANSCODED_BLOCK = pa_csv.ReadOptions().block_size
"""The bytes Arrow reads (and transcodes) at a time."""


def test_gbk_read_in_many_blocks_gives_the_table_of_the_decoded_text(tmp_path):
    rows = [f'规则{i}号，{"的" * (i % 7)},"第{i}条\n译文"' if i % 5 == 0 else f"规则{i}号，{'地' * (i % 3)},rule {i}"
            for i in range(4 * _TRANSCODED_BLOCK // 20)]
    data = ("rot,translate\n" + "\n".join(rows) + "\n").encode("gbk")
    cut = [b for b in range(_TRANSCODED_BLOCK, len(data), _TRANSCODED_BLOCK) if _cuts_a_character(data, b)]
    assert len(data) > 3 * _TRANSCODED_BLOCK and cut  # some blocks end inside a character
    by_arrow = read_gbk_csv_columns(data)
    _assert_same_as_decoded(by_arrow, data, tmp_path, "gbk")
    assert by_arrow.table.num_rows == len(rows)


def _cuts_a_character(data: bytes, at: int) -> bool:
    try:
        data[:at].decode("gbk")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("data", [
    _GBK_TEXTS[0].encode("utf-8"),  # UTF-8: its own reader
    b"\xef\xbb\xbf" + _GBK_TEXTS[0].encode("utf-8"),
    "rot,标签\n规则一,1\n".encode("gbk") + b"\x81\x20broken,1\n",  # not all GBK: decode_bytes finds the bad line
    "rot,标签\n规则一,1\n€,1\n".encode("gb18030"),  # GB18030 only
    "rot,标签\r\n规则一,1\r\n".encode("gbk"),
    "rot,标签\n规则一,1\n\n规则二,1\n".encode("gbk"),  # a blank line
    b"rot,tag\nrule,1\n",  # ASCII
])
def test_bytes_that_are_not_plain_gbk_rows_are_left_to_the_text_readers(data):
    assert read_gbk_csv_columns(data) is None


@pytest.mark.parametrize("text", [*_GBK_TEXTS, "index,scene\n0,场景 🙂 emoji\n1,\"多行\n场景\"\n"])
def test_utf8_bytes_read_by_arrow_give_the_table_of_the_decoded_text(tmp_path, text):
    data = text.encode("utf-8")
    _assert_same_as_decoded(read_utf8_csv_columns(data), data, tmp_path, "utf-8")


@pytest.mark.parametrize("data", [
    _GBK_TEXTS[0].encode("gbk"),  # GBK: its own reader
    b"\xef\xbb\xbf" + _GBK_TEXTS[0].encode("utf-8"),  # a BOM: decode_bytes strips it
    "rot,标签\n规则一,1\n".encode() + b"\xe8\xa7broken,1\n",  # one cut character: decode_bytes finds the line
    "rot,标签\n规则一,1\n".encode() + "\ud800,1\n".encode("utf-8", "surrogatepass"),  # not UTF-8 to Python
    "rot,标签\r\n规则一,1\r\n".encode(),
    "rot,标签\n规则一,1\n\n规则二,1\n".encode(),  # a blank line
])
def test_bytes_that_are_not_plain_utf8_rows_are_left_to_the_text_readers(data):
    assert read_utf8_csv_columns(data) is None


@pytest.mark.parametrize(("header", "encoding"), [("rot,标签,重写", "gbk"), ("index,scene,options", "utf-8")])
@pytest.mark.parametrize("rows", [3, 20_000])
def test_header_is_read_from_the_first_rows_of_a_big_file(tmp_path, header, encoding, rows):
    from builders.stages.readers.records import read_header, read_table

    path = tmp_path / "f.csv"
    body = "".join(f'规则{i},"多行\n内容 {i}",x\n' for i in range(rows))
    path.write_text(f"\n{header}\n{body}", encoding=encoding)
    assert path.stat().st_size > (1 << 16) or rows == 3
    assert read_header(path, "f.csv") == read_table(path, "f.csv").columns == header.split(",")


def test_header_longer_than_the_first_bytes_read_is_read_whole(tmp_path):
    from builders.stages.readers.records import read_header

    path = tmp_path / "f.csv"
    names = [f"column_{i}" for i in range(10_000)]
    path.write_text(",".join(names) + "\n", encoding="utf-8")
    assert read_header(path, "f.csv") == names
