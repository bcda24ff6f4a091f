import shutil

import pytest

from builders.configs.scenarios import ARTIFACTS
from builders.resources import sample_raw_dir
from builders.stages.readers.layout import LayoutError, discover


def test_experiment1_side_outputs_are_not_read_as_scenes(tmp_path):
    """select_rule.py's rules.csv and data_analysis.py's distance table sit next to the scene files."""
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw_dir() / "experiment1", raw / "experiment1")
    (raw / "experiment1/rules.csv").write_text("富强,民主\n第一条规则,第二条规则\n", encoding="utf-8")
    (raw / "experiment1/100/with_rule_scene_distance.csv").write_text("theme,distance\n友善,0.91\n", encoding="utf-8")
    found = [a.relpath for a in discover(raw, ARTIFACTS) if a.kind.name == "guided_scenes"]
    assert found == ["experiment1/100/with_rule_scene_100.csv", "experiment1/100/without_rule_scene_100.csv"]


def test_a_scene_file_without_its_columns_names_the_file(tmp_path):
    raw = tmp_path / "raw"
    (raw / "experiment1/100").mkdir(parents=True)
    (raw / "experiment1/100/with_rule_scene_100.csv").write_text("index,theme,scene\n0,友善,1：x\n", encoding="utf-8")
    [artifact] = discover(raw, ARTIFACTS)
    with pytest.raises(LayoutError, match=r"scene_100\.csv: a guided_scenes file needs .*missing \['rules'\]"):
        artifact.read()
