import pyarrow as pa

from builders.build import collect
from builders.resources import sample_raw_dir


def test_positions_of_many_texts_are_those_of_each_text():
    index = collect(sample_raw_dir()).rule_index()
    rules = index._rules.to_pylist()
    texts = [r["rule"] for r in rules] + [r["original_rule"] for r in rules]
    texts += [f"  {t}。" for t in texts[:20]] + [t.replace("，", ",") for t in texts[:20]]
    texts += ["", "不在规则表中的句子", "。", "Be kind.", None]
    found = index.positions_of(pa.array(texts, pa.string())).tolist()
    expected = [-1 if (at := index.position(t)) is None else at for t in texts]
    assert found == expected
    assert sum(at >= 0 for at in found) > len(rules)


def test_positions_of_texts_seen_before_are_the_same():
    index = collect(sample_raw_dir()).rule_index()
    texts = [r["rule"] for r in index._rules.to_pylist()][:30] + ["不在规则表中的句子", "", None]
    first = index.positions_of(pa.array(texts[::2], pa.string())).tolist()
    again = index.positions_of(pa.array(texts, pa.string())).tolist()
    assert again[::2] == first
    assert again == [-1 if (at := index.position(t)) is None else at for t in texts]
