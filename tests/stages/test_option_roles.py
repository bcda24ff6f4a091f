"""The text evidence for option roles: distractor on its own, rule options jointly, calibrated confidence."""

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from builders.stages import option_roles
from builders.stages.option_mapping import ROLES
from builders.stages.option_roles import Idf, calibrated, value_lexicon
from builders.stages.option_roles_columnar import assign_roles_many, score_roles

RULE_A, VALUES_A = "言而有信的人更值得他人信任", ["信守承诺"]
RULE_B, VALUES_B = "子女应该多陪伴生病的父母", ["关爱他人"]
SCENE = "你答应编辑今晚交稿，父亲突然发烧住院需要人照看。你该如何选择？"


def _idf(*texts):
    return Idf([SCENE, *texts])


@dataclass(frozen=True)
class _One:
    follows: tuple
    confidence: float
    distractor_margin: float
    pair_margin: float


def assign_roles(scene, options, rule_a, rule_b, values_a, values_b, idf, weights=option_roles.WEIGHTS):
    """One item through the scorer the build uses, read back as role names."""
    found = score_roles([scene], options, [rule_a], [rule_b], [values_a], [values_b], idf, weights)
    return _One(tuple(ROLES[r] if r >= 0 else None for r in found.roles[0].tolist()), float(found.confidence[0]),
                float(found.distractor_margin[0]), float(found.pair_margin[0]))


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_paraphrasing_options_get_their_roles_in_any_letter_order(order):
    by_role = ["熬夜把稿子写完，按约定交给编辑", "赶去医院守在父亲病床边照顾他", "你把阳台上的花浇了一遍"]
    options = [by_role[i] for i in order]
    roles = assign_roles(SCENE, options, RULE_A, RULE_B, VALUES_A, VALUES_B, _idf(*options))
    assert list(roles.follows) == [("rule_a", "rule_b", "distractor")[i] for i in order]
    assert 0 < roles.confidence < 1


def test_the_distractor_is_kept_when_the_rule_options_cannot_be_told_apart():
    options = ["去做那件事", "你看了看窗外的云", "去做那件事情"]
    roles = assign_roles(SCENE, options, RULE_A, RULE_B, VALUES_A, VALUES_B, _idf(*options))
    assert roles.follows == (None, "distractor", None)
    assert roles.pair_margin < option_roles.WEIGHTS.pair_margin
    assert roles.confidence == calibrated("distractor", roles.distractor_margin)


def test_nothing_is_named_when_no_option_stands_apart():
    options = ["你看了看窗外", "你看了看窗外的云", "你看了看窗外的树"]
    roles = assign_roles(SCENE, options, RULE_A, RULE_B, VALUES_A, VALUES_B, _idf(*options))
    assert roles.follows == (None, None, None) and roles.confidence == 0.0


def test_a_refusal_answers_the_rule_that_forbids():
    scene = "期末考试时，好朋友悄悄递来纸条向你要答案。你该如何选择？"
    options = ["你想起明天要交水费", "不理会纸条，认真做自己的卷子", "把答案写在纸条上传给好友"]
    roles = assign_roles(scene, options, "考试作弊是不诚实的行为", "朋友之间应该互相帮助", ["真诚无欺"], ["人际关系"],
                         Idf([scene, *options]))
    assert roles.follows == ("distractor", "rule_a", "rule_b")


def test_confidence_never_falls_as_the_margin_grows():
    for decision, bins in option_roles.CALIBRATION.items():
        values = [calibrated(decision, low) for low, _ in bins]
        assert values == sorted(values) and all(0 < v < 1 for v in values)
        assert calibrated(decision, -1.0) == 0.0


def test_every_derived_value_has_a_lexicon_led_by_its_name():
    from builders.taxonomy import load_taxonomy

    lexicon = value_lexicon()
    for value in load_taxonomy().derived_values:
        assert lexicon[value["zh"]][0] == value["zh"]


def test_idf_counts_each_text_once_per_character():
    idf = Idf(["好好", "好", "坏"])
    assert idf("好") < idf("坏") < idf("从未见过")


