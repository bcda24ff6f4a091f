"""Two versions of the sample with controlled edits: the diff, the enforced bump, the history."""

import json
import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from builders.build import BuildError, build_release
from builders.cli import main
from builders.configs.rules import rule_id
from builders.context import BuildSettings
from builders.release.diff import ReleaseView, _row_changes, diff_releases
from builders.release.versioning import VersionError, bump_between, check_version, next_version
from tests.conftest import FINAL_ROWS, write_csv, write_raw_tree

NEW_RULE = ["乘坐公共交通时应主动给老人让座", "Give your seat to the elderly on public transport.", "国家", "文明",
            "文明礼仪"]


def _edited_tree(root):
    """v2 raw: one rule added, one rewritten by a human, one now rejected (unknown value)."""
    rows = [r[:] for r in FINAL_ROWS] + [NEW_RULE]
    rows[5][4] = "文化素养、勤俭节约"  # 爱护公共设施…: now an unknown derived value → rejected
    raw = write_raw_tree(root, final_rows=rows)
    write_csv(raw / "data_control/label_rot_data/human/batch2.csv", ["rot", "标签", "重写"],
              [["盗掘古墓是不道德的行为。", "1", "盗掘古墓是违法行为"]])
    return raw


@pytest.fixture
def v1(raw_tree, tmp_path):
    out = tmp_path / "v1"
    build_release(raw_tree, out, BuildSettings(version="1.0.0"))
    return out


def test_diff_reports_rows_by_id_with_changed_fields(v1, tmp_path):
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    diff = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2))
    rules = diff.configs["rules"]
    assert rules.added == [rule_id(NEW_RULE[0])]
    assert rules.removed == [rule_id("爱护公共设施是每个公民的责任")]
    changed_fields = ["rule", "rewritten", "label", "label_origin", "labeler"]
    assert rules.changed == {rule_id("盗掘古墓是不道德的行为。"): changed_fields}
    assert diff.bump() == "minor"
    default = diff.configs["default"]
    assert (default.rows_old, default.rows_new) == (rules.rows_old, rules.rows_new)


def test_default_config_reports_the_rows_of_the_rules_it_shares(v1, tmp_path):
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    diff = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2))
    rules, default = diff.configs["rules"], diff.configs["default"]
    assert default.added == [rule_id(NEW_RULE[0])]
    assert (default.removed, default.changed) == (rules.removed, rules.changed)
    assert f"config default: {rules.rows_old} → {rules.rows_new} rows; +1 -1 ~1" in diff.to_text()
    history = json.loads((v2 / "manifest.json").read_text())["history"][-1]["configs"]
    assert history["default"] == {**history["rules"], "rows": rules.rows_new}


def test_diff_pairs_rows_by_id_whatever_their_order(v1, tmp_path):
    """A release whose rows are in another order (written by other tools) diffs the same."""
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    in_order = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2)).configs["rules"]
    shard = v2 / "data/rules/train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), shard)
    reordered = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2)).configs["rules"]
    assert (reordered.added, reordered.removed, reordered.changed) == (in_order.added, in_order.removed,
                                                                       in_order.changed)
    assert in_order.changed


def test_rows_with_numeric_ids_are_named_by_their_ids_as_text(v1, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(v1, edited)
    shard = edited / "data/taxonomy/train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.filter(pc.not_equal(table["id"], 50)), shard)
    taxonomy = diff_releases(ReleaseView.open(v1), ReleaseView.open(edited)).configs["taxonomy"]
    assert (taxonomy.added, taxonomy.removed, taxonomy.changed) == ([], ["50"], {})


def test_a_config_written_again_byte_for_byte_is_the_same_rows_unread(v1, tmp_path, monkeypatch):
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    read: list[str] = []
    real_ids = ReleaseView.ids
    monkeypatch.setattr(ReleaseView, "ids", lambda self, files: read.extend(files) or real_ids(self, files))
    diff = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2))
    same = [name for name, c in diff.configs.items() if c.status == "same" and all(
        (v1 / f).read_bytes() == (v2 / f).read_bytes() for f in ReleaseView.open(v1).files(name))]
    assert "taxonomy" in same and "rules" not in same
    assert not [f for name in same for f in ReleaseView.open(v1).files(name) if f in read]
    assert any(f.startswith("data/rules/") for f in read)
    old, new = ReleaseView.open(v1), ReleaseView.open(v2)
    for name in same:  # what reading them would have found
        c = diff.configs[name]
        fields = [f for f in old.schema_fields(name) if f != "id"]
        assert (c.added, c.removed, c.changed) == _row_changes(old, new, old.files(name), new.files(name), fields)


def test_a_file_rewritten_after_its_manifest_is_compared_by_its_bytes(v1, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(v1, edited)  # its manifest still records the old hashes
    shard = edited / "data/rules/train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.set_column(table.schema.get_field_index("rule"), "rule",
                                    pc.binary_join_element_wise(table["rule"], "!", "")), shard)
    rules = diff_releases(ReleaseView.open(v1), ReleaseView.open(edited)).configs["rules"]
    assert len(rules.changed) == table.num_rows and not rules.added and not rules.removed


