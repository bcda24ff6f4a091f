"""End to end on the shipped sample: build, account for every row, validate, load back."""

import json

import datasets
import pytest

from builders.build import build_release
from builders.release.verify import validate_release
from builders.resources import sample_raw_dir


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "build"
    report = build_release(sample_raw_dir(), out)
    return out, report


def _ledger(report, name):
    with open(report.report_dir / name, encoding="utf-8") as fh:
        return {(e["file"].split("/")[-1], e["line"]): e for e in map(json.loads, fh)}


def test_counts_add_up(sample_build):
    _, report = sample_build
    c = report.counts["rules"]
    assert c["read"] == c["published"] + c["folded"] + c["excluded"] + c["rejected"]
    assert c["published"] > 100 and c["rejected"] > 0


def test_planted_bad_rows_are_rejected_where_the_sample_readme_says(sample_build):
    _, report = sample_build
    rejects = _ledger(report, "rejects.jsonl")
    expected = {("final.csv", 84): "derived values", ("final.csv", 85): "rot",
                ("llm_label_raw.csv", 55): "标签", ("llm_label_raw.csv", 56): "标签",
                ("human_labels_batch1.csv", 11): "标签", ("cmos_all_p_dev_rot.csv", 30): "derived_values",
                ("CVC.jsonl", 7): "*"}
    for place, field in expected.items():
        assert rejects[place]["field"] == field, place
    # English rules with no Chinese counterpart are published in rules_en, never rejected for being English
    assert not [e for e in rejects.values() if "English-only" in (e.get("reason") or "")]
    assert ("C-VARC(EN).jsonl", 13) not in rejects and ("remain.csv", 7) not in rejects


def test_planted_repairs_and_duplicates(sample_build):
    _, report = sample_build
    repairs = _ledger(report, "repairs.jsonl")
    assert repairs[("final.csv", 10)]["dropped"] == ["社会"]
    assert repairs[("final.csv", 4)]["added"] == ["国家"]
    folds = _ledger(report, "folds.jsonl")
    assert folds[("final.csv", 82)]["outcome"] == "folded"
    assert folds[("final.csv", 83)]["outcome"] == "folded"
    with open(report.report_dir / "folds.jsonl", encoding="utf-8") as fh:
        by_path = {(e["config"], e["file"], e["line"]): e for e in map(json.loads, fh)}
    assert by_path[("rules", "basic_value_rule/mic/remain.csv", 9)]["outcome"] == "excluded"


def test_sample_release_is_valid_and_loads(sample_build, tmp_path):
    out, report = sample_build
    assert validate_release(out).ok
    rules = datasets.load_dataset(str(out), "rules", split="train", cache_dir=str(tmp_path))
    assert rules.num_rows == report.counts["rules"]["published"]
    assert set(rules["source"]) >= {"mic", "sc101", "cmos", "flames", "master_table", "human_curated"}
    ai = [r for r in rules if r["original_rule"].startswith("使用AI")]
    assert ai and "ＡＩ" not in ai[0]["rule"]
    legacy = datasets.load_dataset(str(out), split="cvc", cache_dir=str(tmp_path))
    assert legacy.num_rows == rules.num_rows


def test_every_config_loads_back_and_links_resolve(sample_build, tmp_path):
    out, _ = sample_build
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    loaded = {}
    for config, entry in manifest["configs"].items():
        [(split, info)] = entry["splits"].items()
        loaded[config] = datasets.load_dataset(str(out), config, split=split, cache_dir=str(tmp_path))
        assert loaded[config].num_rows == info["num_rows"] > 0, config
    assert set(loaded) == {"default", "rules", "rules_en", "taxonomy", "dilemmas", "scenarios", "evaluations"}
    rule_ids = set(loaded["rules"]["id"])
    for d in loaded["dilemmas"]:
        assert {d["rule_a"]["id"], d["rule_b"]["id"]} <= rule_ids
        assert [o["letter"] for o in d["options"]] == ["A", "B", "C"]
    for s in loaded["scenarios"]:
        assert set(s["guiding_rule_ids"]) <= rule_ids and (s["cvc_rule_id"] is None or s["cvc_rule_id"] in rule_ids)
    items = set(loaded["dilemmas"]["id"]) | set(loaded["scenarios"]["id"])
    answers = loaded["evaluations"]
    assert set(answers["item_id"]) <= items
    assert all(a["choice"] is None for a in answers if a["error"])
    assert "/" not in "".join(answers["model"])
    assert sorted(loaded["taxonomy"]["id"]) == list(range(1, 51))


def test_planted_near_duplicates_share_the_original_rules_cluster(sample_build, tmp_path):
    out, _ = sample_build
    rules = datasets.load_dataset(str(out), "rules", split="train", cache_dir=str(tmp_path / "cache"))
    by_text = {r["rule"]: r for r in rules}
    for edited, original in (("与朋友发生矛盾时应该心平气和的沟通。", "与朋友发生矛盾时应该心平气和地沟通。"),
                             ("企业应当追求高质量发展而不是盲目扩张。", "企业应该追求高质量发展而不是盲目扩张。")):
        assert by_text[edited]["cluster_id"] == by_text[original]["id"] == by_text[original]["cluster_id"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    clustered = {m for members in manifest["near_duplicates"]["rules"].values() for m in members}
    assert clustered == {r["id"] for r in rules if r["cluster_id"] != r["id"]}
