"""The synthetic tree: deterministic, in the upstream formats, with its planted faults where it says."""

import json

from builders.manifest import sha256_file
from builders.release import collect
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


def test_master_table_is_gbk_and_planted_bad_rows_are_exactly_the_rejects(tmp_path):
    truth = synthesize(tmp_path / "raw", SIZES, seed=1)
    (tmp_path / "raw/data_control/final.csv").read_bytes().decode("gbk")
    ctx = collect(tmp_path / "raw")
    rejects = {(e.file, e.line) for e in ctx.ledger.entries("rejected")}
    assert rejects == {(b["file"], b["line"]) for b in truth["bad_rows"]}
    counts = ctx.ledger.counts()
    assert counts["read"] == counts["published"] + counts["folded"] + counts["excluded"] + counts["rejected"]
    assert len(ctx.results["dilemmas"]) == SIZES.dilemmas
    assert len(ctx.results["evaluations"]) == SIZES.models * SIZES.evaluated


def test_planted_near_duplicate_groups_are_recorded_and_present(tmp_path):
    truth = synthesize(tmp_path / "raw", SIZES, seed=2)
    assert len(truth["near_duplicate_groups"]) == int(SIZES.rules * SIZES.near_dup_share)
    saved = json.loads((tmp_path / "raw/synth_truth.json").read_text(encoding="utf-8"))
    assert saved["near_duplicate_groups"] == truth["near_duplicate_groups"]
    published = {r["original_rule"] for r in collect(tmp_path / "raw").results["rules"]}
    for base, copy in truth["near_duplicate_groups"]:
        assert base != copy
        assert copy in published
