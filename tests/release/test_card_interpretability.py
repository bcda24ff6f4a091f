import pyarrow as pa

from builders.release.card import interpretability_statistics


def test_each_models_interpretable_share_and_its_sources():
    evaluations = pa.table({
        "item_type": ["dilemma"] * 5 + ["scenario"],
        "model": ["m1", "m1", "m1", "m1", "m2", "m1"],
        "item_id": ["d1", "d2", "d3", "d4", "d1", "s1"],
        "follows": ["rule_a", "distractor", None, "rule_b", None, "rule_a"],
    })
    items = pa.table({"id": ["d1", "d2", "d3", "d4", "s1"],
                      "mapping_source": ["recovered", "model", "none", "recovered", "raw"]})
    text = interpretability_statistics(evaluations, items)
    assert "| dilemma | m1 | 4 | 3 | 75% | 0% | 67% | 33% |" in text
    assert "| dilemma | m2 | 1 | 0 | 0% | – | – | – |" in text
    assert "| scenario | m1 | 1 | 1 | 100% | 100% | 0% | 0% |" in text
