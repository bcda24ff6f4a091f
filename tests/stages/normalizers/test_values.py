import random

import pyarrow as pa
import pytest

from builders.stages.normalizers.values import ValueNormalizer
from builders.taxonomy import UnknownValueError, load_taxonomy


def _row_by_row(normalize: ValueNormalizer, cells: list[tuple]) -> list:
    outcomes = []
    for triple in cells:
        try:
            outcomes.append(normalize(*triple))
        except UnknownValueError as err:
            outcomes.append(err)
    return outcomes


def _same(a: object, b: object) -> bool:
    if isinstance(a, UnknownValueError) or isinstance(b, UnknownValueError):
        return type(a) is type(b) and (a.tier, a.name, str(a)) == (b.tier, b.name, str(b))
    return a == b


def test_columns_gives_what_each_row_gives():
    taxonomy = load_taxonomy()
    spellings = {tier: [spelling for entry in taxonomy.data[tier]
                        for spelling in (entry["zh"], entry["en"], *entry["aliases"])]
                 for tier in ("dimensions", "core_values", "derived_values")}
    pick = random.Random(7)

    def cell(tier: str) -> str | None:
        roll = pick.random()
        if roll < 0.05:
            return None
        if roll < 0.08:
            return pick.choice(["", " ", "、", " ， "])
        names = [pick.choice(spellings[tier]) for _ in range(pick.randint(1, 3))]
        if roll < 0.11:
            names.append(pick.choice(["不存在的价值", "unknown value"]))
        separators = ["、", "，", ",", "/", "／", ";", "；", " 、 "]
        return "".join(name + pick.choice(separators) for name in names[:-1]) + f" {names[-1]} "

    cells = [tuple(cell(tier) for tier in ("dimensions", "core_values", "derived_values")) for _ in range(3000)]
    expected = _row_by_row(ValueNormalizer(taxonomy), cells)
    got = ValueNormalizer(taxonomy).columns(*(pa.array(column, pa.string()) for column in zip(*cells, strict=True)))
    assert sum(isinstance(o, UnknownValueError) for o in expected) > 100
    assert len(got) == len(expected)
    assert all(_same(a, b) for a, b in zip(got, expected, strict=True))
    errors = ValueNormalizer(taxonomy).errors(*(pa.array(column, pa.string()) for column in zip(*cells, strict=True)))
    assert sorted(errors) == [i for i, o in enumerate(expected) if isinstance(o, UnknownValueError)]
    assert all(_same(errors[i], expected[i]) for i in errors)


def test_columns_read_in_chunks_give_the_same_outcomes():
    taxonomy = load_taxonomy()
    pick = random.Random(5)
    names = {tier: [*taxonomy.names(tier), "不存在", " ", ""] for tier in ("dimensions", "core_values",
                                                                                    "derived_values")}
    columns = [[None if pick.random() < 0.05 else "、".join(pick.sample(names[tier], pick.randint(0, 3)))
                for _ in range(2000)] for tier in names]
    whole = ValueNormalizer(taxonomy).columns(*(pa.array(c, pa.string()) for c in columns))
    chunked = ValueNormalizer(taxonomy).columns(*(pa.chunked_array([c[:700], c[700:701], c[701:]], pa.string())
                                                  for c in columns))
    assert any(isinstance(o, UnknownValueError) for o in whole)
    assert all(_same(a, b) for a, b in zip(chunked, whole, strict=True)) and len(chunked) == len(whole)
    assert ValueNormalizer(taxonomy).columns(*(pa.chunked_array([], pa.string()) for _ in range(3))) == []


def test_columns_shares_closures_with_the_row_path():
    normalize = ValueNormalizer(load_taxonomy())
    row = normalize("个人", "爱国", None)
    got = normalize.columns(pa.array(["个人", "个人 "]), pa.chunked_array([["爱国"], ["爱国、"]]),
                            pa.array([None, ""], pa.string()))
    assert got[0] is row and got[1] is row


@pytest.mark.parametrize("tier_cells, tier", [
    (("不存在", "爱国", None), "dimensions"),
    (("个人", "爱国、不存在", "也不存在"), "core_values"),
])
def test_columns_names_the_first_unknown_tier(tier_cells, tier):
    got = ValueNormalizer(load_taxonomy()).columns(*(pa.array([c], pa.string()) for c in tier_cells))
    assert isinstance(got[0], UnknownValueError) and got[0].tier == tier


def test_columns_of_no_rows():
    assert ValueNormalizer(load_taxonomy()).columns(*(pa.array([], pa.string()) for _ in range(3))) == []
