"""The synthetic tree: deterministic, in the upstream formats, with its planted faults where it says."""

import json

from builders.build import build_release
from builders.release.manifest import sha256_file
from builders.stages.normalizers.text import dedup_key
from builders.synth import SynthSizes, synthesize

SIZES = SynthSizes(rules=600, dilemmas=120, models=2, evaluated=40)


def _hashes(root):
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    synthesize(tmp_path / "a", SIZES, seed=3)
    synthesize(tmp_path / "b", SIZES, seed=3)
    synthesize(tmp_path / "c", SIZES, seed=4)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    assert _hashes(tmp_path / "a") != _hashes(tmp_path / "c")


def test_upstream_quirks_are_present(tmp_path):
    synthesize(tmp_path / "raw", SIZES, seed=1)
    raw = tmp_path / "raw"
    master = (raw / "data_control/final.csv").read_bytes()
    master.decode("gbk")
    assert master.startswith(b"rot,translate,level,core values,derived values\n")
    replies = (raw / "data_control/label_rot_data/llm/llm_label_raw.csv").read_text(encoding="utf-8")
    assert "标签：" in replies and "标签:" in replies
    generated = "".join(p.read_text(encoding="utf-8") for p in (raw / "rule_generation/6_final").glob("*_rot.csv"))
    assert "衍生价值：" in generated and "衍生价值:" in generated
    assert any(sep in generated for sep in "，,/")
    assert (raw / "basic_value_rule/mic/remain.csv").exists() and (raw / "basic_value_rule/sc101/remain.csv").exists()
    rule_set = (raw / "moral_dilemma/dataset/1_rule_set/rule_set.csv").read_text(encoding="utf-8").splitlines()
    assert rule_set[1].startswith("Rule ")  # upstream's swap: rot1 holds the English text


def test_builds_and_every_raw_row_is_accounted_for(tmp_path):
    truth = synthesize(tmp_path / "raw", SIZES, seed=1)
    report = build_release(tmp_path / "raw", tmp_path / "out", report_dir=tmp_path / "report")
    read = sum(c["read"] for c in report.counts.values())
    assert read == sum(truth["files"].values())
    for counts in report.counts.values():
        assert counts["read"] == counts["published"] + counts["folded"] + counts["excluded"] + counts["rejected"]
    ledger = (tmp_path / "report/rejects.jsonl").read_text(encoding="utf-8").splitlines()
    rejects = [json.loads(line) for line in ledger]
    assert {(r["file"], r["line"]) for r in rejects} == {(b["file"], b["line"]) for b in truth["bad_rows"]}
    folds = [json.loads(line) for line in (tmp_path / "report/folds.jsonl").read_text(encoding="utf-8").splitlines()]
    into_english = {(f["file"], f["line"]) for f in folds
                    if f["config"] == "rules" and f.get("id", "").startswith("rule_en-")}
    assert truth["english_rules"] and {(e["file"], e["line"]) for e in truth["english_rules"]} <= into_english
    assert (tmp_path / "raw/LICENSE").exists() and (tmp_path / "out/LICENSE").exists()
    assert report.counts["dilemmas"]["published"] == SIZES.dilemmas
    assert report.counts["evaluations"]["published"] == SIZES.models * SIZES.evaluated


def test_planted_near_duplicate_groups_are_recorded_and_present(tmp_path):
    truth = synthesize(tmp_path / "raw", SIZES, seed=2)
    groups = truth["near_duplicate_groups"]
    assert len(groups) == int(SIZES.rules * SIZES.near_dup_share)
    saved = json.loads((tmp_path / "raw/synth_truth.json").read_text(encoding="utf-8"))
    assert saved["near_duplicate_groups"] == groups
    master = (tmp_path / "raw/data_control/final.csv").read_text(encoding="gbk")
    for group in groups:
        assert len(group["texts"]) == len(group["edits"]) + 1 >= 2
        assert len(set(group["texts"])) == len(group["texts"])
        assert group["same_key"] == (len({dedup_key(t) for t in group["texts"]}) == 1)
        assert all(f"\n{text}," in master for text in group["texts"])
