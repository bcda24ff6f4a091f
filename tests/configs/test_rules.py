import random

import pytest

from builders.build import collect
from builders.stages.ids import stable_id
from builders.stages.normalizers.text import dedup_key
from tests.conftest import FINAL_ROWS, write_csv, write_raw_tree


def _by_original(ctx):
    return {row["original_rule"]: row for row in ctx.results["rules"].to_pylist()}


def _rejects(ctx):
    return {(e.file, e.line): (e.field, e.reason) for e in ctx.ledger.entries("rejected")}


def test_every_raw_row_has_exactly_one_outcome_and_counts_add_up(raw_tree):
    ctx = collect(raw_tree)
    counts = ctx.ledger.counts("rules")
    assert counts["read"] == sum(counts[k] for k in ("published", "folded", "excluded", "rejected"))
    assert counts["published"] == ctx.results["rules"].num_rows
    raw_rows = 6 + 6 + 3 + 3 + 3 + 3  # final, llm, human, generated, seed, jsonl (incl. the broken line)
    assert counts["read"] == raw_rows


def test_rejects_name_file_line_and_field(raw_tree):
    rejects = _rejects(collect(raw_tree))
    assert rejects[("data_control/final.csv", 5)][0] == "rot"  # empty rule
    assert rejects[("data_control/final.csv", 6)] == ("derived values", "unknown derived value '勤俭节约'")
    assert rejects[("rule_generation/6_final/flames_rot.csv", 9)][0] == "derived_values"  # 无法分类
    assert rejects[("data_control/label_rot_data/llm/llm_label_raw.csv", 12)][0] == "标签"  # broken reply
    assert "not -1, 0 or 1" in rejects[("data_control/label_rot_data/human/batch1.csv", 4)][1]
    assert "malformed JSON" in rejects[("CVC.jsonl", 3)][1]
    assert ("basic_value_rule/mic/remain.csv", 3) not in rejects  # English: published in rules_en
    assert "no rule table" in rejects[("data_control/label_rot_data/human/batch1.csv", 3)][1]


def test_label_semantics(raw_tree):
    ctx = collect(raw_tree)
    rows = _by_original(ctx)
    # label 0: not published, recorded as excluded
    assert "周末睡懒觉是可以的" not in rows
    excluded = [e for e in ctx.ledger.entries("excluded") if "labelled 0" in (e.reason or "")]
    assert [(e.file, e.line) for e in excluded] == [("data_control/label_rot_data/llm/llm_label_raw.csv", 4)]
    # -1 with rewrite: rewrite published, original kept
    cheat = rows["考试作弊是可以理解的"]
    assert (cheat["rule"], cheat["rewritten"], cheat["label"]) == ("考试作弊是不诚实的行为", True, -1)
    # -1 without rewrite: rejected
    assert "without a rewrite" in _rejects(ctx)[("data_control/label_rot_data/llm/llm_label_raw.csv", 10)][1]
    # human label wins over the LLM label for the same rule
    noisy = rows["在公共场合大声喧哗别人会很烦所以你不应该这样做"]
    assert (noisy["label"], noisy["label_origin"], noisy["rule"]) == (-1, "human", "应该在公共场合保持安静")
    # a plain LLM label
    respect = rows["尊重其他种族的传统文化是应该的"]
    assert (respect["label"], respect["label_origin"], respect["rewritten"]) == (1, "llm", False)
    assert respect["labeler"] == "Qwen/Qwen2.5-72B-Instruct"
    # never labelled
    tomb = rows["盗掘古墓是不道德的行为。"]
    assert (tomb["label"], tomb["label_origin"], tomb["labeler"]) == (None, "none", None)


