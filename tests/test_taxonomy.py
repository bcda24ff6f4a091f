import random

import numpy as np
import pytest

from builders.taxonomy import TIERS, UnknownValueError, load_taxonomy


def test_framework_shape_and_upstream_order():
    tax = load_taxonomy()
    assert len(tax.names("dimensions")) == 3
    assert tax.names("core_values") == ["富强", "民主", "文明", "和谐", "自由", "平等", "公正", "法治",
                                        "爱国", "敬业", "诚信", "友善"]
    derived = tax.derived_values
    assert [d["id"] for d in derived] == list(range(1, 51))
    assert derived[32]["zh"] == "法治教育" and derived[32]["core_value"] == "法治"
    per_dimension = {dim: sum(d["dimension"] == dim for d in derived) for dim in tax.names("dimensions")}
    assert per_dimension == {"国家": 15, "社会": 18, "个人": 17}


@pytest.mark.parametrize(("tier", "spelling", "canonical"), [
    ("derived_values", "文化素养", "文化修养"),
    ("derived_values", "法治执政", "依法执政"),
    ("derived_values", "严格执法", "严格守法"),
    ("derived_values", "法制教育", "法治教育"),
    ("derived_values", "自由行为", "行为自由"),
    ("derived_values", "Maintaining national unit", "维护国家"),
    ("derived_values", "caring for others", "关爱他人"),
    ("core_values", "Civility", "文明"),
    ("core_values", "Friendship", "友善"),
    ("core_values", "Rule of Law", "法治"),
    ("dimensions", "Nation", "国家"),
    ("dimensions", "Society", "社会"),
    ("dimensions", "Person", "个人"),
    ("dimensions", "国家层面", "国家"),
    ("dimensions", "Personal", "个人"),
])
def test_aliases_resolve_to_canonical_names(tier, spelling, canonical):
    assert load_taxonomy().canonical(tier, spelling) == canonical


def test_unknown_label_is_an_error_naming_its_tier():
    with pytest.raises(UnknownValueError) as err:
        load_taxonomy().canonical("derived_values", "勤俭节约")
    assert err.value.tier == "derived_values" and "勤俭节约" in str(err.value)
    with pytest.raises(UnknownValueError):
        load_taxonomy().canonical("core_values", "高质量发展")  # a derived value is not a core value


def test_closure_adds_parents_of_derived_values():
    closed = load_taxonomy().close([], [], ["法治教育", "尊重他人"])
    assert closed.core_values == ["法治", "友善"]
    assert closed.dimensions == ["社会", "个人"]
    assert set(closed.added) == {"法治", "友善", "社会", "个人"}
    assert closed.dropped == []


def test_closure_keeps_core_value_without_derived_value():
    closed = load_taxonomy().close(["国家"], ["富强", "文明"], ["文明礼仪"])
    assert closed.core_values == ["富强", "文明"]
    assert closed.derived_values == ["文明礼仪"]
    assert closed.added == []


def test_closure_drops_dimension_contradicting_the_values():
    closed = load_taxonomy().close(["社会", "个人"], ["文明"], [])
    assert closed.dimensions == ["国家"]
    assert closed.dropped == ["个人", "社会"]


def test_closure_keeps_dimensions_when_no_core_value_is_listed():
    closed = load_taxonomy().close(["社会"], [], [])
    assert closed.dimensions == ["社会"] and closed.dropped == []


def test_close_bits_is_close_of_each_set():
    taxonomy = load_taxonomy()
    pick = random.Random(3)
    names = {tier: taxonomy.names(tier) for tier in TIERS}
    sets = [tuple(pick.sample(names[tier], pick.choice([0, 0, 1, 1, 2, 3])) for tier in TIERS) for _ in range(2000)]
    sets += [((), (), ()), (tuple(names["dimensions"]), tuple(names["core_values"]), tuple(names["derived_values"]))]
    bits = [np.array([sum(1 << names[tier].index(n) for n in labels[t]) for labels in sets], np.uint64)
            for t, tier in enumerate(TIERS)]
    got = taxonomy.closures(taxonomy.close_bits(*bits))
    expected = [taxonomy.close(*(list(labels) for labels in row)) for row in sets]
    assert sum(bool(c.dropped) for c in expected) > 50 and sum(bool(c.added) for c in expected) > 500
    assert got == expected
