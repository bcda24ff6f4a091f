"""The bytes a build writes, pinned: a refactor keeps every config's files and the ledger identical.

A change that alters the output on purpose updates the digests here in a commit of its own
that says why. Each digest is the SHA-256 of the sorted ``path sha256`` lines of one config's
data files (or of one build-report file), so a failure names the config that moved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from builders.build import build_release
from builders.context import BuildSettings
from builders.release.manifest import sha256_file
from builders.stages.near_dedup import NearDupSettings
from builders.synth import SynthSizes, synthesize

SAMPLE_RAW = Path(__file__).resolve().parents[1] / "sample" / "raw"
SYNTH_SIZES = SynthSizes(rules=2_000, dilemmas=400, models=3, evaluated=120)
REPORT_FILES = ("rejects.jsonl", "folds.jsonl", "repairs.jsonl")

SAMPLE_DIGESTS: dict[str, str] = {
    "dilemmas": "005e5f95575b5d40de7baae9cf1474cd356e53b103c761dfe23afd64cd431c0c",
    "evaluations": "d59357ee55817c86bb05b675927c81b637a043511e85b5ff431fa04d7c80cdb9",
    "rules": "289ac6dbd8c6d059b6b5e77bd4984bdade60ee7b5db18c3dca445c6b00cc99a0",
    "rules_en": "d71b272d059be56eeafcbe1fe47720024d03b73d2a8dec1947b984bd249eef80",
    "scenarios": "f99a441bcf82c71c3842adb1ea4f97aef6941b9a8118302b882bce08c003b034",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "15391886a3a0a1f492c0c85b9defa68cac6695d4ef50e3914079666b34d9b4c8",
    "report/folds.jsonl": "280c3b0a63ee4a4938cb6db84773078e591b2c90ecebe26412c8edfec166feec",
    "report/repairs.jsonl": "f6c91e9b4712926cd664991597898c9e4a311c179f9f6eb0142ed9dfab93d3ef",
}
SYNTH_DIGESTS: dict[str, str] = {
    "dilemmas": "843f6dae9f9107b06cc1a1be6b4996ee6847a534ad12770d7f3a909e42fc2649",
    "evaluations": "f45085f105ad8e5c5e895452706f87dd1a7caf8e04138f5f216f4f61105d14a0",
    "rules": "460cd3dad935b5f2264bba3ec4896d1b5588032001de7034ea2d3e40b7938aed",
    "rules_en": "c7ea652b97bf759f94803d2ba6bede2be387961dbf4e7775db6688507ecce9dc",
    "scenarios": "b095245616d75c835eb93b9305f98db92e0588fa1567a48b50e87b6c45644a0d",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "7cdbd651f89c1ad0accc69125acf17e75077a1a21d4488d283795dfa09af1da1",
    "report/folds.jsonl": "db0b35c15919be6910ed1ebb81eebe024d0405ee5d44488837c939ff930d32f8",
    "report/repairs.jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
SYNTH_FOLD_DIGESTS: dict[str, str] = {
    "dilemmas": "843f6dae9f9107b06cc1a1be6b4996ee6847a534ad12770d7f3a909e42fc2649",
    "evaluations": "f45085f105ad8e5c5e895452706f87dd1a7caf8e04138f5f216f4f61105d14a0",
    "rules": "7a9dc044ed7a20a7312da6637795af062053ec67296f537bc66be0c9a5dace38",
    "rules_en": "c7ea652b97bf759f94803d2ba6bede2be387961dbf4e7775db6688507ecce9dc",
    "scenarios": "b095245616d75c835eb93b9305f98db92e0588fa1567a48b50e87b6c45644a0d",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "7cdbd651f89c1ad0accc69125acf17e75077a1a21d4488d283795dfa09af1da1",
    "report/folds.jsonl": "7c5fc8b675a915305e3a6f5577c5cf300ef4c723142a341f6456b7c4f7114b2a",
    "report/repairs.jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


def output_digests(release: Path, report: Path) -> dict[str, str]:
    """One digest per config (its data files) and per ledger view of the build report."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    by_config: dict[str, list[str]] = {}
    for rel, entry in sorted(manifest["files"].items()):
        if rel.startswith("data/"):
            by_config.setdefault(rel.split("/")[1], []).append(f"{rel} {entry['sha256']}")
    digests = {config: hashlib.sha256("\n".join(lines).encode()).hexdigest() for config, lines in by_config.items()}
    for name in REPORT_FILES:
        digests[f"report/{name}"] = sha256_file(report / name)
    return digests


def _build(raw: Path, tmp_path: Path, settings: BuildSettings | None = None) -> dict[str, str]:
    build_release(raw, tmp_path / "out", settings, report_dir=tmp_path / "report")
    return output_digests(tmp_path / "out", tmp_path / "report")


def test_sample_build_bytes_are_pinned(tmp_path):
    assert _build(SAMPLE_RAW, tmp_path) == SAMPLE_DIGESTS


@pytest.fixture(scope="module")
def synth_raw(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("synth") / "raw"
    synthesize(raw, SYNTH_SIZES, seed=7)
    return raw


def test_synthetic_build_bytes_are_pinned(synth_raw, tmp_path):
    assert _build(synth_raw, tmp_path) == SYNTH_DIGESTS


def test_synthetic_build_with_near_duplicates_folded_is_pinned(synth_raw, tmp_path):
    settings = BuildSettings(near_dup=NearDupSettings(mode="fold"))
    assert _build(synth_raw, tmp_path, settings) == SYNTH_FOLD_DIGESTS
