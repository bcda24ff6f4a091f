from dataclasses import replace

import numpy as np

from builders.stages.option_roles import WEIGHTS, Idf
from builders.stages.option_roles_across_scenes import MAX_COMPARED, option_overlaps, resemblance, runs
from builders.stages.option_roles_columnar import score_roles
from builders.stages.option_roles_text_rows import char_rows, idf_weights


def _options(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    owner, char = char_rows(texts)
    weight = idf_weights(Idf(texts), char)
    return owner, char, weight, np.bincount(owner, weight, minlength=len(texts)).reshape(-1, 3)


def test_runs_hold_one_rule_pair_and_at_most_max_compared_scenes():
    pair = np.array([0] * (MAX_COMPARED + 2) + [1] * (MAX_COMPARED + 1))
    run = runs(pair)
    assert np.bincount(run).tolist() == [MAX_COMPARED, 2, MAX_COMPARED, 1]
    for value in np.unique(run):
        assert len(set(pair[run == value].tolist())) == 1
    interleaved = runs(np.array([3, 7, 3, 7]))
    assert interleaved[0] == interleaved[2] != interleaved[1] == interleaved[3]


def test_overlaps_join_only_options_of_different_scenes_of_one_run():
    texts = ["按约定准时交稿", "回家照顾生病的母亲", "窗外下着雨",
             "准时赴约按约定见客户", "留在母亲身边照顾她", "你整理衣服",
             "按约定准时交货", "照顾母亲", "天晴了"]
    owner, char, weight, w_option = _options(texts)
    overlaps = option_overlaps(np.array([0, 0, 1]), owner, char, weight, w_option)
    pairs = set(zip(overlaps["option"].to_list(), overlaps["option_j"].to_list(), strict=True))
    assert (0, 3) in pairs and (1, 4) in pairs
    assert all(a // 3 == 0 and b // 3 == 1 for a, b in pairs)  # the third scene is in a run of its own
    assert ((overlaps["overlap"] > 0) & (overlaps["overlap"] <= 1 + 1e-9)).all()


def test_a_rule_s_options_resemble_the_other_scenes_options_and_the_distractor_nothing():
    texts = ["按约定准时交稿", "回家照顾生病的母亲", "窗外下着雨",
             "准时赴约按约定见客户", "留在母亲身边照顾她", "你整理衣服"]
    owner, char, weight, w_option = _options(texts)
    alike = resemblance(option_overlaps(runs(np.array([0, 0])), owner, char, weight, w_option), 2)
    assert (alike[:, 2] == 0).all() and (alike[:, :2] > 0.2).all()
    assert resemblance(option_overlaps(runs(np.array([0, 1])), owner, char, weight, w_option), 2).tolist() == \
        [[0.0] * 3] * 2


def test_the_distractor_decision_reads_the_other_scenes():
    """Distractors that repeat their scene's words (a chair in the meeting room) look related to the scene; the
    rule options' resemblance to the other scenes' options is what sets them apart."""
    rule_a, rule_b = "村里的大事要大家一起商量", "遇到急事要当机立断"
    scenes = ["村里的水渠塌了，村委会开会讨论怎么修，雨季马上就到。你该如何选择？",
              "村口的老桥出现裂缝，开会讨论要不要封桥，赶集的人正要过桥。你该如何选择？",
              "山上起了火，村委会会场里大家还在争论要不要上山。你该如何选择？"]
    options = ["召集全村开会商量修法", "马上找人先把水渠堵上", "你数了数会场里的椅子",
               "等全村开会商量好再说", "马上派人把老桥封住", "赶集的人群里有人在卖糖葫芦",
               "先开会商量谁上山", "马上带人上山扑火", "山脚下有人在放风筝"]
    args = (scenes, options, [rule_a] * 3, [rule_b] * 3, [["民主协商"]] * 3, [["责任担当"]] * 3, Idf(scenes + options))
    apart = score_roles(*args, replace(WEIGHTS, resemblance=0.0))
    together = score_roles(*args, replace(WEIGHTS, resemblance=1.0))
    assert (together.distractor_margin > apart.distractor_margin).all()
    gold = np.tile([0, 1, 2], (3, 1))  # each scene's options: rule A's, rule B's, the distractor
    named = together.roles >= 0
    assert (together.roles[named] == gold[named]).all()
