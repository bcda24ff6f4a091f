import codecs

import pytest

from builders.stages.readers.encoding import EncodingError, decode_bytes, decode_file

TEXT = "rot,标签\n尊重他人是美德,1\n关爱他人,1\n"


@pytest.mark.parametrize(("data", "encoding"), [
    (TEXT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("gbk"), "gbk"),
    ("rot\n𠮷野家的规则\n".encode("gb18030"), "gb18030"),
])
def test_detects_upstream_encodings(tmp_path, data, encoding):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    decoded = decode_file(path)
    assert decoded.encoding == encoding
    assert decoded.text.lstrip("\ufeff").startswith("rot")
    assert not decoded.bad_lines


def test_one_damaged_line_is_reported_not_the_whole_file_misread(tmp_path):
    lines = [f"规则第{i}条是好的,1".encode() for i in range(40)]
    lines[7] = b"\xff\xfe broken \xc3"
    decoded = decode_bytes(b"rot,label\n" + b"\n".join(lines) + b"\n", tmp_path / "f.csv")
    assert decoded.encoding == "utf-8"
    assert decoded.bad_lines == {9}
    assert "规则第0条是好的" in decoded.text


def test_undecodable_file_fails_loudly_with_its_name(tmp_path):
    data = b"\n".join(bytes([0x80 + (i % 3), 0xFF, 0x81]) for i in range(20))
    with pytest.raises(EncodingError) as err:
        decode_bytes(data, tmp_path / "junk.csv")
    assert "junk.csv" in str(err.value) and "line" in str(err.value)