def test_build_refuses_a_version_that_understates_the_change(v1, tmp_path):
    with pytest.raises(BuildError, match="need a minor bump: use --version 1.1.0"):
        build_release(_edited_tree(tmp_path / "raw2"), tmp_path / "v2", BuildSettings(version="1.0.1"), previous=v1)
    assert not (tmp_path / "v2").exists()
    with pytest.raises(BuildError, match="not newer"):
        build_release(_edited_tree(tmp_path / "raw3"), tmp_path / "v3", BuildSettings(version="1.0.0"), previous=v1)


def test_bump_auto_picks_the_smallest_honest_version(v1, tmp_path):
    report = build_release(_edited_tree(tmp_path / "raw2"), tmp_path / "v2", previous=v1, bump="auto")
    assert report.version == "1.1.0"
    manifest = json.loads((tmp_path / "v2/manifest.json").read_text())
    assert manifest["version"] == "1.1.0"
    assert [h["version"] for h in manifest["history"]] == ["1.0.0", "1.1.0"]


def test_changelog_and_card_versions_carry_history_forward(v1, tmp_path):
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    changelog = (v2 / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index("## v1.1.0 (minor change since v1.0.0)") < changelog.index("## v1.0.0 (first release)")
    assert "1 added; 1 removed; 1 changed" in changelog
    card = (v2 / "README.md").read_text(encoding="utf-8")
    assert "## Versions" in card
    assert "| `v1.1.0` | minor |" in card and "| `v1.0.0` | initial |" in card


def test_report_says_what_happened_to_each_previous_id(v1, tmp_path):
    build_release(_edited_tree(tmp_path / "raw2"), tmp_path / "v2", BuildSettings(version="1.1.0"), previous=v1)
    records = [json.loads(line) for line in (tmp_path / "v2-report/previous_ids.jsonl").read_text().splitlines()]
    records = [r for r in records if r["config"] == "rules"]
    by_id = {r["id"]: r for r in records}
    assert len(records) == pq.read_metadata(v1 / "data/rules/train-00000-of-00001.parquet").num_rows
    removed = by_id[rule_id("爱护公共设施是每个公民的责任")]
    assert removed["status"] == "removed"
    assert "unknown derived value '勤俭节约'" in removed["reasons"][0]
    assert "data_control/final.csv:7" in removed["reasons"][0]
    assert by_id[rule_id("盗掘古墓是不道德的行为。")]["status"] == "changed"
    assert by_id[rule_id("诚实守信是做人的根本")]["status"] == "kept"


def test_field_added_and_removed_are_minor_and_major(v1, tmp_path):
    older = tmp_path / "older"
    build_release(write_raw_tree(tmp_path / "raw0"), older, BuildSettings(version="0.9.0"))
    schema_path = older / "schemas/rules.schema.json"
    schema = json.loads(schema_path.read_text())
    del schema["properties"]["labeler"]
    schema_path.write_text(json.dumps(schema))
    shard = older / "data/rules/train-00000-of-00001.parquet"
    pq.write_table(pq.read_table(shard).drop_columns(["labeler"]), shard)
    forward = diff_releases(ReleaseView.open(older), ReleaseView.open(v1))
    assert forward.configs["rules"].fields_added == ["labeler"] and forward.bump() == "minor"
    backward = diff_releases(ReleaseView.open(v1), ReleaseView.open(older))
    assert backward.configs["rules"].fields_removed == ["labeler"] and backward.bump() == "major"


def test_cli_diff_json_and_fail_on_breaking(v1, tmp_path, capsys):
    v2 = tmp_path / "v2"
    build_release(_edited_tree(tmp_path / "raw2"), v2, BuildSettings(version="1.1.0"), previous=v1)
    assert main(["diff", str(v1), str(v2), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bump"] == "minor" and data["configs"]["rules"]["added"] == [rule_id(NEW_RULE[0])]
    assert main(["diff", str(v1), str(v2), "--fail-on", "breaking"]) == 0
    assert main(["diff", str(v1), str(v2), "--fail-on", "any"]) == 1
    assert main(["diff", str(v1), str(v2)]) == 0
    assert "v1.0.0 → v1.1.0: minor change" in capsys.readouterr().out


def test_cli_verify(v1, capsys):
    assert main(["verify", str(v1)]) == 0
    (v1 / "CHANGELOG.md").write_text("tampered\n")
    assert main(["verify", str(v1)]) == 1
    assert "CHANGELOG.md: size 9 != " in capsys.readouterr().out


def test_semver_rules():
    assert next_version("1.2.3", "major") == "2.0.0"
    assert next_version("1.2.3", "minor") == "1.3.0"
    assert next_version("1.2.3", "patch") == next_version("1.2.3", "none") == "1.2.4"
    assert bump_between("1.2.3", "v1.10.0") == "minor"
    check_version("1.2.3", "2.0.0", "minor")  # over-stating is allowed
    with pytest.raises(VersionError, match="major bump"):
        check_version("1.2.3", "1.3.0", "major")