def test_the_shipped_weights_thresholds_and_confidences_are_what_the_development_sets_choose():
    """A guard on the fitted scorer: the pair weights are the logistic regression fitted on the development
    sets, the distractor's scale the softmax temperature fitted there, and the thresholds and the calibration
    in the code are the ones the stated rule picks there, the pair's on margins of models fitted without each
    decision's rule pair (never the held-out set; its figures are in benchmarks/README.md); every decision
    taken above them there is right at least 98% of the time."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import option_roles_fit
    import option_roles_sets

    assert option_roles_fit.fitted_weights() == option_roles.WEIGHTS.pair
    assert option_roles_fit.fitted_distractor_scale() == option_roles.WEIGHTS.distractor_scale
    chosen = option_roles_sets.choose_thresholds()
    assert chosen == {"distractor": option_roles.WEIGHTS.distractor_margin, "pair": option_roles.WEIGHTS.pair_margin}
    table = option_roles_sets.calibration(option_roles_sets.TUNING, chosen, cross_validated=True)
    assert {kind: tuple((r["from"], r["confidence"]) for r in rows) for kind, rows in table.items()} == \
        option_roles.CALIBRATION
    found = option_roles_sets.decisions(option_roles_sets.TUNING, cross_validated=True)
    for kind in ("distractor", "pair"):
        above = [right for k, margin, right in found if k == kind and margin >= chosen[kind]]
        assert len(above) > 50 and sum(above) >= 0.98 * len(above)


def test_the_pair_fit_recovers_weights_that_separate_the_rows():
    """The fit itself: on rows labelled by a known weighting, it finds weights of that direction, and
    negating every row (the same decision with the options swapped) negates nothing in the weights."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import option_roles_fit

    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 3))
    truth = np.array([2.0, 0.0, -1.0])
    labels = np.where(features @ truth + rng.normal(scale=0.3, size=400) > 0, 1.0, -1.0)
    weights = option_roles_fit.fit(features, labels)
    assert weights[0] > 1.0 and abs(weights[1]) < 0.5 and weights[2] < -0.5
    swapped = option_roles_fit.fit(np.concatenate([features, -features]), np.concatenate([labels, -labels]))
    assert np.allclose(swapped / np.linalg.norm(swapped), weights / np.linalg.norm(weights), atol=0.05)


