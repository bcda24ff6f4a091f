"""Shared fixtures: a tiny raw tree in the upstream formats, written inline."""

from __future__ import annotations

import os

# The test Hub speaks the LFS protocol, not Xet: make the real client use LFS uploads.
os.environ["HF_HUB_DISABLE_XET"] = "1"

import csv  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

FINAL_ROWS = [
    ["尊重其他种族的传统文化是应该的", "It is right to respect the traditions of other races.",
     "国家、个人", "文明、友善", "文明礼仪、尊重他人"],
    ["醉酒驾驶是违反法律的行为。", "Drunk driving breaks the law.", "", "", "严格执法"],
    ["  醉酒驾驶是违反法律的行为 ", "Drunk driving breaks the law.", "", "", "严格守法"],
    ["", "An empty rule.", "国家", "富强", "高质量发展"],
    ["应该节约粮食", "Save food.", "个人", "友善", "勤俭节约"],
    ["爱护公共设施是每个公民的责任", "Caring for public facilities is every citizen's duty.",
     "国家层面", "文明", "文化素养、精神文明"],
]
LLM_ROWS = [
    [0, "尊重其他种族的传统文化是应该的", "国家、个人", "文明、友善", "文明礼仪、尊重他人", "标签：1\n重写："],
    [1, "周末睡懒觉是可以的", "个人", "友善", "关爱他人", "标签:0\n重写:"],
    [2, "在公共场合大声喧哗别人会很烦所以你不应该这样做", "国家", "文明", "文明礼仪",
     "标签：1\n重写：不应在公共场合大声喧哗"],
    [3, "考试作弊是可以理解的", "个人", "诚信", "真诚无欺", "标签： -1\n重写：考试作弊是不诚实的行为"],
    [4, "随地吐痰没什么大不了", "国家", "文明", "文明礼仪", "标签：-1\n重写："],
    [5, "坏", "国家", "文明", "文明礼仪", "抱歉，我无法回答这个问题。"],
]
HUMAN_ROWS = [
    ["在公共场合大声喧哗别人会很烦所以你不应该这样做", "-1", "应该在公共场合保持安静"],
    ["不存在于任何规则表的规则", "1", ""],
    ["尊重其他种族的传统文化是应该的", "2", ""],
]
GENERATED_ROWS = [
    [0, "盗掘古墓是不道德的行为。", "层面:社会\n核心价值：法治\n衍生价值：严格守法，全民守法"],
    [1, "rot：帮助迷路的老人回家是好事", "好的，分类如下：\n层面：个人\n核心价值：友善\n衍生价值：关爱他人"],
    [2, "随意插队是不文明的", "无法分类"],
]
SEED_ROWS = [
    ["Drunk driving breaks the law.", "", "Social", "Rule of Law", "Strict law observance", "", "bb", "1"],
    ["You should call your mom.", "", "Personal", "Friendship", "Caring for others", "", "bb", "1"],
    ["Ignore this one.", "", "Personal", "Kindness", "Caring for others", "", "bb", "0"],
]
V1_LINES = [
    {"rule": "尊重其他种族的传统文化是应该的", "level": ["社会"], "core values": ["文明"],
     "derived values": ["文明礼仪"]},
    {"rule": "诚实守信是做人的根本", "level": ["Person"], "core values": ["Integrity"],
     "derived values": ["Keeping promises"]},
]


TEST_LICENSE = """TEST TREE LICENSE
Version 1.0

Rows written inline by the test suite. Any use is allowed.

Citation:
"The CVC builder's test tree" (2026).
"""


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> None:
    """Write a CSV the way pandas ``to_csv(index=False)`` does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_raw_tree(root: Path, *, final_rows: list[list] | None = None) -> Path:
    """A raw tree with one file of each rule artifact kind and a few planted faults."""
    write_csv(root / "data_control/final.csv", ["rot", "translate", "level", "core values", "derived values"],
              FINAL_ROWS if final_rows is None else final_rows, encoding="gbk")
    write_csv(root / "data_control/label_rot_data/llm/llm_label_raw.csv",
              ["index", "rot", "level", "core values", "derived values", "标签"], LLM_ROWS)
    write_csv(root / "data_control/label_rot_data/human/batch1.csv", ["rot", "标签", "重写"], HUMAN_ROWS)
    write_csv(root / "rule_generation/6_final/flames_rot.csv", ["index", "rot", "derived_values"], GENERATED_ROWS)
    write_csv(root / "basic_value_rule/mic/remain.csv",
              ["rot", "characters", "Level", "Core Values", "Derived Values", "action", "model", "retain"], SEED_ROWS)
    with open(root / "CVC.jsonl", "w", encoding="utf-8") as fh:
        for line in V1_LINES:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        fh.write("{broken json\n")
    (root / "LICENSE").write_text(TEST_LICENSE, encoding="utf-8")
    return root


@pytest.fixture
def raw_tree(tmp_path: Path) -> Path:
    return write_raw_tree(tmp_path / "raw")


@pytest.fixture
def hub_isolation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing in a publish test may reach huggingface.co or pick up a real token."""
    from tests.hub_fixtures import isolate_hub_client

    isolate_hub_client(monkeypatch, tmp_path / "hf-home")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, hub_isolation: None):
    """The Hub-compatible server on 127.0.0.1, with the real client pointed at it."""
    from tests.hub_fixtures import TOKEN, point_client_at
    from tests.hub_server import HubServer

    with HubServer(token=TOKEN) as server:
        point_client_at(monkeypatch, server.endpoint)
        yield server
