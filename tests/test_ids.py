import random

from builders.ids import stable_id, stable_ids, stable_ids_of_parts, stable_ids_under


def test_stable_id_is_a_prefix_and_sixteen_hex_digits_of_the_parts():
    one = stable_id("rule", "尊重他人")
    assert one.startswith("rule-") and len(one) == 21 and int(one[5:], 16) >= 0
    assert one == stable_id("rule", "尊重他人") != stable_id("rule", "尊重他人。")
    assert stable_id("pair", "a", "b") != stable_id("pair", "b", "a")


def test_batched_ids_are_those_of_stable_id():
    pick = random.Random(3)
    keys = ["", "a", "尊重", "x\x00y", "ＡＩ说"] + [
        "".join(pick.choice("的地得是不人心。，ab ") for _ in range(pick.randrange(0, 12))) for _ in range(300)]
    assert stable_ids("rule", keys) == [stable_id("rule", key) for key in keys]
    heads = [("rule-1", "rule-2"), ("rule-2", "rule-1"), ("", "规则")]
    head_of = [pick.randrange(len(heads)) for _ in keys]
    assert stable_ids_under("dilemma", heads, head_of, keys) == [
        stable_id("dilemma", *heads[h], key) for h, key in zip(head_of, keys, strict=True)]
    assert stable_ids_under("dilemma", heads, [], []) == []
    parts = [("dilemma-0123456789abcdef", "gpt-4o", "1"), ("场景", "", "5"), ("a\x00b",), ("", "")]
    assert stable_ids_of_parts("eval", parts) == [stable_id("eval", *p) for p in parts]
