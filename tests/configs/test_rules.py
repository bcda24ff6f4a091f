import random

import pytest

from builders.build import collect
from builders.context import BuildSettings
from builders.stages.ids import stable_id
from builders.stages.near_dedup import NearDupSettings
from builders.stages.normalizers.text import dedup_key
from tests.configs.rules_trees import label_mix_tree, odd_cells_tree, two_master_tables_tree
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

    from builders.stages.normalizers.text import clean_key, clean_text, has_cjk
    from builders.stages.observations import TEXT_COLUMNS, prepared_texts
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


def test_odd_cells_of_every_kind_are_rejected_or_excluded_each_with_its_reason(tmp_path):
    """Every CSV kind's corner cases get the outcome and reason its declaration and the policies give."""
    ctx = collect(odd_cells_tree(tmp_path / "raw"))
    entries = {(e.file, e.line): e for e in ctx.ledger.entries(config="rules")}
    human, llm = "data_control/label_rot_data/human/batch2.csv", "data_control/label_rot_data/llm/llm_label_raw.csv"
    seeds, generated = "basic_value_rule/sc101/remain.csv", "rule_generation/6_final/cmos_all_p_dev_rot.csv"

    def told(file, line):
        e = entries[(file, line)]
        return e.outcome, e.field, e.reason

    assert told(human, 2) == ("rejected", "rot", "empty rule text")
    assert told(human, 3)[0] == told(human, 4)[0] == "folded"  # " -1 " with a rewrite, "+1": labels read
    assert told(human, 5) == ("rejected", "标签", "label '2' is not -1, 0 or 1")
    assert told(llm, 4) == ("rejected", "derived values", "unknown derived value '不存在'")
    assert told(llm, 6)[:2] == ("rejected", "标签")  # a reply without a label
    assert told(llm, 7) == ("rejected", "dimensions", "dimensions: has fewer than 1 items")  # the schema's check
    assert told(seeds, 2) == ("excluded", None, "filtered upstream (retain != 1)")
    assert told(seeds, 3) == ("rejected", "Core Values", "unknown core value '不存在'")  # before the filter
    assert told(seeds, 4)[0] == "folded"  # an English rule no Chinese rule translates: published in rules_en
    assert told(seeds, 4)[2].startswith("English rule that no Chinese rule translates: published in rules_en as ")
    assert told(generated, 2) == ("rejected", "derived_values", "unknown derived value '无'")
    assert told(generated, 5)[:2] == ("rejected", "derived_values")  # 无法分类
    assert told(generated, 6) == ("rejected", "derived_values", "unknown core value '不存在'")
    assert told(generated, 8) == ("rejected", "rot", "empty rule text")
    counts = ctx.ledger.counts("rules")
    assert counts["read"] == sum(counts[k] for k in ("published", "folded", "excluded", "rejected"))


def test_two_master_tables_column_wise_give_the_row_by_row_build(tmp_path, monkeypatch):
    """Master rows repeated, translated or near-copied across two master tables: the build of files
    read column-wise is the build of the same files read record by record."""
    root = two_master_tables_tree(tmp_path / "raw")
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


@pytest.mark.parametrize("mode", ["off", "mark", "fold"])
def test_labels_copies_and_translations_resolve_as_the_policies_say(tmp_path, mode):
    """Master rows alone, labelled once, twice or in conflict, rewritten onto one another, copied by
    generated rules and seeds, sharing a translation, near-duplicates: each resolves by the policies."""
    from builders.context import BuildSettings
    from builders.stages.near_dedup import NearDupSettings

    ctx = collect(label_mix_tree(tmp_path / "raw"), BuildSettings(near_dup=NearDupSettings(mode=mode)))
    by_text = {r["rule"]: r for r in ctx.results["rules"].to_pylist()}
    first, second = "按时赴约是做人的基本美德和修养", "按时赴约是做人的基本美德与修养"
    assert (by_text[first]["label"], by_text[first]["label_origin"]) == (1, "llm")
    filial = by_text["孝敬父母是中华民族的传统美德"]
    assert (filial["label"], filial["label_origin"]) == (1, "human")  # a human's label over an LLM's
    assert by_text["遵守交通规则是每个人的义务"]["label_origin"] == "human"
    assert by_text["不乱扔垃圾是文明的行为"]["original_rule"] == "不乱扔垃圾是文明的表现"  # a human rewrite
    assert by_text["诚实守信是中华民族的美德"]["source"] == "zhihu_kol"  # the most specific copy names it
    assert by_text["保护环境是每个人的责任"]["source"] == "zhihu_kol"
    assert by_text["诚实是做人的根本"]["label"] == 1  # labelled 1, then 0, by one LLM file: the first line counts
    assert ctx.notes["rules"]["label_conflicts"] >= 1 and ctx.notes["rules"]["english_linked"] > 2
    folded = {(e.file, e.line): e for e in ctx.ledger.entries("folded", config="rules")}
    onto = by_text["在公共场合不应大声说话"]["id"]
    assert any(e.id == onto and e.reason == f"same text as {onto} after rewrite" for e in folded.values())
    assert (second in by_text) == (mode != "fold")
    if mode == "mark":
        assert by_text[second]["cluster_id"] == by_text[first]["id"]
    if mode == "fold":
        assert any(e.reason == f"near-duplicate of {by_text[first]['id']}" for e in folded.values())


