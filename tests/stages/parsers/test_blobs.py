import pytest

from builders.stages.parsers.blobs import is_error_reply, parse_choice, split_numbered, split_options
from builders.stages.parsers.replies import ReplyParseError


def test_numbered_blob_with_ascii_and_fullwidth_colons():
    blob = "1：你看到一位老人摔倒在街上。\n2: 同事请求你帮助完成紧急报表。\n3：新搬来的邻居不懂垃圾分类。"
    assert split_numbered(blob) == [
        "你看到一位老人摔倒在街上。", "同事请求你帮助完成紧急报表。", "新搬来的邻居不懂垃圾分类。"]


def test_unnumbered_blob_is_one_scene_and_empty_is_none():
    assert split_numbered("你在公园里看到一个迷路的小孩。") == ["你在公园里看到一个迷路的小孩。"]
    assert split_numbered("  ") == []


@pytest.mark.parametrize("text", [
    "A: 先救孩子。\nB: 先救小狗。\nC: 吃一块面包。",
    "A：先救孩子。 B：先救小狗。 C：吃一块面包。",
    "A. 先救孩子。\nB. 先救小狗。\nC. 吃一块面包。",
    "A、先救孩子。B、先救小狗。C、吃一块面包。",
])
def test_options_on_one_line_or_many(text):
    assert split_options(text) == [("A", "先救孩子。"), ("B", "先救小狗。"), ("C", "吃一块面包。")]


@pytest.mark.parametrize("text", ["A: 只有一个选项", "B: 先救小狗。\nA: 先救孩子。\nC: 面包", "A:\nB: x\nC: y"])
def test_malformed_options_are_errors(text):
    with pytest.raises(ReplyParseError):
        split_options(text)


@pytest.mark.parametrize(("reply", "choice"), [
    ("A", "A"), ("A.", "A"), ("选B", "B"), ("答案：C", "C"), ("(B)", "B"), ("Ｃ", "C"), ("我选择B。", "B"),
    ("", None), ("ERROR: Connection timed out", None), ("A或B都可以", None), ("None of them", None), (None, None),
])
def test_choice_parsing(reply, choice):
    assert parse_choice(reply) == choice


def test_error_replies():
    assert is_error_reply("") and is_error_reply("ERROR: x") and is_error_reply(None)
    assert not is_error_reply("A")


def test_scene_blob_splits_numbered_scenes_with_options_in_either_layout():
    from builders.stages.parsers.blobs import split_scene_blob

    blob = ("1：你在公园散步时，发现一个小孩掉进了湖里。\nA：先救小孩。 B：先救小狗。 C：吃一块面包。\n"
            "2: 同事请你帮忙造假报表。\nA: 拒绝。\nB: 答应。\nC: 看看窗外。\n"
            "3：没有选项的场景。")
    first, second, third = split_scene_blob(blob)
    assert first == ("你在公园散步时，发现一个小孩掉进了湖里。",
                     [("A", "先救小孩。"), ("B", "先救小狗。"), ("C", "吃一块面包。")])
    assert second == ("同事请你帮忙造假报表。", [("A", "拒绝。"), ("B", "答应。"), ("C", "看看窗外。")])
    assert isinstance(third, ReplyParseError) and third.field == "options"


def test_option_letters_are_found_where_the_rule_says_on_random_texts():
    import random
    import re

    from builders.stages.parsers.blobs import _OPTION

    # The rule as first written: a letter at the very start, or right after whitespace or a sentence mark.
    reference = re.compile(r"(?:^|(?<=[\s。！？!?；;]))([A-C])[ \t]*[:：.．、)）][ \t]*")
    rnd = random.Random(5)
    alphabet = list("ABCDabc:：.．、)） \t\n。！？!?；;x规")
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16)))
        assert [m.span(1) + m.span() for m in _OPTION.finditer(text)] == \
            [m.span(1) + m.span() for m in reference.finditer(text)], text


def _parsed_row_by_row(scenes: list, options: list) -> list[tuple]:
    """What :func:`parse_scenes` must give, from :func:`scene_and_options` row by row."""
    from builders.stages.normalizers.text import clean_key
    from builders.stages.parsers.blobs import scene_and_options

    expected = []
    for scene_cell, options_cell in zip(scenes, options, strict=True):
        try:
            scene, found = scene_and_options(scene_cell, options_cell)
        except ReplyParseError as err:
            expected.append((None,) * 5 + (err.field, str(err)))
            continue
        expected.append((scene, clean_key(scene), *(text for _, text in found), None, None))
    return expected


def test_scenes_parsed_as_columns_are_what_each_row_gives():
    from builders.stages.parsers.blobs import SCENE_COLUMNS, parse_scenes

    rows = [("  一个情境：ＡＩ 该怎么办？ ", "A：甲 B：乙\nC：丙"), (None, "A：甲 B：乙 C：丙"),
            ("情境", "A：甲 B：乙"), ("情境", None), ("情境", "A：甲 B： C：丙")]
    table = parse_scenes([scene for scene, _ in rows], [options for _, options in rows])
    assert table.column_names == list(SCENE_COLUMNS)
    expected = _parsed_row_by_row([scene for scene, _ in rows], [options for _, options in rows])
    assert [tuple(row.values()) for row in table.to_pylist()] == expected
    assert [field for *_, field, _ in expected] == [None, "scene", "options", "options", "options"]
    assert parse_scenes([], []).num_rows == 0


def test_scenes_split_by_arrow_are_what_each_row_gives():
    """Random cells around the usual ``A: …\\nB: …\\nC: …`` shape, which Arrow splits, and cells it leaves
    to :func:`scene_and_options`: the table is the same either way."""
    import random

    from builders.stages.parsers.blobs import parse_scenes

    pick = random.Random(5)
    spaces = [c for c in map(chr, range(0x3001)) if c.isspace()]
    before = ["\n", " ", "。", "！", ";", "\u3000", "\u2028", "\t"] * 6 + ["", "x", "甲"]
    after = [":", "：", ".", "．", "、", ")", "）", " :", "\t："] * 6 + ["-", ""]
    body = list("甲乙丙 。!a\nＡ") * 4 + spaces
    scenes, options = [], []
    for _ in range(3000):
        cell = pick.choice(["", "前言", "a ", "选项"])
        for letter in "ABC" if pick.random() < 0.9 else pick.choice(["AB", "ACB", "ABCA", "BC"]):
            cell += pick.choice(before) + letter + pick.choice(after) + pick.choice(["", " ", "\t", "  "])
            cell += "".join(pick.choice(body) for _ in range(pick.randint(0, 6)))
        scenes.append(pick.choice(["情境", " 情 境\n", "ＡＩ情境"] * 3 + ["", None]))
        options.append(cell if pick.random() < 0.98 else None)
    expected = _parsed_row_by_row(scenes, options)
    assert [tuple(row.values()) for row in parse_scenes(scenes, options).to_pylist()] == expected
    assert 500 < sum(1 for row in expected if row[5] is None) < 2500  # both paths are taken
