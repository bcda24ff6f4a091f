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


def test_the_dilemmas_section_counts_letters_with_a_role():
    from builders.release.card import _letters_with_role

    option = {"letter": "A", "text": "x", "follows": None}
    table = pa.table({"options": [[option, {**option, "follows": "distractor"}, option],
                                  [{**option, "follows": "rule_a"}] * 3]})
    assert _letters_with_role(table) == "Option letters with a known role: 4 of 6 (66.7%)."


def test_the_dilemmas_section_says_where_the_distractor_stands():
    from builders.release.card import _distractor_letters

    def item(distractor_at: str | None) -> list[dict]:
        return [{"letter": letter, "text": "x", "follows": "distractor" if letter == distractor_at else None}
                for letter in "ABC"]

    table = pa.table({"options": [item("C"), item("C"), item("C"), item("A"), item(None)]})
    assert _distractor_letters(table) == \
        "Where the distractor stands, in the 4 dilemmas whose distractor is known: A 25.0%, C 75.0%."
    assert _distractor_letters(pa.table({"options": [item(None)]})) == "No dilemma's distractor is known."