def test_rules_are_told_apart_by_their_texts_even_if_their_ids_collide(raw_tree, monkeypatch):
    """Copies are grouped by their dedup key, never by their id: were every id the same, each
    rule would still be resolved, published or folded on its own."""
    import pyarrow as pa

    from builders.configs import rules_steps

    expected = collect(raw_tree)

    class SameId:
        def __init__(self, prefix, keys, background=False):
            self.keys = keys

        def result(self):
            return pa.array(["rule-0000000000000000"] * len(self.keys), pa.string())

    monkeypatch.setattr(rules_steps, "BackgroundIds", SameId)
    got = collect(raw_tree, BuildSettings(near_dup=NearDupSettings(mode="off")))
    assert got.results["rules"].column("original_rule").to_pylist() != []
    assert sorted(got.results["rules"].column("rule").to_pylist()) == sorted(
        expected.results["rules"].column("rule").to_pylist())
    assert [(e.file, e.line, e.outcome) for e in got.ledger.entries(config="rules")] == [
        (e.file, e.line, e.outcome) for e in expected.ledger.entries(config="rules")]


def _verdict(cell: str) -> dict:
    """A reviewer's ``keep``/``drop`` cell, as a test's own kind of file reads it."""
    verdicts = {"keep": 1, "drop": 0}
    if cell.strip() not in verdicts:
        raise ValueError(f"verdict {cell!r} is neither keep nor drop")
    return {"label": verdicts[cell.strip()]}


def test_a_new_kind_of_file_is_one_declaration(tmp_path, monkeypatch):
    """A kind the builder has never seen (reviewers' verdicts), declared once with the parser of its
    cells, is placed, read, labelled, resolved and accounted for like every other kind."""
    from builders.configs import rules
    from builders.stages.readers.layout import ArtifactKind, LabelSource

    reviews = ArtifactKind("reviews", "rules", ("data_control/reviews/*.csv",), {"rot": "text", "verdict": "label"},
                           "Reviewers' keep/drop verdicts.", rank=8, parse={"label": _verdict},
                           label=LabelSource("human", "reviewer"))
    monkeypatch.setattr(rules, "ARTIFACTS", [*rules.ARTIFACTS, reviews])
    root = write_raw_tree(tmp_path / "raw")
    write_csv(root / "data_control/reviews/r1.csv", ["rot", "verdict"], [
        ["盗掘古墓是不道德的行为。", "keep"], ["帮助迷路的老人回家是好事", "drop"],
        ["醉酒驾驶是违反法律的行为", "maybe"]])
    ctx = collect(root)
    rows = _by_original(ctx)
    assert "帮助迷路的老人回家是好事" in _by_original(collect(write_raw_tree(tmp_path / "before")))
    kept = rows["盗掘古墓是不道德的行为。"]
    assert (kept["label"], kept["label_origin"], kept["labeler"]) == (1, "human", "reviewer")
    assert "帮助迷路的老人回家是好事" not in rows
    entries = {e.line: e for e in ctx.ledger.entries(config="rules") if e.file == "data_control/reviews/r1.csv"}
    assert entries[2].outcome == "folded" and entries[2].id == kept["id"]
    assert (entries[3].outcome, entries[3].reason) == (
        "excluded", "labelled 0 (unrelated) at data_control/reviews/r1.csv:3")
    assert (entries[4].outcome, entries[4].field, entries[4].reason) == (
        "rejected", "verdict", "verdict 'maybe' is neither keep nor drop")
    counts = ctx.ledger.counts("rules")
    assert counts["read"] == sum(counts[k] for k in ("published", "folded", "excluded", "rejected"))