def test_values_are_canonical_and_closed(raw_tree):
    rows = _by_original(collect(raw_tree))
    drunk = rows["醉酒驾驶是违反法律的行为。"]
    assert (drunk["dimensions"], drunk["core_values"], drunk["derived_values"]) == (["社会"], ["法治"], ["严格守法"])
    facilities = rows["爱护公共设施是每个公民的责任"]
    assert facilities["derived_values"] == ["文化修养", "精神文明"]  # 文化素养 → 文化修养
    assert facilities["dimensions"] == ["国家"]  # 国家层面 → 国家
    v1_only = rows["诚实守信是做人的根本"]
    assert (v1_only["dimensions"], v1_only["core_values"], v1_only["derived_values"]) == (
        ["个人"], ["诚信"], ["信守承诺"])


def test_hierarchy_contradictions_are_repaired_and_reported(raw_tree):
    ctx = collect(raw_tree)
    repairs = {(r["file"], r["line"]): r for r in ctx.repairs}
    v1 = repairs[("CVC.jsonl", 1)]  # level 社会 but core value 文明 (a 国家 value)
    assert v1["dropped"] == ["社会"] and "国家" in v1["added"]
    assert ctx.notes["rules"]["rows_hierarchy_contradicted"] == 1


def test_exact_duplicates_fold_into_one_row_with_english_and_provenance(raw_tree):
    ctx = collect(raw_tree)
    drunk = _by_original(ctx)["醉酒驾驶是违反法律的行为。"]
    assert drunk["rule_en"] == "Drunk driving breaks the law."
    assert drunk["source"] == "mic"  # the English seed rule linked through its translation
    folds = {(e.file, e.line): e.id for e in ctx.ledger.entries("folded")}
    assert folds[("data_control/final.csv", 4)] == drunk["id"]  # whitespace variant
    assert folds[("basic_value_rule/mic/remain.csv", 2)] == drunk["id"]
    assert len({r["original_rule"] for r in ctx.results["rules"].to_pylist()}) == ctx.results["rules"].num_rows


def test_generated_rule_keeps_source_and_loses_rot_prefix(raw_tree):
    rows = _by_original(collect(raw_tree))
    assert rows["帮助迷路的老人回家是好事"]["source"] == "flames"
    assert rows["帮助迷路的老人回家是好事"]["core_values"] == ["友善"]


def test_ids_are_stable_under_shuffling_and_independent_of_rewrites(tmp_path):
    first = collect(write_raw_tree(tmp_path / "a"))
    shuffled = FINAL_ROWS[:]
    random.Random(7).shuffle(shuffled)
    second = collect(write_raw_tree(tmp_path / "b", final_rows=shuffled))
    assert {r["id"]: r["original_rule"] for r in first.results["rules"].to_pylist()} == {
        r["id"]: r["original_rule"] for r in second.results["rules"].to_pylist()}
    rewritten = _by_original(first)["考试作弊是可以理解的"]
    assert rewritten["id"] == stable_id("rule", dedup_key("考试作弊是可以理解的"))


def test_rows_that_rewrite_to_an_existing_rule_fold_into_it(tmp_path):
    raw = write_raw_tree(tmp_path / "raw")
    write_csv(raw / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"],
              [["爱护公共设施是每个公民的责任", "1", "盗掘古墓是不道德的行为"]])
    ctx = collect(raw)
    texts = [r["rule"] for r in ctx.results["rules"].to_pylist()]
    assert len(texts) == len({dedup_key(t) for t in texts})
    folded = [e for e in ctx.ledger.entries("folded") if "after rewrite" in (e.reason or "")]
    assert folded, "the rewritten copy must be folded into the existing rule"


def test_a_rewrite_onto_a_translated_rule_takes_that_translation(tmp_path):
    raw = write_raw_tree(tmp_path / "raw")
    write_csv(raw / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"],
              [["盗掘古墓是不道德的行为。", "-1", "爱护公共设施是每个公民的责任"]])
    ctx = collect(raw)
    kept = _by_original(ctx)["盗掘古墓是不道德的行为。"]
    assert kept["rule"] == "爱护公共设施是每个公民的责任" and kept["rewritten"]
    assert kept["rule_en"] == "Caring for public facilities is every citizen's duty."
    assert "爱护公共设施是每个公民的责任" not in _by_original(ctx)