def test_a_rule_pair_gets_the_same_roles_alone_or_among_many():
    """The build scores every item of a config in one call, experiment-2 scenes and dilemmas alike: the scenes
    of one rule pair are decided together, but their text's evidence must not depend on which other rule pairs
    share the call (only the IDF, given, and the letter order of the whole call, off here, are shared)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import option_roles_sets

    from builders.stages.parsers.blobs import split_options

    items = [(r["scene"], [t for _, t in split_options(r["options"])], r["rule_a"], r["rule_b"], r["derived_a"],
              r["derived_b"]) for r in option_roles_sets.read_set("dev")]
    idf = Idf([i[0] for i in items] + [t for i in items for t in i[1]])

    def scored(chosen: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        return assign_roles_many([i[0] for i in chosen], [t for i in chosen for t in i[1]], [i[2] for i in chosen],
                                 [i[3] for i in chosen], [i[4] for i in chosen], [i[5] for i in chosen], idf,
                                 replace(option_roles.WEIGHTS, letter_order=False))

    roles, confidence = scored(items)
    pairs: dict[tuple[str, str], list[int]] = {}
    for at, item in enumerate(items):
        pairs.setdefault((item[2], item[3]), []).append(at)
    for members in pairs.values():
        alone_roles, alone_confidence = scored([items[at] for at in members])
        assert roles[members].tolist() == alone_roles.tolist()
        assert confidence[members].tolist() == alone_confidence.tolist()
    assert (roles >= 0).sum() > 0.6 * roles.size  # enough roles given for the comparison to mean something


@pytest.mark.parametrize("item", [
    ("", ["", "", ""], RULE_A, RULE_B, [], []),
    ("no Chinese here", ["yes", "no", "maybe"], "be kind", "be fair", [], []),
    (SCENE, ["你看了看窗外", "你看了看窗外", "你看了看窗外"], RULE_A, RULE_B, VALUES_A, VALUES_B),
])
def test_options_without_evidence_get_no_role(item):
    roles = assign_roles(*item, Idf([item[0], *item[1]]))
    assert roles.follows == (None, None, None) and roles.confidence == 0.0


def test_a_scene_without_punctuation_still_leans_each_option_to_its_side():
    options = ["按时交稿给编辑", "去医院照顾父亲", "你去散步"]
    roles = assign_roles("你答应编辑今晚交稿父亲突然发烧住院", options, RULE_A, RULE_B, VALUES_A, VALUES_B,
                         _idf(*options))
    assert roles.follows == ("rule_a", "rule_b", "distractor")


def test_a_scene_clause_leans_by_the_rules_characters_not_by_their_lexicon():
    """「照顾」 is in the lexicon of rule B's value, but the clause shares no character with either rule: it says
    which situation an option is about, not which rule that situation belongs to."""
    scene, options = "邻居来电话说要照顾，窗外天晴。", ["去照顾邻居", "按时交稿", "你去散步"]
    assert "照顾" in value_lexicon()["关爱他人"]
    found = score_roles([scene], options, [RULE_A], [RULE_B], [VALUES_A], [VALUES_B], Idf([scene, *options]),
                        option_roles.WEIGHTS)
    assert found.pair_features[0][option_roles.PAIR_FEATURES.index("scene_hop")] == 0.0
    echoing, echoed = "邻居来电话说要照顾，父母生病了。", ["去照顾生病的父母", "按时交稿", "你去散步"]
    leaning = score_roles([echoing], echoed, [RULE_A], [RULE_B], [VALUES_A], [VALUES_B], Idf([echoing, *echoed]),
                          option_roles.WEIGHTS)  # the second clause shares 父母, 生病 with rule B
    assert leaning.pair_features[0][option_roles.PAIR_FEATURES.index("scene_hop")] != 0.0


def test_bigrams_of_many_texts_are_the_same_with_one_key_or_two(monkeypatch):
    from builders.stages import option_roles_text_rows as text_rows

    texts = ["你好，世界你好", "", "abc", "好", "世界和平", "你好，世界你好"]
    one = text_rows.bigram_rows(texts)
    monkeypatch.setattr(text_rows, "ONE_KEY_TEXTS", 0)
    two = text_rows.bigram_rows(texts)
    assert [a.tolist() for a in one] == [a.tolist() for a in two]
    pairs = {(o, (g >> 21, g & 0x1FFFFF)) for o, g in zip(*(a.tolist() for a in one), strict=True)}
    assert (0, (ord("好"), ord("世"))) in pairs and not any(o in (1, 2, 3) for o, _ in pairs)
    assert len([o for o, _ in pairs if o == 0]) == 4


def test_a_development_set_builds_from_its_raw_tree_and_is_scored(tmp_path):
    """The benchmark's path end to end on the first development set: a plain build of the raw tree it writes
    (license and all) parses every dilemma, and the published roles are scored against the gold."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import option_roles_sets

    found = option_roles_sets.measure("dev", tmp_path / "dev")
    assert found["published"] == found["dilemmas"] == 72 and not found["missing"]
    assert found["letters"] == 216 and found["covered"] > 0.5 * found["letters"]
    assert found["right"] >= 0.98 * found["covered"]


@pytest.mark.parametrize(("rule_a", "rule_b", "sign"), [
    ("工作中发现的问题要如实上报", "同事之间要互相体谅", 1),
    ("同事之间要互相体谅", "工作中发现的问题要如实上报", -1),
    ("每天都要按时吃早饭", "周末要早点起床", 0),
])
def test_an_option_takes_the_stance_of_the_rule_it_follows(rule_a, rule_b, sign):
    """Strict against lenient (schemas/stance_lexicon.json): the option that registers the fault takes the
    stance of the rule that asks to report, the one that gives a second chance that of the rule that asks for
    leeway; rules that take neither stance say nothing."""
    scene = "质检员老韩发现新人装错了一批零件，新人求他先别声张。"
    options = ["照规定登记这批零件", "给新人一个返工的机会", "你看了看窗外的云"]
    found = score_roles([scene], options, [rule_a], [rule_b], [[]], [[]], _idf(scene, *options))
    assert found.roles[0, 2] == 2  # the distractor is the third option; the first of the other two is option A
    assert np.sign(found.pair_features[0, option_roles.PAIR_FEATURES.index("stance")]) == sign
