from builders.option_mapping import given_mapping, recover_mapping
from builders.parsers.blobs import split_options

RULE_A = "看到有人摔倒应该上前询问是否需要帮助。"
RULE_B = "每个人都应该自觉遵守交通规则。"


def test_recovers_shuffled_letters_with_confidence():
    options = split_options(
        "A: 你看了看天气预报。\nB: 遵守交通规则，在路口等待信号灯。\nC: 翻过护栏上前询问摔倒的人是否需要帮助。")
    mapping = recover_mapping(options, RULE_A, RULE_B)
    assert mapping.source == "recovered"
    assert mapping.follows == {"A": "distractor", "B": "rule_b", "C": "rule_a"}
    assert 0 < mapping.confidence <= 1


def test_refuses_to_guess_when_no_option_echoes_a_rule():
    options = split_options("A: 带孩子上门去道歉。\nB: 和邻居聊聊别的事情。\nC: 去商场买一个新的花瓶。")
    mapping = recover_mapping(options, "做错事的人应该为自己的过错承担责任。", "对别人的无心之过应该宽容。")
    assert mapping.source == "none" and mapping.confidence == 0
    assert set(mapping.follows.values()) == {None}


def test_refuses_when_two_assignments_are_equally_good():
    options = [("A", "遵守交通规则"), ("B", "遵守交通规则"), ("C", "吃面包")]
    mapping = recover_mapping(options, "遵守交通规则是应该的", "每个人都应该遵守交通规则")
    assert mapping.source == "none"


def test_is_deterministic():
    options = split_options("A: 自觉遵守交通规则。\nB: 上前询问是否需要帮助。\nC: 看天气。")
    assert recover_mapping(options, RULE_A, RULE_B) == recover_mapping(options, RULE_A, RULE_B)


def test_given_mapping_is_used_as_is():
    mapping = given_mapping(["A", "B", "C"], "C", "A")
    assert mapping.follows == {"A": "rule_b", "B": "distractor", "C": "rule_a"}
    assert (mapping.source, mapping.confidence) == ("raw", 1.0)


def test_cached_rule_bigrams_and_short_texts_give_the_same_mapping():
    from builders.option_mapping import RuleGrams

    grams = RuleGrams()
    cases = [
        (split_options("A: 自觉遵守交通规则。\nB: 上前询问是否需要帮助。\nC: 看天气。"), RULE_A, RULE_B),
        ([("A", "遵"), ("B", "。"), ("C", "遵守")], "遵", "遵守"),
        ([("A", ""), ("B", "x"), ("C", "遵守交通")], "", "遵守交通规则"),
    ]
    for options, rule_a, rule_b in cases:
        assert recover_mapping(options, rule_a, rule_b, grams) == recover_mapping(options, rule_a, rule_b)
    assert recover_mapping(*cases[1]).follows == {"A": "rule_a", "B": "distractor", "C": "rule_b"}
