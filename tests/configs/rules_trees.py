"""Raw trees that put the rules build's corner cases side by side: every kind's odd cells,
labels that accept, reject, exclude or rewrite a rule, copies in every kind, shared
translations, rewrites landing on other rules, near-duplicates, two master tables."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FINAL_ROWS, LLM_ROWS, write_csv, write_raw_tree

SEED_HEADER = ["rot", "characters", "Level", "Core Values", "Derived Values", "action", "model", "retain"]
LLM_HEADER = ["index", "rot", "level", "core values", "derived values", "标签"]


def odd_cells_tree(root: Path) -> Path:
    """Every CSV kind with empty texts, bad labels, unknown values, filtered rows and prefixes."""
    write_raw_tree(root)
    write_csv(root / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"], [
        ["", "1", ""], ["rot: 守时是美德", " -1 ", " 守时是一种美德 "], ["守时是美德", "+1", ""], ["守时", "2", "x"]])
    write_csv(root / "data_control/label_rot_data/llm/llm_label_raw.csv", LLM_HEADER, [
        [0, "守时是美德", "个人", "诚信", "", "标签：1\n重写："],
        [1, "守时是美德", "个人", "诚信", "不存在", "标签：1\n重写："],
        [2, "要守时", "个人", "诚信", "", "没有标签"],
        [3, "要守时", "", "", "", "标签：-1\n重写： 守时是美德 "]])
    write_csv(root / "basic_value_rule/sc101/remain.csv", SEED_HEADER, [
        ["Be on time.", "", "个人", "诚信", "", "", "", "0"],
        ["Be on time!", "", "个人", "不存在", "", "", "", "0"],
        ["Be kind.", "", "个人", "友善", "", "", "", " 1 "],
        ["Be fair.", "", "个人", "公正", "", "", "", ""]])
    write_csv(root / "rule_generation/6_final/cmos_all_p_dev_rot.csv", ["rot", "derived_values"], [
        ["rot：要守时", "层面：个人\n核心价值：诚信\n衍生价值：无"], ["要守信", "无法分类"],
        ["要守约", "层面：个人\n核心价值：不存在"], ["", "层面：个人"]])
    return root


def two_master_tables_tree(root: Path) -> Path:
    """A second master table whose rows repeat, translate or near-copy the first's."""
    write_raw_tree(root)
    write_csv(root / "data_control/final2.csv", ["rot", "translate", "level", "core values", "derived values"], [
        ["爱护公共设施是每个公民的责任。", "Public facilities belong to everyone.", "国家", "文明", "精神文明"],
        ["诚实守信是做人的根本", "Honesty is the root of being a person.", "个人", "诚信", "言行一致"],
        ["Be kind.", "Be kind.", "个人", "友善", "尊重他人"],
        ["盗掘古墓是不道德的行为", "", "社会", "法治", "严格守法"],
    ])
    (root / "cvc-raw.yaml").write_text("""artifacts:
  - {kind: master_table, path: "data_control/final*.csv"}
  - {kind: llm_labels, path: "data_control/label_rot_data/llm/*.csv"}
  - {kind: human_labels, path: "data_control/label_rot_data/human/*.csv"}
  - {kind: seed_rules, path: "basic_value_rule/*/*.csv"}
  - {kind: generated_classified, path: "rule_generation/6_final/*.csv"}
  - {kind: v1_release, path: "*.jsonl"}
""", encoding="utf-8")
    return root


def label_mix_tree(root: Path) -> Path:
    """Master rows alone, labelled once, twice or in conflict, rewritten onto one another, copied by
    generated rules and seeds, translated alike, and near-duplicates of each other."""
    rows = [*FINAL_ROWS,
            ["按时赴约是做人的基本美德和修养", "Being on time is a basic virtue.", "个人", "诚信", ""],
            ["按时赴约是做人的基本美德与修养", "", "个人", "诚信", ""],  # near-duplicate of the row above
            ["诚实是做人的根本", "", "个人", "诚信", ""],  # labelled twice, in conflict
            ["在公共场合不应大声说话", "", "国家", "文明", "文明礼仪"],  # another rule's rewrite lands on it
            ["浪费粮食是可耻的", "", "个人", "友善", "勤俭节约"],
            ["孝敬父母是中华民族的传统美德", "Filial piety is a virtue.", "个人", "友善", "关爱他人"],
            ["孝敬父母是中华民族传统的美德", "", "个人", "友善", "关爱他人"],  # near-duplicate, human label 1
            ["遵守交通规则是每个人的义务", "", "社会", "法治", "严格守法"],  # human 1 and LLM 1
            ["不乱扔垃圾是文明的表现", "", "国家", "文明", "文明礼仪"],  # human 1 with a rewrite
            ["诚实守信是中华民族的美德", "Honesty is a virtue.", "个人", "诚信", "言行一致"],  # generated, LLM, seeds
            ["保护环境是每个人的责任", "", "国家", "文明", "文明礼仪"],  # a generated copy
            ["节约用水是每个人的责任", "Save water.", "个人", "友善", "关爱他人"],  # translation shared
            ["节约用水人人有责", "Save water.", "个人", "友善", "关爱他人"],
            ["待人要有礼貌", "Be polite.", "个人", "友善", "关爱他人"]]  # its English copy is labelled
    write_raw_tree(root, final_rows=rows)
    classified = "层面：个人\n核心价值：诚信\n衍生价值：言行一致"
    write_csv(root / "rule_generation/6_final/zhihu_rot.csv", ["index", "rot", "derived_values"], [
        [0, "诚实守信是中华民族的美德", classified], [1, "保护环境是每个人的责任。", classified]])
    write_csv(root / "basic_value_rule/sc101/remain.csv", SEED_HEADER, [
        [text, "", "Social", "Rule of Law", "Strict law observance", "", "bb", "1"]
        for text in ("Honesty is a virtue.", "honesty is a virtue", "Save water.")])
    write_csv(root / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"], [
        ["孝敬父母是中华民族的传统美德", "1", ""],
        ["孝敬父母是中华民族传统的美德", "1", ""],
        ["遵守交通规则是每个人的义务", "1", ""],
        ["不乱扔垃圾是文明的表现", "1", "不乱扔垃圾是文明的行为"]])
    write_csv(root / "data_control/label_rot_data/llm/llm_label_raw.csv", LLM_HEADER, [
        *LLM_ROWS,
        [90, "按时赴约是做人的基本美德和修养", "个人", "诚信", "", "标签：1\n重写："],
        [91, "按时赴约是做人的基本美德与修养", "个人", "诚信", "", "标签：1\n重写："],
        [92, "诚实是做人的根本", "个人", "诚信", "", "标签：1\n重写："],
        [93, "诚实是做人的根本", "个人", "诚信", "", "标签：0\n重写："],
        [94, "在公共场合不应大声说话", "国家", "文明", "文明礼仪", "标签：1\n重写："],
        [95, "公共场合大声说话不好", "国家", "文明", "文明礼仪", "标签：-1\n重写：在公共场合不应大声说话"],
        [96, "浪费粮食是可耻的", "个人", "友善", "勤俭节约", "标签：1\n重写：浪费粮食可耻"],
        [97, "遵守交通规则是每个人的义务", "社会", "法治", "严格守法", "标签：1\n重写："],
        [98, "诚实守信是中华民族的美德", "个人", "诚信", "言行一致", "标签：1\n重写："],
        [99, "Be polite.", "个人", "友善", "关爱他人", "标签：1\n重写："]])
    return root
