import random

import numpy as np

from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.observations import ClosureCodes
from builders.taxonomy import TIERS, load_taxonomy


def _random_label_sets(count: int, seed: int) -> list[tuple[tuple[str, ...], ...]]:
    taxonomy, pick = load_taxonomy(), random.Random(seed)
    return [tuple(tuple(pick.sample(taxonomy.names(tier), pick.choice([0, 1, 1, 2, 3]))) for tier in TIERS)
            for _ in range(count)]


def test_closure_codes_number_each_combination_once_and_list_what_close_gives():
    taxonomy = load_taxonomy()
    normalize, codes = ValueNormalizer(taxonomy), ClosureCodes(taxonomy)
    sets = _random_label_sets(600, seed=11)
    bits = np.array([normalize.bits(*("、".join(labels) for labels in row)) for row in sets], np.uint64)
    first = codes.numbers(bits[:300])
    numbers = np.concatenate([first, codes.numbers(bits[300:])])
    assert np.array_equal(codes.numbers(bits), numbers)  # numbered once, whichever call meets them first
    distinct = {tuple(b) for b in bits.tolist()}
    assert len(codes) == len(distinct) and sorted(set(numbers.tolist())) == list(range(len(distinct)))
    expected = [taxonomy.close(*(list(labels) for labels in row)) for row in sets]
    table = codes.table()
    for row, number in enumerate(numbers.tolist()):
        assert codes.closure(number) == expected[row]
        assert [table.column(tier)[number].as_py() for tier in TIERS] == [getattr(expected[row], t) for t in TIERS]
    changed = {int(n) for n, c in zip(numbers, expected, strict=True) if c.added or c.dropped}
    assert changed and set(codes.changed()) == changed


def test_closure_codes_without_combinations():
    codes = ClosureCodes(load_taxonomy())
    assert codes.numbers(np.zeros((0, 3), np.uint64)).tolist() == [] and codes.changed() == []
    assert codes.table().num_rows == 0 and codes.table().column_names == list(TIERS)
