"""Stable ids: the batch helpers hash exactly what :func:`stable_id` hashes."""

from builders.ids import stable_id, stable_ids, stable_ids_of_parts


def test_batches_give_the_ids_of_stable_id():
    parts = [("dilemma-0123456789abcdef", "gpt-4o", "1"), ("场景", "", "5"), ("a\x00b",), ("", "")]
    assert stable_ids_of_parts("eval", parts) == [stable_id("eval", *p) for p in parts]
    assert stable_ids("rule", ["应该节约粮食", ""]) == [stable_id("rule", "应该节约粮食"), stable_id("rule", "")]
