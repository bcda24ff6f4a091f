"""A release that validates loads: configs without rows are left out (and named in the card), and
`cvc validate` / `cvc publish` load every config with the real `datasets` reader before trusting it.

The trees here have no experiment files (like a full-size `cvc synth` tree), so `scenarios` has no rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.build import build_release
from builders.cli import main
from builders.context import BuildSettings
from builders.hub.errors import InvalidReleaseError
from builders.hub.publish import publish
from builders.release.diff import ReleaseView, diff_releases
from builders.release.manifest import describe_file
from builders.release.verify import read_card_metadata, validate_release, verify_release
from builders.synth import SynthSizes, synthesize
from tests.hub_fixtures import TOKEN

REPO = "Beijing-AISI/CVC"
SIZES = SynthSizes(rules=300, dilemmas=60, models=2, evaluated=20)


@pytest.fixture(scope="module")
def no_experiments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic tree (no experiment files) built once for the module; tests copy it before editing."""
    root = tmp_path_factory.mktemp("no-experiments")
    synthesize(root / "raw", SIZES, seed=3)
    assert not list((root / "raw").glob("experiment*")), "the synthetic tree has no experiment files"
    return build_release(root / "raw", root / "release", BuildSettings(version="1.0.0")).release_dir


def test_a_config_without_rows_is_not_written_and_the_card_says_so(no_experiments):
    release = no_experiments
    assert not (release / "data" / "scenarios").exists()
    card = read_card_metadata(release)
    listed = [c["config_name"] for c in card["configs"]]
    assert "scenarios" not in listed and {"rules", "dilemmas", "evaluations", "taxonomy", "default"} <= set(listed)
    assert "scenarios" not in [info["config_name"] for info in card["dataset_info"]]
    text = (release / "README.md").read_text(encoding="utf-8")
    assert "Not in this release: `scenarios`" in text and "## Config `scenarios`" not in text
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert "scenarios" not in manifest["configs"] and manifest["absent_configs"] == ["scenarios"]


def test_the_release_validates_and_loads_whole(no_experiments, tmp_path, capsys):
    """validate_release loads every config with load_dataset and compares rows with the manifest."""
    import datasets

    result = validate_release(no_experiments)
    assert result.ok, result.errors
    assert main(["validate", str(no_experiments)]) == 0
    assert "valid release" in capsys.readouterr().out
    manifest = json.loads((no_experiments / "manifest.json").read_text(encoding="utf-8"))
    for config, spec in manifest["configs"].items():
        loaded = datasets.load_dataset(str(no_experiments), config, cache_dir=str(tmp_path / config))
        assert {s: d.num_rows for s, d in loaded.items()} == {s: v["num_rows"] for s, v in spec["splits"].items()}


def test_the_release_publishes_and_verifies(no_experiments, hub, capsys):
    result = publish(no_experiments, REPO, endpoint=hub.endpoint, token=TOKEN, backoff=0.01)
    assert result.tag == "v1.0.0"
    assert set(result.verified) == {"default", "rules", "rules_en", "taxonomy", "dilemmas", "evaluations"}
    assert verify_release(no_experiments).ok
    assert main(["verify", str(no_experiments)]) == 0


def test_removing_a_config_the_previous_release_had_is_a_major_change(no_experiments, tmp_path):
    previous = tmp_path / "previous"
    shutil.copytree(no_experiments, previous)
    manifest = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
    manifest["configs"]["scenarios"] = {"schema": "schemas/scenarios.schema.json",
                                        "splits": {"train": {"files": [], "num_rows": 3}}}
    (previous / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    diff = diff_releases(ReleaseView.open(previous), ReleaseView.open(no_experiments))
    assert diff.configs["scenarios"].status == "removed" and diff.bump() == "major"


def _empty_the_shard(release: Path, config: str) -> None:
    """Replace a config's only shard with 0 rows of the same schema, and re-hash the manifest to match:
    every check but loading passes (the hand-made form of the release the issue describes)."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    (rel,) = manifest["configs"][config]["splits"]["train"]["files"]
    schema = pq.read_schema(release / rel)
    pq.write_table(pa.Table.from_pylist([], schema=schema), release / rel)
    manifest["files"][rel] = describe_file(release / rel)
    manifest["configs"][config]["splits"]["train"]["num_rows"] = 0
    (release / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")


def test_an_unloadable_release_fails_validation_and_is_refused_before_any_upload(no_experiments, tmp_path, hub,
                                                                                   capsys):
    broken = tmp_path / "broken"
    shutil.copytree(no_experiments, broken)
    _empty_the_shard(broken, "taxonomy")
    assert verify_release(broken).ok, "hashes and row counts agree: only loading can tell"

    errors = validate_release(broken).errors
    assert len(errors) == 1 and errors[0].startswith("config taxonomy: load_dataset fails:"), errors
    assert main(["validate", str(broken)]) == 1
    assert "config taxonomy: load_dataset fails" in capsys.readouterr().out

    with pytest.raises(InvalidReleaseError) as refused:
        publish(broken, REPO, endpoint=hub.endpoint, token=TOKEN, backoff=0.01)
    assert "nothing was sent" in str(refused.value) and "taxonomy" in str(refused.value)
    assert main(["publish", str(broken), "--repo", REPO, "--endpoint", hub.endpoint]) == 1
    assert "load_dataset fails" in capsys.readouterr().err
    assert REPO not in hub.state.repos and not hub.state.uploads
