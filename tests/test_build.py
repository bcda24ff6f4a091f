import fnmatch
import json

import datasets
import pyarrow.parquet as pq
import pytest

from builders.build import BuildError, build_release
from builders.context import BuildSettings
from builders.release.manifest import release_files, sha256_file
from builders.release.verify import read_card_metadata, validate_release
from builders.schema import field_table
from tests.conftest import TEST_LICENSE


@pytest.fixture
def release(raw_tree, tmp_path):
    out = tmp_path / "release"
    build_release(raw_tree, out, BuildSettings(version="1.2.0"))
    return out


def test_release_layout(release):
    files = release_files(release)
    assert {"README.md", "CHANGELOG.md", "schemas/rules.schema.json"} <= set(files)
    assert "data/rules/train-00000-of-00001.parquet" in files
    assert (release / "manifest.json").exists()
    assert not any(f.endswith(".py") for f in files)


def test_two_builds_give_identical_bytes(raw_tree, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_release(raw_tree, a)
    build_release(raw_tree, b)
    assert release_files(a) == release_files(b)
    for rel in [*release_files(a), "manifest.json"]:
        assert sha256_file(a / rel) == sha256_file(b / rel), rel


def test_card_yaml_parses_and_configs_resolve(release):
    card = read_card_metadata(release)
    # the raw tree's LICENSE file (a license the Hub does not list): named, linked, shipped as it is
    assert (card["license"], card["license_link"]) == ("other", "LICENSE")
    assert card["license_name"] == "test-tree-license-version-1.0"
    assert (release / "LICENSE").read_text(encoding="utf-8") == TEST_LICENSE
    assert card["version"] == "1.2.0"
    assert card["annotations_creators"] == ["expert-generated", "machine-generated"]
    assert {"pretty_name", "language", "task_categories", "size_categories", "dataset_info"} <= set(card)
    configs = {c["config_name"]: c for c in card["configs"]}
    assert configs["default"]["data_files"] == [{"split": "cvc", "path": "data/rules/train-*.parquet"}]
    files = release_files(release)
    for config in configs.values():
        for data_files in config["data_files"]:
            assert fnmatch.filter(files, data_files["path"]), data_files
    info = {i["config_name"]: i for i in card["dataset_info"]}
    manifest = json.loads((release / "manifest.json").read_text())
    assert info["rules"]["splits"][0]["num_examples"] == manifest["configs"]["rules"]["splits"]["train"]["num_rows"]


def test_card_sections(release):
    text = (release / "README.md").read_text(encoding="utf-8")
    for heading in ("## How to load", "## The value framework", "## Config `rules`", "### Fields",
                    "### Statistics", "## Sources and licenses", "## Migrating from v1", "## Citation"):
        assert heading in text
    for name, type_label, _ in field_table("rules"):
        assert f"| {name} | {type_label} |" in text
    assert "CC BY-NC-SA 4.0" in text and "法制教育" in text


def test_loads_with_datasets_by_config_and_default(release, tmp_path):
    rules = datasets.load_dataset(str(release), "rules", cache_dir=str(tmp_path / "cache"))
    assert list(rules) == ["train"]
    assert rules["train"].features["label"] == datasets.Value("int8")
    table = pq.read_table(release / "data/rules/train-00000-of-00001.parquet")
    assert rules["train"].num_rows == table.num_rows > 0
    legacy = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "cache"))
    assert list(legacy) == ["cvc"]
    assert legacy["cvc"]["id"] == rules["train"]["id"]


def test_validate_passes_then_catches_tampering(release):
    assert validate_release(release).ok
    shard = release / "data/rules/train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    rows = table.to_pylist()
    rows[0]["derived_values"] = ["勤俭节约"]
    pq.write_table(table.from_pylist(rows, schema=table.schema), shard)
    result = validate_release(release)
    assert not result.ok
    assert any(e.startswith("data/rules/train-00000-of-00001.parquet: ") and ("size" in e or "sha256" in e)
               for e in result.errors)
    assert any("row 0: derived_values[]" in e for e in result.errors)
    (release / "CVC.py").write_text("print('no')\n")
    assert any("Python files" in e for e in validate_release(release).errors)


def test_strict_build_fails_on_rejects_and_leaves_no_release(raw_tree, tmp_path):
    out = tmp_path / "strict"
    with pytest.raises(BuildError, match="rejected"):
        build_release(raw_tree, out, strict=True)
    assert not out.exists()
    assert (tmp_path / "strict-report" / "rejects.jsonl").read_text(encoding="utf-8").count("\n") > 0


def test_refuses_to_replace_a_directory_that_is_not_a_release(raw_tree, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not a release directory"):
        build_release(raw_tree, out)
    assert (out / "notes.txt").exists()


def test_a_finished_build_is_freed_without_the_cyclic_collector():
    # A stored exception's traceback once held the whole build in a reference cycle.
    import gc
    import weakref

    from builders.build import collect
    from builders.resources import sample_raw_dir

    enabled = gc.isenabled()
    gc.disable()
    try:
        ctx = collect(sample_raw_dir())
        assert ctx.ledger.counts("rules")["rejected"] > 0 and ctx.ledger.counts("dilemmas")["read"] > 0
        alive = weakref.ref(ctx)
        del ctx
        assert alive() is None
    finally:
        if enabled:
            gc.enable()


def test_a_built_table_failing_its_schema_leaves_no_release(raw_tree, tmp_path, monkeypatch):
    """Shards are written while the tables are validated; a table failing its schema stops the
    build with the config named, and neither the release nor the staging directory remains."""
    from builders import build as release_module
    from builders.stages.validate import TableValidator

    validate = TableValidator.validate

    def failing_dilemmas(self, table, **kwargs):
        errors = validate(self, table, **kwargs)
        return errors + ["row 0: planted"] if "pair_id" in table.column_names else errors

    monkeypatch.setattr(release_module.TableValidator, "validate", failing_dilemmas)
    out = tmp_path / "release"
    with pytest.raises(BuildError, match="built dilemmas rows fail their schema: row 0: planted"):
        build_release(raw_tree, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".release-")] == []


def test_a_raw_tree_that_cannot_be_read_leaves_nothing_behind(tmp_path):
    from builders.stages.readers.layout import LayoutError

    out = tmp_path / "release"
    with pytest.raises(LayoutError, match="not a directory"):
        build_release(tmp_path / "missing", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_each_table_is_handed_on_once_it_is_final():
    """``collect`` hands each config's table to ``on_final`` once nothing will change it: the
    dilemmas before the evaluations are built, the rules, whose near-duplicate clusters are
    marked at the end, last, and every table handed on is the one the build ends with."""
    from builders.build import collect
    from builders.configs import evaluations
    from builders.resources import sample_raw_dir

    events = []
    build = evaluations.build

    def recorded_build(ctx):
        events.append("evaluations built")
        return build(ctx)

    told = {}

    def on_final(config, table):
        events.append(config)
        told[config] = table

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluations, "build", recorded_build)
        ctx = collect(sample_raw_dir(), num_proc=2, on_final=on_final)
    assert events.index("dilemmas") < events.index("evaluations built") < events.index("evaluations")
    assert events[-1] == "rules" and "cluster_id" in told["rules"].column_names
    assert set(told) == set(ctx.tables) and all(told[c] is ctx.tables[c] for c in told)
    assert len(events) == len(set(events))
