import random

import pyarrow as pa
import pytest

from builders.stages.normalizers.text import (
    clean_key,
    clean_key_column,
    clean_text,
    clean_text_and_key_columns,
    clean_text_column,
    dedup_key,
    has_cjk,
    has_cjk_column,
)
from builders.stages.parsers.replies import ROT_PREFIX_CHANGES, strip_rot_prefix, strip_rot_prefix_column


def test_clean_text_collapses_whitespace_and_halves_fullwidth_ascii():
    assert clean_text("  使用ＡＩ\u3000工具　要负责任 \n") == "使用AI 工具 要负责任"
    assert clean_text("不要插队，要排队。") == "不要插队，要排队。"  # Chinese punctuation is kept
    assert clean_text(None) == ""


def test_dedup_key_collides_on_cosmetic_differences_only():
    assert dedup_key("醉酒驾驶是违反法律的行为。") == dedup_key(" 醉酒驾驶是违反法律的行为 ")
    assert dedup_key("不要插队,要排队") == dedup_key("不要插队，要排队")
    assert dedup_key("Be Kind.") == dedup_key("be kind")
    assert dedup_key("醉酒驾驶是违法的") != dedup_key("酒后驾驶是违法的")


def test_has_cjk():
    assert has_cjk("AI要负责任") and not has_cjk("Be kind.")


def test_key_punctuation_is_mapped_as_str_translate_maps_it():

    from builders.stages.normalizers.text import _KEY_PUNCTUATION, _KEY_TRAILING, clean_key

    marks = [chr(code) for code in _KEY_PUNCTUATION] + ["，", "。", '"', "'", "a", "B", "规", "则", ".", "！"]
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(marks) for _ in range(rng.randint(0, 12)))
        expected = text.casefold().translate(_KEY_PUNCTUATION).rstrip(_KEY_TRAILING)
        assert clean_key(text) == expected, text


def _random_texts(seed: int, count: int) -> list[str]:
    """Texts mixing Chinese, ASCII, every kind of whitespace, full-width forms and cased non-ASCII letters."""
    pick = random.Random(seed)
    alphabet = (list("爱护公共设施是每个公民的责任地，。、；：？！“”‘’（）《》…—") + list("abcXYZ rot:RoT,.;:!?()0")
                + [c for c in map(chr, range(0x3001)) if c.isspace()] + list("ＡＢｃ１２\u200b\ufeff\u3000")
                + list("ßÀÉĲΣσςﬁİ\x00\x07"))
    texts = ["", " ", "rot: 规则", "RoT：规则。", "ROT : 规则!!", "规则．", "Ａ ｂ"]
    plain = alphabet[:alphabet.index("0") + 1]  # what most rules hold: the column forms leave these to Arrow
    spaced = plain + [c for c in map(chr, range(0x3001)) if c.isspace()] * 3  # cleaned by Arrow alone
    for _ in range(count):
        chars = pick.choice((plain, spaced, alphabet))
        texts.append("".join(pick.choice(chars) for _ in range(pick.randint(0, 12))))
    return texts


def test_column_forms_give_each_rows_result():
    texts = _random_texts(3, 5000)
    column = pa.array(texts + [None], pa.string())
    cleaned = clean_text_column(column).to_pylist()
    assert cleaned == [clean_text(t) for t in texts] + [""]
    assert clean_key_column(pa.array(cleaned)).to_pylist() == [clean_key(t) for t in cleaned]
    assert clean_key_column(pa.array(cleaned).slice(7)).to_pylist() == [clean_key(t) for t in cleaned[7:]]
    assert has_cjk_column(pa.array(cleaned)).tolist() == [has_cjk(t) for t in cleaned]
    assert strip_rot_prefix_column(column).to_pylist() == [strip_rot_prefix(t) for t in texts] + [None]


def test_column_forms_of_plain_rows_leave_them_to_arrow():
    rows = pa.chunked_array([["爱护公共设施是每个公民的责任。", "Respect others."], ["不要 说谎"]])
    assert clean_text_column(rows).to_pylist() == ["爱护公共设施是每个公民的责任。", "Respect others.", "不要 说谎"]
    assert clean_key_column(rows).to_pylist() == ["爱护公共设施是每个公民的责任", "respectothers", "不要说谎"]


def test_whitespace_is_what_split_and_a_python_pattern_see():
    import re

    from builders.stages.normalizers.text import WHITESPACE

    every = [chr(code) for code in range(0x110000)]
    assert WHITESPACE == "".join(c for c in every if c.isspace()) == "".join(c for c in every if re.match(r"\s", c))


def test_texts_and_keys_in_one_scan_are_the_column_forms_one_after_the_other():
    texts = _random_texts(5, 6000) + ["规则"] * 50  # plain rows around the rows some step changes
    column = pa.chunked_array([pa.array(texts[:3000] + [None], pa.string()), pa.array(texts[3000:], pa.string())])
    cleaned = clean_text_column(strip_rot_prefix_column(column))
    texts_out, keys_out = clean_text_and_key_columns(column, strip_rot_prefix_column, ROT_PREFIX_CHANGES)
    assert texts_out.to_pylist() == cleaned.to_pylist()
    assert keys_out.to_pylist() == clean_key_column(cleaned).to_pylist()
    assert clean_text_and_key_columns(pa.array(texts))[1].to_pylist() == [clean_key(clean_text(t)) for t in texts]
    with pytest.raises(ValueError, match="together"):
        clean_text_and_key_columns(column, strip_rot_prefix_column)