def test_damaged_line_in_a_gbk_file_is_rejected_with_its_line(tmp_path):
    raw = write_raw_tree(tmp_path / "raw")
    path = raw / "data_control/final.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:6] + b"\x80\xff" + lines[2][6:]
    path.write_bytes(b"\n".join(lines))
    ctx = collect(raw)
    field, reason = _rejects(ctx)[("data_control/final.csv", 3)]
    assert "undecodable" in reason
    assert "尊重其他种族的传统文化是应该的" in _by_original(ctx)  # the rest of the file is intact


NEAR_DUP_ROWS = FINAL_ROWS + [
    ["爱护公共设施是每个公民的义务", "Caring for public facilities is every citizen's obligation.",
     "国家", "文明", "精神文明"],
]


def _near_dup_ctx(tmp_path, mode: str, num_proc: int = 1):
    from builders.context import BuildSettings
    from builders.stages.near_dedup import NearDupSettings

    raw = write_raw_tree(tmp_path / f"raw-{mode}-{num_proc}", final_rows=NEAR_DUP_ROWS)
    return collect(raw, BuildSettings(near_dup=NearDupSettings(mode=mode)), num_proc=num_proc)


@pytest.mark.parametrize("num_proc", [1, 2], ids=["in the build", "in a background process"])
def test_near_duplicates_are_marked_with_the_representative_id(tmp_path, num_proc):
    ctx = _near_dup_ctx(tmp_path, "mark", num_proc)
    rows = _by_original(ctx)
    kept, edited = rows["爱护公共设施是每个公民的责任"], rows["爱护公共设施是每个公民的义务"]
    assert edited["cluster_id"] == kept["cluster_id"] == kept["id"] != edited["id"]
    assert ctx.near_duplicates["rules"] == {kept["id"]: [edited["id"]]}
    others = [r for r in ctx.results["rules"].to_pylist() if r["id"] not in (kept["id"], edited["id"])]
    assert others and all(r["cluster_id"] == r["id"] for r in others)
    table = ctx.tables["rules"]
    assert table.column("cluster_id").to_pylist() == [r["cluster_id"] for r in ctx.results["rules"].to_pylist()]
    assert table.column("id").to_pylist() == [r["id"] for r in ctx.results["rules"].to_pylist()]
    assert ctx.notes["rules"]["near_duplicate_clusters"] == ctx.notes["rules"]["near_duplicate_members"] == 1


def test_folding_near_duplicates_records_them_and_keeps_links(tmp_path):
    ctx = _near_dup_ctx(tmp_path, "fold")
    rows = _by_original(ctx)
    assert "爱护公共设施是每个公民的义务" not in rows
    kept = rows["爱护公共设施是每个公民的责任"]
    assert all(r["cluster_id"] == r["id"] for r in ctx.results["rules"].to_pylist())
    folded = [e for e in ctx.ledger.entries("folded") if e.reason == f"near-duplicate of {kept['id']}"]
    assert [(e.file, e.line) for e in folded] == [("data_control/final.csv", len(NEAR_DUP_ROWS) + 1)]
    assert ctx.rule_index().find("爱护公共设施是每个公民的义务")["id"] == kept["id"]
    counts = ctx.ledger.counts("rules")
    assert counts["read"] == sum(v for k, v in counts.items() if k != "read")


def test_near_dup_off_leaves_every_rule_its_own_cluster(tmp_path):
    ctx = _near_dup_ctx(tmp_path, "off")
    assert "rules" not in ctx.near_duplicates
    assert all(r["cluster_id"] == r["id"] for r in ctx.results["rules"].to_pylist())
    assert len(_by_original(ctx)) == len(_by_original(_near_dup_ctx(tmp_path, "mark")))


