"""Near-duplicate clustering on a small planted set: precision, recall, determinism."""

from itertools import combinations

import pytest

from builders.stages.near_dedup import NearDupSettings, find_clusters, near_duplicate_pairs
from builders.stages.near_dedup_background import BackgroundClusters

BASES = [
    "在公共场合大声喧哗是不文明的行为", "乘坐公交车时应该主动给老人让座", "企业应该追求高质量发展而不是盲目扩张",
    "鼓励年轻人投身科技创新是好事", "抄袭他人的科研成果是不道德的", "村民应该积极参加村委会的民主选举",
    "社区的重大事项应该听取居民的意见", "多读书可以提高一个人的文化修养", "保护非物质文化遗产是每个人的责任",
    "垃圾分类是每个公民应尽的义务", "随意砍伐树木是破坏生态的行为", "邻里之间应该互相帮助和关心",
    "与朋友发生矛盾时应该心平气和地沟通", "排队时插队是扰乱社会秩序的行为", "看不起体力劳动者是不对的",
    "每个人都有权决定自己的人生道路", "招聘时不应该因为性别而拒绝应聘者", "残疾人应该享有与他人同等的权利",
    "嘲笑别人的外貌是不尊重人的行为", "审理案件应该严格遵守法定程序", "奖金应该按照贡献大小公平分配",
    "做错事的人应该为自己的过错承担责任", "政府部门办事应该依法依规", "立法前应该广泛征求社会意见",
]
EDITS = [
    lambda t: t.replace("的", "地", 1) if "的" in t else t + "啊",        # 的/地
    lambda t: t[:4] + "一定" + t[4:],                                      # an inserted word
    lambda t: t[: len(t) // 2] + "，" + t[len(t) // 2:] + "。",            # punctuation
]


def _planted():
    texts, truth = [], []
    for group, base in enumerate(BASES):
        texts.append(base)
        truth.append(group)
        edit = EDITS[group % len(EDITS)]
        texts.append(edit(base))
        truth.append(group)
    return texts, truth


def _pairs(labels):
    return {(i, j) for i, j in combinations(range(len(labels)), 2) if labels[i] == labels[j]}


def test_precision_and_recall_on_planted_groups():
    texts, truth = _planted()
    found = _pairs(find_clusters(texts))
    expected = _pairs(truth)
    true_positive = len(found & expected)
    precision = true_positive / len(found) if found else 0.0
    recall = true_positive / len(expected)
    assert precision >= 0.95, precision
    assert recall >= 0.90, recall


def test_distinct_rules_on_one_template_are_not_merged():
    texts = ["在公共场合大声喧哗是不文明的", "在公共场合吸烟是不文明的", "在公共场合随地吐痰是不文明的"]
    assert find_clusters(texts) == [0, 1, 2]


def test_short_texts_only_match_identical_short_texts():
    assert find_clusters(["好", "好", "坏", "好人"], shingle=3) == [0, 0, 2, 3]


def test_deterministic_and_order_defines_the_representative():
    texts, _ = _planted()
    assert find_clusters(texts) == find_clusters(list(texts))
    reversed_clusters = find_clusters(texts[::-1])
    assert reversed_clusters[0] == 0 and reversed_clusters[1] == 0  # the later copy now represents its group


def test_empty_and_whitespace_texts_are_their_own_clusters():
    assert find_clusters(["", "  ", "在公共场合大声喧哗是不文明的", ""]) == [0, 1, 2, 3]
    assert find_clusters([]) == []


def test_width_and_punctuation_variants_are_normalized_before_shingling():
    texts = ["做人要讲诚信,不能骗人", "做人要讲诚信，不能骗人。", "做人要讲诚信， 不能骗人！"]
    assert find_clusters(texts) == [0, 0, 0]


def test_same_output_for_one_and_two_processes():
    texts, _ = _planted()
    texts = texts * 3 + [t + "吧" for t in texts]
    assert find_clusters(texts, num_proc=2) == find_clusters(texts, num_proc=1)
    pairs_1, sim_1 = near_duplicate_pairs(texts)
    pairs_2, sim_2 = near_duplicate_pairs(texts, num_proc=2)
    assert pairs_1.tolist() == pairs_2.tolist() and sim_1.tolist() == sim_2.tolist()
    assert (sim_1 >= 0.7).all()


def test_rank_chooses_the_representative():
    texts, _ = _planted()
    rank = [1 if i % 2 == 0 else 0 for i in range(len(texts))]  # prefer the edited copy
    clusters = find_clusters(texts, rank=rank)
    assert clusters[:2] == [1, 1]


def test_settings_record_the_keywords_and_large_template_buckets_stay_bounded():
    settings = NearDupSettings(max_bucket=4)
    texts = [f"在公共场合大声喧哗是不文明的{'的' * (i % 3)}" for i in range(40)]
    clusters = find_clusters(texts, **settings.kwargs())
    assert clusters == [0, 0, 0] * 13 + [0]


def test_clusters_found_in_the_background_are_the_same_even_if_the_worker_dies():
    texts = ["爱护公共设施是每个公民的责任", "爱护公共设施是每个公民的义务", "尊重其他种族的传统文化是应该的", "短"]
    expected = find_clusters(texts, rank=[3, 2, 1, 0])
    assert BackgroundClusters(texts, rank=[3, 2, 1, 0]).result() == expected
    killed = BackgroundClusters(texts, rank=[3, 2, 1, 0])
    killed._worker.process.kill()
    assert killed.result() == expected
    assert expected[:2] == [1, 1]


def test_a_fresh_process_raises_the_error_of_its_call_and_a_dead_one_says_so():
    from builders.stages.fresh_process import FreshProcessCall
    from builders.stages.minhash_lsh import _chunk

    with pytest.raises(ValueError, match="shingle size"):
        FreshProcessCall(_chunk, (["在公共场合大声喧哗是不文明的"], 0, 64, 0)).result()
    dead = FreshProcessCall(_chunk, (["在公共场合大声喧哗是不文明的"], 2, 64, 0))
    dead.process.kill()
    with pytest.raises(ChildProcessError):
        dead.result()
