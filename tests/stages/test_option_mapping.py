import random
import re
from itertools import permutations

import numpy as np
import pyarrow as pa
import pytest

from builders.stages.option_mapping import (
    MIN_CONFIDENCE,
    MIN_SCORE,
    ROLES,
    OptionMapping,
    _rounded,
    given_mapping,
    recover_mapping,
    recover_roles,
    recover_roles_at,
)
from builders.stages.parsers.blobs import split_options

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


def _reference(options: list[tuple[str, str]], rule_a: str, rule_b: str) -> OptionMapping:
    """The mapping as the module docstring defines it, one dilemma at a time with Python sets."""
    def grams(text: str) -> set[str]:
        chars = re.sub(r"[^\w]", "", text.lower())
        return {chars[i:i + 2] for i in range(len(chars) - 1)} or ({chars} if chars else set())

    def share(option: str, rule: str) -> float:
        return len(grams(option) & grams(rule)) / len(grams(rule)) if grams(rule) else 0.0

    scores = {letter: (share(text, rule_a), share(text, rule_b)) for letter, text in options}
    letters = [letter for letter, _ in options]
    ranked = sorted((-(scores[o[0]][0] + scores[o[1]][1]), o) for o in permutations(letters))
    (best, order), second = ranked[0], ranked[1][0]
    confidence = (second - best) / -best if best else 0.0
    if scores[order[0]][0] < MIN_SCORE or scores[order[1]][1] < MIN_SCORE or confidence < MIN_CONFIDENCE:
        return OptionMapping(dict.fromkeys(letters), "none", 0.0)
    return OptionMapping(dict(zip(order, ROLES, strict=True)), "recovered", round(confidence, 4))


def test_batch_recovery_matches_the_definition_on_random_and_edge_case_texts():
    rnd = random.Random(7)
    alphabet = list("遵守交通规则应该不是的人他ABCabc12２ ，。ΣσςİＡ") + ["\U0001e900", "\U0001e922"]

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))

    cases = [([("A", text()), ("B", text()), ("C", text())], text(), text()) for _ in range(3000)]
    cases += [
        (split_options("A: 自觉遵守交通规则。\nB: 上前询问是否需要帮助。\nC: 看天气。"), RULE_A, RULE_B),
        ([("A", "遵"), ("B", "。"), ("C", "遵守")], "遵", "遵守"),
        ([("A", ""), ("B", "x"), ("C", "遵守交通")], "", "遵守交通规则"),
    ]
    expected = [_reference(*case) for case in cases]
    assert {m.source for m in expected} == {"none", "recovered"}
    assert [recover_mapping(*case) for case in cases] == expected
    flat = [t for options, _, _ in cases for _, t in options]
    rules_a, rules_b = [a for _, a, _ in cases], [b for _, _, b in cases]
    one = recover_roles(flat, rules_a, rules_b, chunk=257)
    two = recover_roles(flat, rules_a, rules_b, chunk=100, threads=2)
    assert one[0].tolist() == two[0].tolist() and one[1] == two[1]
    for (options, _, _), roles, confidence, mapping in zip(cases, one[0].tolist(), one[1], expected, strict=True):
        follows = {letter: ROLES[r] if r >= 0 else None for (letter, _), r in zip(options, roles, strict=True)}
        assert follows == mapping.follows
        assert confidence == mapping.confidence
    assert recover_mapping(*cases[-2]).follows == {"A": "rule_a", "B": "distractor", "C": "rule_b"}


def test_a_chunk_too_large_for_the_keys_is_refused():
    with pytest.raises(ValueError, match="chunk must be"):
        recover_roles(["a", "b", "c"], ["a"], ["b"], chunk=1 << 21)