def test_release_is_byte_identical_whatever_num_proc(tmp_path):
    from builders.build import build_release
    from builders.release.manifest import read_manifest

    raw = write_raw_tree(tmp_path / "raw", final_rows=NEAR_DUP_ROWS)
    one = build_release(raw, tmp_path / "one", num_proc=1)
    first = read_manifest(one.release_dir)
    assert first["near_duplicates"]["rules"]
    for num_proc in (2, 3):  # the ids hashed by as many helpers, in shares of uneven size for 3
        other = read_manifest(build_release(raw, tmp_path / str(num_proc), num_proc=num_proc).release_dir)
        assert other["files"] == first["files"] and other["near_duplicates"] == first["near_duplicates"]


def test_master_tables_read_first_leave_everything_in_reading_order(raw_tree):
    """The master table is read before the other rule files (a prefetch reads those meanwhile), yet
    the repairs and the build come out in reading order: ``CVC.jsonl`` sorts before the master table."""
    from builders.configs import rules

    one, two = collect(raw_tree), collect(raw_tree, num_proc=2)
    files = [a.relpath for a in one.of_kind(*(kind.name for kind in rules.ARTIFACTS))]
    assert [r["file"] for r in one.repairs] == ["CVC.jsonl", "data_control/final.csv", "data_control/final.csv"]
    assert [files.index(r["file"]) for r in one.repairs] == sorted(files.index(r["file"]) for r in one.repairs)
    assert two.repairs == one.repairs and two.notes == one.notes
    assert two.results["rules"].to_pylist() == one.results["rules"].to_pylist()
    assert two.ledger.entries() == one.ledger.entries() and two.rule_keys() == one.rule_keys()


def test_prepared_rule_texts_are_the_row_functions_of_each_cell():
    """What a prefetch adds to a rule file (cleaned text, dedup key, is Chinese) is what the row functions give."""
    import pyarrow as pa

    from builders.configs.rules import TEXT_COLUMNS, prepared_texts
    from builders.stages.normalizers.text import clean_key, clean_text, has_cjk
    from builders.stages.parsers.replies import strip_rot_prefix

    cells = ["rot：要守时", "  Be  Kind. ", "ＡＩ应当诚实。", None, "", "要守信！", "rot: keep promises."]
    table = prepared_texts(pa.table({"rot": pa.array(cells, pa.string()), "other": pa.array(["x"] * len(cells))}))
    texts = [clean_text(strip_rot_prefix(c) if isinstance(c, str) else c) for c in cells]
    assert table.column(TEXT_COLUMNS[0]).to_pylist() == texts
    assert table.column(TEXT_COLUMNS[1]).to_pylist() == [clean_key(t) for t in texts]
    assert table.column(TEXT_COLUMNS[2]).to_pylist() == [has_cjk(t) for t in texts]
    assert prepared_texts(pa.table({"rule": pa.array(["x"])})).column_names == ["rule"]


def test_rows_without_any_value_are_rejected_each_with_its_line(tmp_path):
    """Value lists are validated once per distinct closure; every row sharing it is rejected."""
    rows = FINAL_ROWS + [["守时是一种美德", "Punctuality is a virtue.", "", "", ""],
                         ["浪费粮食是可耻的", "Wasting food is shameful.", " ", "", ""]]
    rejects = _rejects(collect(write_raw_tree(tmp_path / "raw", final_rows=rows)))
    for line in (len(FINAL_ROWS) + 2, len(FINAL_ROWS) + 3):
        field, reason = rejects[("data_control/final.csv", line)]
        assert field == "dimensions" and "fewer than 1" in reason, (field, reason)


def test_master_table_read_column_wise_or_row_by_row_gives_the_same_build(raw_tree, monkeypatch):
    columnar = collect(raw_tree)
    monkeypatch.setattr("builders.stages.readers.layout.read_csv_columns", lambda decoded: None)
    by_rows = collect(raw_tree)
    assert columnar.results["rules"].to_pylist() == by_rows.results["rules"].to_pylist()
    assert columnar.ledger.entries() == by_rows.ledger.entries()
    assert columnar.repairs == by_rows.repairs and columnar.notes == by_rows.notes


