import pytest

from builders.stages.parsers.replies import (
    ReplyParseError,
    parse_classification,
    parse_label,
    parse_label_reply,
    split_values,
    strip_rot_prefix,
)


@pytest.mark.parametrize("cell", ["文明礼仪、尊重他人", "文明礼仪，尊重他人", "文明礼仪,尊重他人", "文明礼仪/尊重他人",
                                  " 文明礼仪 、 尊重他人 、"])
def test_split_values_accepts_every_upstream_separator(cell):
    assert split_values(cell) == ["文明礼仪", "尊重他人"]


def test_split_values_passes_json_lists_and_empty_cells():
    assert split_values(["Nation", " Person "]) == ["Nation", "Person"]
    assert split_values("") == [] and split_values(None) == []


def test_classification_reply_with_mixed_colons_and_chatter():
    reply = "好的，分类如下：\n层面:国家、个人\n核心价值：文明、友善\n衍生价值 ： 文明礼仪，尊重他人"
    assert parse_classification(reply) == {
        "dimensions": ["国家", "个人"], "core_values": ["文明", "友善"], "derived_values": ["文明礼仪", "尊重他人"]}


def test_classification_reply_with_variant_tier_names_and_missing_line():
    parsed = parse_classification("层级：社会层面\n派生价值：自由行为")
    assert parsed == {"dimensions": ["社会层面"], "core_values": [], "derived_values": ["自由行为"]}


def test_broken_classification_reply_is_an_error():
    with pytest.raises(ReplyParseError, match="无法分类"):
        parse_classification("无法分类")


@pytest.mark.parametrize(("reply", "label", "rewrite"), [
    ("标签：1\n重写：", 1, None),
    ("标签:0\n重写:", 0, None),
    ("标签： -1\n重写：考试作弊是不诚实的行为", -1, "考试作弊是不诚实的行为"),
    ("标签：1\n重写：不应在公共场合大声喧哗", 1, "不应在公共场合大声喧哗"),
    ("分析如下。\n标签：1", 1, None),
])
def test_label_replies(reply, label, rewrite):
    parsed = parse_label_reply(reply)
    assert (parsed.label, parsed.rewrite) == (label, rewrite)


@pytest.mark.parametrize("reply", ["", "抱歉，我无法回答这个问题。", "标签：2\n重写："])
def test_broken_label_replies_are_errors(reply):
    with pytest.raises(ReplyParseError):
        parse_label_reply(reply)


def test_label_cells():
    assert [parse_label(v) for v in ("1", " -1 ", "0", "+1")] == [1, -1, 0, 1]
    with pytest.raises(ReplyParseError):
        parse_label("是")


@pytest.mark.parametrize("text", ["rot:规则", "RoT：规则", "ROT : 规则", "规则"])
def test_rot_prefix_any_case_and_colon(text):
    assert strip_rot_prefix(text) == "规则"
