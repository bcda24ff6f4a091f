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


def test_observe_numbers_the_labels_of_parsed_replies_in_one_call(tmp_path, monkeypatch):
    from pathlib import Path

    import pyarrow as pa

    from builders.configs.rules import GENERATED_CLASSIFIED
    from builders.stages.observations import observe
    from builders.stages.readers.layout import Artifact
    from builders.stages.readers.records import ColumnTable

    replies = ["层面：社会\n核心价值：友善\n衍生价值：关爱他人", "层面：个人\n核心价值：诚信\n衍生价值：言行一致",
               "层面：国家\n核心价值：不存在的价值\n衍生价值："] * 40
    table = pa.table({"rot": [f"第{i}条规则应该友好" for i in range(len(replies))], "derived_values": replies})
    artifact = Artifact(GENERATED_CLASSIFIED, Path(tmp_path / "gen.csv"), "rule_generation/6_final/gen.csv")
    taxonomy = load_taxonomy()
    codes, calls = ClosureCodes(taxonomy), []
    numbers = codes.numbers
    monkeypatch.setattr(codes, "numbers", lambda sets: calls.append(len(sets)) or numbers(sets))
    observed = observe(artifact, ColumnTable(table, np.arange(2, len(replies) + 2)), 0, ValueNormalizer(taxonomy),
                       codes, "llm")
    assert calls == [len(replies) * 2 // 3]  # one call for the file's parsed rows, not one per row
    values = observed.column("values").to_pylist()
    assert values[:3] == [0, 1, None] and values[3:6] == [0, 1, None] and len(codes) == 2
    assert observed.column("reject_reason").to_pylist()[2].startswith("unknown core value")
    assert codes.closure(0).derived_values == ["关爱他人"] and codes.closure(1).core_values == ["诚信"]