def test_rule_keys_handed_to_the_rule_index_are_the_dedup_keys_of_each_published_row():
    from builders.resources import sample_raw_dir

    ctx = collect(sample_raw_dir())
    rows = ctx.results["rules"].to_pylist()
    assert any(r["rewritten"] for r in rows) and any(r["original_rule"] != r["rule"] for r in rows)
    assert ctx.rule_keys() == ([dedup_key(r["original_rule"]) for r in rows], [dedup_key(r["rule"]) for r in rows])


def test_every_csv_kind_observed_column_wise_as_row_by_row(tmp_path):
    """The column-wise observation of a CSV artifact gives what the row-by-row one gives:
    the same observations and the same ledger entries, in every kind's corner cases."""
    from builders.build import _all_kinds
    from builders.configs import rules
    from builders.context import BuildContext
    from builders.stages.normalizers.values import ValueNormalizer
    from builders.stages.readers.layout import discover
    from builders.stages.readers.records import ColumnTable

    root = write_raw_tree(tmp_path / "raw")
    write_csv(root / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"], [
        ["", "1", ""], ["rot: 守时是美德", " -1 ", " 守时是一种美德 "], ["守时是美德", "+1", ""], ["守时", "2", "x"]])
    write_csv(root / "data_control/label_rot_data/llm/llm_label_raw.csv",
              ["index", "rot", "level", "core values", "derived values", "标签"], [
                  [0, "守时是美德", "个人", "诚信", "", "标签：1\n重写："],
                  [1, "守时是美德", "个人", "诚信", "不存在", "标签：1\n重写："],
                  [2, "要守时", "个人", "诚信", "", "没有标签"],
                  [3, "要守时", "", "", "", "标签：-1\n重写： 守时是美德 "]])
    write_csv(root / "basic_value_rule/sc101/remain.csv",
              ["rot", "characters", "Level", "Core Values", "Derived Values", "action", "model", "retain"], [
                  ["Be on time.", "", "个人", "诚信", "", "", "", "0"],
                  ["Be on time!", "", "个人", "不存在", "", "", "", "0"],
                  ["Be kind.", "", "个人", "友善", "", "", "", " 1 "],
                  ["Be fair.", "", "个人", "公正", "", "", "", ""]])
    write_csv(root / "rule_generation/6_final/cmos_all_p_dev_rot.csv", ["rot", "derived_values"], [
        ["rot：要守时", "层面：个人\n核心价值：诚信\n衍生价值：无"], ["要守信", "无法分类"],
        ["要守约", "层面：个人\n核心价值：不存在"], ["", "层面：个人"]])
    csv_artifacts = [a for a in discover(root, _all_kinds())
                     if a.kind.config == "rules" and a.path.suffix == ".csv" and a.kind.name != "master_table"]
    assert {a.kind.name for a in csv_artifacts} >= {
        "human_labels", "llm_labels", "seed_rules", "generated_classified"}
    for artifact in csv_artifacts:
        by_rows, by_columns = BuildContext(artifacts=[artifact]), BuildContext(artifacts=[artifact])
        records = list(by_rows.registered("rules", artifact.read()))
        expected = rules._validate_observations(
            by_rows, rules._observe_records(by_rows, ValueNormalizer(by_rows.taxonomy), artifact, records, 7))
        columns = ColumnTable.of_records(artifact.read().columns, records)
        by_columns.ledger.read_lines("rules", artifact.relpath, columns.lines.tolist())
        got, facts = rules._observe_columns(by_columns, ValueNormalizer(by_columns.taxonomy), artifact, columns, 7)
        assert got == expected, artifact.relpath
        told = rules._Facts.of(got)
        assert facts.key.equals(told.key), artifact.relpath
        for name in ("zh", "labelled", "accepting", "translated", "seq"):
            assert getattr(facts, name).tolist() == getattr(told, name).tolist(), (artifact.relpath, name)
        assert by_columns.ledger.entries() == by_rows.ledger.entries(), artifact.relpath
        assert by_columns.repairs == by_rows.repairs