def test_batch_recovery_matches_the_definition_on_longer_texts_in_any_chunking():
    rnd = random.Random(11)
    words = ["遵守", "交通", "规则", "应该", "帮助", "询问", "摔倒", "Rule", "RULE", "ab", "Σσ", "ΣΑ", "İi", "_",
             "２０", "①", "，", "。", " ", "!?", "\ud800", "\U0001e900", "\U0001f600"]

    def text(most: int) -> str:
        return "".join(rnd.choice(words) for _ in range(rnd.randint(0, most)))

    rules = [text(12) for _ in range(40)] + ["", "。", "遵", "ab"]
    cases = []
    for _ in range(1500):
        rule_a, rule_b = rnd.choice(rules), rnd.choice(rules)
        pool = [text(15), text(3), rule_a + text(2), text(2) + rule_b, rule_a[::-1], "", "，。", "遵", rule_a]
        cases.append(([(letter, rnd.choice(pool)) for letter in "ABC"], rule_a, rule_b))
    expected = [_reference(*case) for case in cases]
    assert {m.source for m in expected} == {"none", "recovered"}
    flat = [t for options, _, _ in cases for _, t in options]
    rules_a = [a for _, a, _ in cases]
    rules_b = ["".join(list(b)) for _, _, b in cases]  # equal rules that are not the same objects
    results = [recover_roles(flat, rules_a, rules_b, chunk=chunk, threads=threads)
               for chunk, threads in ((1, 1), (7, 2), (500, 2), (50_000, 1))]
    for roles, confidence in results:
        assert roles.dtype == np.int8 and roles.shape == (len(cases), 3)
        assert roles.tolist() == results[0][0].tolist() and confidence == results[0][1]
    for (options, _, _), roles, confidence, mapping in zip(cases, *results[0], expected, strict=True):
        follows = {letter: ROLES[r] if r >= 0 else None for (letter, _), r in zip(options, roles.tolist(), strict=True)}
        assert (follows, confidence) == (mapping.follows, mapping.confidence)


def test_batch_recovery_of_nothing_and_of_texts_without_grams():
    roles, confidence = recover_roles([], [], [])
    assert roles.shape == (0, 3) and confidence == []
    roles, confidence = recover_roles(["", "。", " "] * 2, ["", "！"], ["，", ""], threads=2)
    assert roles.tolist() == [[-1, -1, -1]] * 2 and confidence == [0.0, 0.0]


def test_options_as_an_arrow_array_give_what_python_strings_give():
    rnd = random.Random(5)
    alphabet = list("遵守交通规则应该不是的人ABCabc12２ ，。ΣσςİＡ") + ["\U0001e900", "\U0001f600"]

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10)))

    rules = [text() for _ in range(30)] + ["", "Σ", "遵守"]
    n = 2000
    rule_a = np.array([rnd.randrange(len(rules)) for _ in range(n)])
    rule_b = np.array([rnd.randrange(len(rules)) for _ in range(n)])
    flat = [rnd.choice([text(), rules[rule_a[i // 3]] + text(), rules[rule_b[i // 3]]]) for i in range(3 * n)]
    expected = recover_roles(flat, [rules[i] for i in rule_a], [rules[i] for i in rule_b], chunk=300)
    padded = pa.array(["x", *flat]).slice(1)  # an array that starts past its buffers' start
    for options in (pa.array(flat), padded, pa.array(flat, pa.large_string())):
        roles, confidence = recover_roles_at(options, rules, rule_a, rule_b, chunk=300, threads=2)
        assert roles.tolist() == expected[0].tolist() and confidence.tolist() == expected[1]
    assert (expected[0] >= 0).any()


def test_confidences_are_rounded_as_python_rounds_them():
    rnd = np.random.default_rng(3)
    values = np.concatenate([rnd.random(200_000), (np.arange(20_000) + 0.5) / 1e4, np.arange(0, 1, 2.0 ** -14),
                             rnd.integers(0, 999, 50_000) / rnd.integers(1, 999, 50_000), [0.0, -0.0, 1e300, -1e-9]])
    expected = np.array([round(value, 4) for value in values.tolist()])
    assert _rounded(values).view(np.uint64).tolist() == expected.view(np.uint64).tolist()
