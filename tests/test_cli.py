import json

import pytest

from builders.cli import main


def test_build_then_validate(raw_tree, tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["build", "--raw", str(raw_tree), "--out", str(out), "--version", "v2.0.0"]) == 0
    printed = capsys.readouterr().out
    assert "published" in printed and "rejected" in printed
    assert json.loads((out / "manifest.json").read_text())["version"] == "2.0.0"
    assert main(["validate", str(out)]) == 0
    assert "valid release" in capsys.readouterr().out


def test_validate_raw_tree_lists_invalid_rows_and_exits_1(raw_tree, capsys):
    assert main(["validate", str(raw_tree)]) == 1
    printed = capsys.readouterr().out
    assert "invalid: data_control/final.csv:6: derived values: unknown derived value '勤俭节约'" in printed


def test_strict_build_exits_1(raw_tree, tmp_path, capsys):
    assert main(["build", "--raw", str(raw_tree), "--out", str(tmp_path / "o"), "--strict"]) == 1
    assert "--strict" in capsys.readouterr().err


def test_bad_version_is_refused():
    with pytest.raises(SystemExit):
        main(["build", "--version", "1.2"])


def test_near_dup_options_reach_the_manifest(raw_tree, tmp_path, capsys):
    out = tmp_path / "release"
    assert main(["build", "--raw", str(raw_tree), "--out", str(out), "--near-dup", "fold",
                 "--near-dup-threshold", "0.8", "--num-proc", "2"]) == 0
    settings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["settings"]["near_dup"]
    assert (settings["mode"], settings["threshold"]) == ("fold", 0.8)
    assert main(["build", "--raw", str(raw_tree), "--out", str(out), "--near-dup-threshold", "1.5"]) == 2
    assert "use a Jaccard similarity in (0, 1]" in capsys.readouterr().err
