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


@pytest.mark.parametrize("text", [
    "A：先救孩子 B：先救小狗 C：吃一块面包",
    "A:先救孩子\nB:先救小狗\nC:吃一块面包",
    "A. 先救孩子 B. 先救小狗 C. 吃一块面包",
    "A．先救孩子\nB．先救小狗\nC．吃一块面包",
    "A、先救孩子，B、先救小狗，C、吃一块面包",
    "A) 先救孩子 B) 先救小狗 C) 吃一块面包",
    "(A) 先救孩子\n(B) 先救小狗\n(C) 吃一块面包",
    "（A）先救孩子（B）先救小狗（C）吃一块面包",
    "【A】先救孩子【B】先救小狗【C】吃一块面包",
    "选项A：先救孩子 选项B：先救小狗 选项C：吃一块面包",
    "A选项：先救孩子\nB选项：先救小狗\nC选项：吃一块面包",
    "Ａ：先救孩子 Ｂ：先救小狗 Ｃ：吃一块面包",
    "【Ａ】先救孩子\n【Ｂ】先救小狗\n【Ｃ】吃一块面包",
    "1. A：先救孩子 B：先救小狗 C：吃一块面包",
    "选项：\nA：先救孩子\nB：先救小狗\nC：吃一块面包",
    "A：先救孩子 B：先救小狗 C：吃一块面包\n（注：以上选项顺序随机排列）",
    "A: 先救孩子\nB: 先救小狗\nC: 吃一块面包 注：选项无固定顺序。",
    "选项：A：先救孩子，B：先救小狗，C：吃一块面包",
])
def test_every_option_format_generators_write(text):
    options = split_options(text)
    assert [letter for letter, _ in options] == ["A", "B", "C"]
    assert [body.rstrip("，,") for _, body in options] == ["先救孩子", "先救小狗", "吃一块面包"]


def test_a_letter_inside_an_option_is_not_a_marker_when_the_markers_share_a_style():
    text = "A：选择方案B：继续工作 B：回家照顾母亲 C：看看窗外"
    assert split_options(text) == [("A", "选择方案B：继续工作"), ("B", "回家照顾母亲"), ("C", "看看窗外")]


@pytest.mark.parametrize(("text", "reason"), [
    ("A：先救孩子 B：先救小狗", "found ['A', 'B']"), ("先救孩子，先救小狗，吃一块面包", "found none"),
    ("A：先救孩子 B：先救小狗 C：（注：略）", "option C is empty"),
])
def test_a_cell_without_three_options_says_why(text, reason):
    with pytest.raises(ReplyParseError, match=reason.replace("[", "\\[").replace("]", "\\]")):
        split_options(text)


def test_scene_blob_with_an_options_header_keeps_it_out_of_the_scene():
    from builders.stages.parsers.blobs import split_scene_blob

    (item,) = split_scene_blob("1：朋友请你帮忙作弊。\n选项：\n(A) 答应\n(B) 拒绝\n(C) 看看窗外")
    assert item == ("朋友请你帮忙作弊。", [("A", "答应"), ("B", "拒绝"), ("C", "看看窗外")])


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
