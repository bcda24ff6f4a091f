import numpy as np

from builders.stages.option_roles import Idf
from builders.stages.option_roles_columnar import _char_rows, _weights, score_roles
from builders.stages.option_roles_joint import (
    MAX_TOGETHER,
    Neighbours,
    agreement_feature,
    decide_together,
    neighbours,
    option_overlaps,
    resemblance,
    runs,
)


def _found(run: list[int], pairs: list[tuple[int, int, float]]) -> Neighbours:
    first, second, agreement = (np.array(column) for column in zip(*pairs, strict=True)) if pairs else \
        (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return Neighbours(np.array(run), first.astype(np.int64), second.astype(np.int64), agreement.astype(float))


def test_a_scene_alone_or_uncoupled_keeps_its_own_score():
    score = np.array([1.5, -0.5, 2.0])
    assert decide_together(score, _found([0, 0, 1], [(0, 1, 0.8)]), 0.0).tolist() == score.tolist()
    assert decide_together(score, _found([0, 1, 2], []), 5.0).tolist() == score.tolist()


def test_a_weak_scene_follows_the_neighbours_it_agrees_with():
    """Two scenes sure of their orientation, a third weakly the other way but whose options resemble theirs:
    deciding together turns the third, and the margins are half the best total's difference per scene."""
    score = np.array([4.0, 3.0, -0.5])
    found = _found([0, 0, 0], [(0, 2, 0.5), (1, 2, 0.4)])
    margin = decide_together(score, found, 2.0)
    assert margin[2] > 0 and margin[0] > 4.0 and margin[1] > 3.0
    # by hand for scene 2: best with z2 = +1 is z = (+, +, +): 4 + 3 - 0.5 + 2 * (0.5 + 0.4) = 8.3;
    # best with z2 = -1 is z = (+, +, -): 4 + 3 + 0.5 - 2 * (0.9) = 5.7
    assert np.isclose(margin[2], (8.3 - 5.7) / 2)


def test_scenes_that_disagree_push_each_other_apart():
    score = np.array([3.0, 0.2])
    margin = decide_together(score, _found([0, 0], [(0, 1, -0.6)]), 2.0)
    assert margin[1] < 0


def test_runs_hold_one_rule_pair_and_at_most_max_together_scenes():
    n = 2 * MAX_TOGETHER + 3
    pair = np.array([0] * (MAX_TOGETHER + 2) + [1] * (MAX_TOGETHER + 1))
    texts = ["守时赴约"] * (3 * n)
    owner, char = _char_rows(texts)
    weight = _weights(Idf(texts), char)
    w_option = np.bincount(owner, weight, minlength=3 * n).reshape(n, 3)
    run = runs(pair)
    found = neighbours(run, np.tile([0, 1], (n, 1)), option_overlaps(run, owner, char, weight, w_option))
    assert np.bincount(found.run).tolist() == [MAX_TOGETHER, 2, MAX_TOGETHER, 1]
    for run in np.unique(found.run):
        assert len(set(pair[found.run == run].tolist())) == 1
    assert (found.run[found.first] == found.run[found.second]).all() and len(found.first) > 0
    # identical options on both sides: each first option matches the other's first and second alike
    assert np.allclose(found.agreement, 0.0)


def test_agreement_is_positive_when_the_same_sides_resemble_each_other():
    texts = ["按约定准时交稿", "回家照顾生病的母亲", "你看天气",
             "准时赴约按约定见客户", "留在母亲身边照顾她", "你整理衣服"]
    owner, char = _char_rows(texts)
    weight = _weights(Idf(texts), char)
    w_option = np.bincount(owner, weight, minlength=6).reshape(2, 3)
    run = runs(np.array([0, 0]))
    overlaps = option_overlaps(run, owner, char, weight, w_option)
    found = neighbours(run, np.array([[0, 1], [0, 1]]), overlaps)
    assert found.first.tolist() == [0] and found.second.tolist() == [1] and found.agreement[0] > 0
    assert agreement_feature(found, np.array([1.0, -1.0])).tolist() == [-found.agreement[0], found.agreement[0]]
    # the asides resemble nothing in the other scene; each rule option resembles its counterpart
    alike = resemblance(overlaps, 2)
    assert (alike[:, 2] == 0).all() and (alike[:, :2] > 0).all()


def test_the_scorer_lets_a_pair_s_scenes_decide_together():
    """End to end: the same scenes scored with and without the coupling; with it, every scene of the pair
    has a margin no smaller in the direction its neighbours agree on."""
    rule_a, rule_b = "言而有信的人更值得他人信任", "子女应该多陪伴生病的父母"
    scenes = ["你答应编辑今晚交稿，父亲突然发烧住院。你该如何选择？",
              "你约好周六给客户演示方案，母亲却摔伤了腿。你该如何选择？",
              "你答应同学晚上帮他搬家，奶奶打电话说不舒服。你该如何选择？"]
    options = ["熬夜写完稿子，按约定交给编辑", "赶去医院陪着父亲", "你把阳台上的花浇了一遍",
               "按约定准时去给客户演示", "留在家里陪着母亲", "你查了查明天的天气",
               "照约定去帮同学搬家", "回家陪奶奶看病", "你整理了一下书桌"]
    idf = Idf(scenes + options)
    args = (scenes, options, [rule_a] * 3, [rule_b] * 3, [["信守承诺"]] * 3, [["关爱他人"]] * 3, idf)
    from dataclasses import replace

    from builders.stages.option_roles import WEIGHTS

    apart = score_roles(*args, replace(WEIGHTS, together=0.0))
    together = score_roles(*args)
    assert len(set(together.neighbours.run.tolist())) == 1
    assert (together.neighbours.agreement > 0).all()
    assert (together.pair_margin >= apart.pair_margin).all() and (together.pair_margin > apart.pair_margin).any()
    assert together.roles.tolist() == [[0, 1, 2]] * 3