def test_two_master_tables_column_wise_give_the_row_by_row_build(tmp_path, monkeypatch):
    """Master rows alone under their key in one master table but not in the other, and the
    splicing of each table's remaining rows back into reading order, as row by row."""
    root = write_raw_tree(tmp_path / "raw")
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
    columnar = collect(root)
    assert [a.relpath for a in columnar.artifacts if a.kind.name == "master_table"] == [
        "data_control/final.csv", "data_control/final2.csv"]
    monkeypatch.setattr("builders.stages.readers.layout.read_csv_columns", lambda decoded: None)
    by_rows = collect(root)
    assert columnar.results["rules"].to_pylist() == by_rows.results["rules"].to_pylist()
    assert columnar.ledger.entries() == by_rows.ledger.entries()
    assert columnar.repairs == by_rows.repairs and columnar.notes == by_rows.notes
    assert columnar.rule_keys() == by_rows.rule_keys()
    folded = {(e.file, e.line) for e in columnar.ledger.entries("folded")}
    assert ("data_control/final2.csv", 2) in folded or ("data_control/final.csv", 7) in folded


def _no_row_plain(masters, observations, facts):
    """The reference for the plain rows: every master row goes through the build as an observation."""
    import numpy as np

    from builders.configs import rules

    master = rules._MasterRows.concat(masters)
    rules._splice(observations, master.observations(np.arange(len(master.key))))
    return rules._MasterRows.empty()


