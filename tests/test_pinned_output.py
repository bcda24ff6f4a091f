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
    "dilemmas": "abdf480a67dbbb5f1ff265873f73e318ea218384b25c526e3be59d605045814e",
    "evaluations": "b0a8d38138f914d6368d0abea4c1e89bebd3c5653ff5a391b38f01f7c8b010c2",
    "rules": "fee6fbd579376473a6c7bcc5ddb27398508cc0e5923ed38db7e6dbde185bd974",
    "rules_en": "2f3e34c25b558216abe8946864a49f1bb2faa70692a9e52f14e214b56d0dce45",
    "scenarios": "4ea1e5df736f894815dd8cc0e0b9cd712a0e3e162a7700a394d9f77605571aa1",
    "taxonomy": "8e27c87dcefad0f977c2018ee327416a72c0516283485dbf33a4c9fd045a0a66",
    "report/rejects.jsonl": "15391886a3a0a1f492c0c85b9defa68cac6695d4ef50e3914079666b34d9b4c8",
    "report/folds.jsonl": "280c3b0a63ee4a4938cb6db84773078e591b2c90ecebe26412c8edfec166feec",
    "report/repairs.jsonl": "f6c91e9b4712926cd664991597898c9e4a311c179f9f6eb0142ed9dfab93d3ef",
}
SYNTH_DIGESTS: dict[str, str] = {
    "dilemmas": "eeccbe322bd53199bf841387abdb066464f14e6762e0e241f72aab53626ef81e",
    "evaluations": "0039849f02c1ed6311f29144a914ff2860d8f38783432a7b6aada55b806fe85e",
    "rules": "d4adfe93bf30737a0fae5fe6facdf7cb576a0f359f4fd5da8f15ee4d7f168966",
    "rules_en": "4e68e504df8984aa5be1f640dd86b201b264cce8f6dd77ba64613637ef7725f4",
    "taxonomy": "8e27c87dcefad0f977c2018ee327416a72c0516283485dbf33a4c9fd045a0a66",
    "report/rejects.jsonl": "7cdbd651f89c1ad0accc69125acf17e75077a1a21d4488d283795dfa09af1da1",
    "report/folds.jsonl": "db0b35c15919be6910ed1ebb81eebe024d0405ee5d44488837c939ff930d32f8",
    "report/repairs.jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
SYNTH_FOLD_DIGESTS: dict[str, str] = {
    "dilemmas": "eeccbe322bd53199bf841387abdb066464f14e6762e0e241f72aab53626ef81e",
    "evaluations": "0039849f02c1ed6311f29144a914ff2860d8f38783432a7b6aada55b806fe85e",
    "rules": "7a290ea55033118c51d41fc94d0ca8c4e40e2d5b342c62114e51f7ebbdf8db3e",
    "rules_en": "4e68e504df8984aa5be1f640dd86b201b264cce8f6dd77ba64613637ef7725f4",
    "taxonomy": "8e27c87dcefad0f977c2018ee327416a72c0516283485dbf33a4c9fd045a0a66",
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
