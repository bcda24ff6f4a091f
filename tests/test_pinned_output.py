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
    "dilemmas": "3818fc2df63c924e75f404dec7158e0c1df1c8a6e7010a71377dc8ceb0fcfe51",
    "evaluations": "4d10f1877854e11309415b0cf5f540ac76c65eddf1c48dcd0aaa73b27a1248d7",
    "rules": "289ac6dbd8c6d059b6b5e77bd4984bdade60ee7b5db18c3dca445c6b00cc99a0",
    "scenarios": "287eaad548a9f825ae734aa3969eb19b0c1e623945c67b666476455140cd9773",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "51fe038bb3e4859b0b226aa25132deef04df27d5b94b337352a97d21d98241e2",
    "report/folds.jsonl": "1e41cbc972a2f24199172e41525cc72f0e807590151be977af89b3402bd972a2",
    "report/repairs.jsonl": "c53de41e432d2d2948f4b5f533c5d1d85c6a1f14c2d14171fffaef3aa15c1ef1",
}
SYNTH_DIGESTS: dict[str, str] = {
    "dilemmas": "49b08858bd834060e5f9d30edd6517067a12e36bc4e23eed6c53049c613621af",
    "evaluations": "f45085f105ad8e5c5e895452706f87dd1a7caf8e04138f5f216f4f61105d14a0",
    "rules": "460cd3dad935b5f2264bba3ec4896d1b5588032001de7034ea2d3e40b7938aed",
    "scenarios": "d9628458c72d78abd06b0caf518c8fa68e5e96d5f34147de3a985fa4a1a5d2c4",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "2159c3d438af6471124c8e537923765c43f366e1be04f81222808bd471c0a0ca",
    "report/folds.jsonl": "f1b7dc5d9866765bc234533e4bf713ad2646f0df53c2305d4ac116116a57b656",
    "report/repairs.jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
SYNTH_FOLD_DIGESTS: dict[str, str] = {
    "dilemmas": "49b08858bd834060e5f9d30edd6517067a12e36bc4e23eed6c53049c613621af",
    "evaluations": "f45085f105ad8e5c5e895452706f87dd1a7caf8e04138f5f216f4f61105d14a0",
    "rules": "7a9dc044ed7a20a7312da6637795af062053ec67296f537bc66be0c9a5dace38",
    "scenarios": "d9628458c72d78abd06b0caf518c8fa68e5e96d5f34147de3a985fa4a1a5d2c4",
    "taxonomy": "4fbfce4d3c9f9b1e4e7c37b8a23678a4f5d882a6db9d77dea3dd418b94aa2907",
    "report/rejects.jsonl": "2159c3d438af6471124c8e537923765c43f366e1be04f81222808bd471c0a0ca",
    "report/folds.jsonl": "065d0ddad5a00f31642aef828f26f666a91eeec9b4699a8a54060ef21e4e84d1",
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