@pytest.mark.parametrize("mode", ["off", "mark", "fold"])
def test_plain_master_rows_give_what_the_observation_path_gives(tmp_path, monkeypatch, mode):
    """Master rows published from their columns, alone or with the one LLM or human label
    accepting them as they are, are published, folded and linked exactly as their observations would be."""
    from builders.context import BuildSettings
    from builders.stages.near_dedup import NearDupSettings

    rows = [*FINAL_ROWS,
            ["按时赴约是做人的基本美德和修养", "Being on time is a basic virtue.", "个人", "诚信", ""],
            ["按时赴约是做人的基本美德与修养", "", "个人", "诚信", ""],  # near-duplicate of the row above
            ["诚实是做人的根本", "", "个人", "诚信", ""],  # labelled twice: not plain
            ["在公共场合不应大声说话", "", "国家", "文明", "文明礼仪"],  # another rule's rewrite lands on it
            ["浪费粮食是可耻的", "", "个人", "友善", "勤俭节约"],
            ["孝敬父母是中华民族的传统美德", "Filial piety is a virtue.", "个人", "友善", "关爱他人"],
            ["孝敬父母是中华民族传统的美德", "", "个人", "友善", "关爱他人"],  # near-duplicate, human label 1
            ["遵守交通规则是每个人的义务", "", "社会", "法治", "严格守法"],  # human 1 and LLM 1: not plain
            ["不乱扔垃圾是文明的表现", "", "国家", "文明", "文明礼仪"],  # human 1 with a rewrite
            ["诚实守信是中华民族的美德", "Honesty is a virtue.", "个人", "诚信", "言行一致"],  # generated, LLM, seeds
            ["保护环境是每个人的责任", "", "国家", "文明", "文明礼仪"],  # a generated copy
            ["节约用水是每个人的责任", "Save water.", "个人", "友善", "关爱他人"],  # translation shared: not plain
            ["节约用水人人有责", "Save water.", "个人", "友善", "关爱他人"],
            ["待人要有礼貌", "Be polite.", "个人", "友善", "关爱他人"]]  # its English copy is labelled: not plain
    root = write_raw_tree(tmp_path / "raw", final_rows=rows)
    classified = "层面：个人\n核心价值：诚信\n衍生价值：言行一致"
    write_csv(root / "rule_generation/6_final/zhihu_rot.csv", ["index", "rot", "derived_values"], [
        [0, "诚实守信是中华民族的美德", classified], [1, "保护环境是每个人的责任。", classified]])
    write_csv(root / "basic_value_rule/sc101/remain.csv",
              ["rot", "characters", "Level", "Core Values", "Derived Values", "action", "model", "retain"], [
                  [text, "", "Social", "Rule of Law", "Strict law observance", "", "bb", "1"]
                  for text in ("Honesty is a virtue.", "honesty is a virtue", "Save water.")])
    write_csv(root / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"], [
        ["孝敬父母是中华民族的传统美德", "1", ""],
        ["孝敬父母是中华民族传统的美德", "1", ""],
        ["遵守交通规则是每个人的义务", "1", ""],
        ["不乱扔垃圾是文明的表现", "1", "不乱扔垃圾是文明的行为"]])
    from tests.conftest import LLM_ROWS
    write_csv(root / "data_control/label_rot_data/llm/llm_label_raw.csv",
              ["index", "rot", "level", "core values", "derived values", "标签"], [
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
    settings = BuildSettings(near_dup=NearDupSettings(mode=mode))
    from builders.configs import rules
    split, taken = rules._split_plain, None

    def recorded(masters, observations, facts):
        nonlocal taken
        taken = split(masters, observations, facts)
        return taken

    monkeypatch.setattr("builders.configs.rules._split_plain", recorded)
    fast = collect(root, settings)
    monkeypatch.setattr("builders.configs.rules._split_plain", _no_row_plain)
    reference = collect(root, settings)
    assert fast.results["rules"].to_pylist() == reference.results["rules"].to_pylist()
    assert fast.ledger.entries() == reference.ledger.entries()
    assert fast.repairs == reference.repairs and fast.notes == reference.notes
    assert fast.rule_keys() == reference.rule_keys() and fast.rule_aliases == reference.rule_aliases
    assert fast.near_duplicates == reference.near_duplicates
    by_text = {r["rule"]: r for r in fast.results["rules"].to_pylist()}
    first, second = "按时赴约是做人的基本美德和修养", "按时赴约是做人的基本美德与修养"
    assert (by_text[first]["label"], by_text[first]["label_origin"]) == (1, "llm")
    filial = by_text["孝敬父母是中华民族的传统美德"]
    assert (filial["label"], filial["label_origin"]) == (1, "human")
    assert {a.kind for a in taken.labelled()} == {"llm_labels", "human_labels"}
    assert {o.kind for o in taken.copies} >= {"generated_classified", "seed_rules"}
    assert by_text["诚实守信是中华民族的美德"]["source"] == "zhihu_kol"
    assert by_text["保护环境是每个人的责任"]["source"] == "zhihu_kol"
    assert fast.notes["rules"]["english_linked"] > 2
    assert (second in by_text) == (mode != "fold")
    if mode == "mark":
        assert by_text[second]["cluster_id"] == by_text[first]["id"]


def test_master_keys_are_told_apart_by_their_texts_when_their_ids_could_not(raw_tree, monkeypatch):
    """The master rows' keys are grouped by the numbers of their ids; if two keys shared one, the
    texts decide, and the build is the same."""
    import copy

    import numpy as np

    from builders.configs import rules

    expected = collect(raw_tree)
    encoded, text_codes, key_codes = [], rules._text_codes, rules._key_codes
    monkeypatch.setattr(rules, "_text_codes", lambda master: encoded.append(master.size) or text_codes(master))

    def colliding(master):
        faked = copy.copy(master)
        faked.id_numbers = lambda: np.zeros(master.size, np.uint64)  # every key under one id
        return key_codes(faked)

    monkeypatch.setattr(rules, "_key_codes", colliding)
    got = collect(raw_tree)
    assert encoded, "the texts were not encoded"
    assert got.results["rules"].to_pylist() == expected.results["rules"].to_pylist()
    assert got.ledger.entries() == expected.ledger.entries()
    assert got.rule_keys() == expected.rule_keys()
