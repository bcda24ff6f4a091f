import random
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from builders.stages.ids import (
    BackgroundIds,
    id_numbers,
    sort_indices,
    stable_id,
    stable_ids,
    stable_ids_of_parts,
    stable_ids_under,
)


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


def test_background_ids_are_those_of_stable_ids_whoever_hashes_them():
    pick = random.Random(5)
    keys = ["", "a", "尊重", "x\x00y", "ＡＩ说"] + [
        "".join(pick.choice("的地得是不人心。，ab ") for _ in range(pick.randrange(0, 40))) for _ in range(2000)]
    column = pa.array(keys, pa.string())
    sliced = column.slice(3, 1500)
    expected = stable_ids("rule", keys)
    assert BackgroundIds("rule", column).result().to_pylist() == expected  # the helper process
    assert BackgroundIds("rule", column, background=False).result().to_pylist() == expected
    assert BackgroundIds("rule", sliced).result().to_pylist() == expected[3:1503]
    assert BackgroundIds("rule", pa.array(keys, pa.large_string())).result().to_pylist() == expected
    assert BackgroundIds("rule", pa.array([], pa.string())).result().to_pylist() == []
    # A helper that cannot start, or that fails, leaves the hashing to this process.
    assert BackgroundIds("rule", sliced, interpreter="/nonexistent/python").result().to_pylist() == expected[3:1503]
    assert BackgroundIds("rule", sliced, interpreter=shutil.which("false")).result().to_pylist() == expected[3:1503]


def test_background_ids_numbers_are_those_their_hex_digits_spell():
    keys = pa.array([f"规则{i}" for i in range(3000)] + ["", "a"], pa.string())
    spelled = np.array([int(i[-16:], 16) for i in stable_ids("rule", keys.to_pylist())], np.uint64)
    for hashed in (BackgroundIds("rule", keys), BackgroundIds("rule", keys, background=False),
                   BackgroundIds("rule", keys, interpreter=shutil.which("false"))):
        assert hashed.numbers().dtype == np.uint64
        np.testing.assert_array_equal(hashed.numbers(), spelled)
        np.testing.assert_array_equal(hashed.numbers(), id_numbers(hashed.result()))


def test_background_ids_refuse_null_keys():
    with pytest.raises(ValueError, match="null"):
        BackgroundIds("rule", pa.array(["a", None]))


def test_sort_indices_of_ids_are_arrows_whatever_the_column_holds():
    pick = random.Random(9)
    ids = stable_ids("rule", [str(i) for i in range(3000)]) + ["rule-0000000000000000", "rule-ffffffffffffffff"]
    columns = [
        ids, ids[:1], ids + ids[:50],  # ties keep their order
        ids[:-1] + ["rule-FFFFFFFFFFFFFFFF"], ids[:-1] + ["rulf-0000000000000000"],  # not all lowercase hex, two heads
        ids + ["rule-0"], ["b", "a", "c"], [], ids[:10] + [None],
        [f"{pick.choice('ab')}{pick.randrange(10**15, 10**16)}ab" for _ in range(500)],  # hex tail, other digits
    ]
    for column in columns:
        array = pa.array(column, pa.string())
        assert sort_indices(array).tolist() == pc.sort_indices(array).to_numpy().tolist(), column[:3]
    array = pa.array(ids, pa.string()).slice(100, 2000)
    assert sort_indices(array).tolist() == pc.sort_indices(array).to_numpy().tolist()
    large = pa.array(ids, pa.large_string())
    assert sort_indices(large).tolist() == pc.sort_indices(large).to_numpy().tolist()
