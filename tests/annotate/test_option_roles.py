"""`cvc annotate option-roles` against a local OpenAI-compatible server, and the build reading its answers."""

import json

import pytest

from builders.annotate.endpoint import EndpointBackend
from builders.annotate.items import open_items
from builders.annotate.prompt import read_reply
from builders.annotate.run import ARTIFACT, annotate_option_roles, recorded_keys
from builders.build import build_release, collect
from tests.annotate.openai_server import ChatServer
from tests.configs.test_dilemmas import HEADER, RULE_A, RULE_A_EN, RULE_B, RULE_B_EN, VALUES_A, VALUES_B
from tests.conftest import write_csv

SCENES = {name: f"{name}：朋友酒后想开车送你去参加节日活动。你该如何选择？" for name in ("甲", "乙", "丙", "丁")}
OPEN_OPTIONS = "A：去做那件事 B：你看了看天气预报 C：去做那件事情"
"""The text finds the distractor (B) and cannot tell the two other options apart."""


def _open_tree(raw):
    write_csv(raw / "moral_dilemma/dataset/2_dilemma/2_processed/open.csv", HEADER,
              [[0, scene, OPEN_OPTIONS, RULE_A, RULE_B, RULE_A_EN, *VALUES_A, RULE_B_EN, *VALUES_B]
               for scene in SCENES.values()])
    return raw


def _backend(server, **kwargs):
    return EndpointBackend(server.url, "test-model", token="-", timeout=kwargs.pop("timeout", 5.0),
                           attempts=kwargs.pop("attempts", 3), sleep=lambda _: None, **kwargs)


@pytest.mark.parametrize(("reply", "read"), [
    ('{"rule_a": "C", "rule_b": "A"}', ("C", "A", "ok")),
    ('```json\n{"rule_a": "B", "rule_b": null}\n```', ("B", None, "partial")),
    ('答案是 {"rule_a": "A", "rule_b": "C"}', ("A", "C", "ok")),
    ('{"rule_a": "A", "rule_b": "A"}', (None, None, "unknown")),
    ('{"rule_a": "D", "rule_b": "A"}', (None, None, "unknown")),
    ('{"rule_a": null, "rule_b": null}', (None, None, "unknown")),
    ('{"rule_a": "A"}', (None, None, "unknown")),
    ("我认为A符合规则A", (None, None, "unknown")),
    ('{"rule_a": "A", "rule_b": ', (None, None, "unknown")),
    ("", (None, None, "unknown")),
])
def test_replies_are_read_strictly(reply, read):
    assert read_reply(reply) == read


def test_endpoint_annotation_survives_bad_replies_429_and_timeouts_and_a_rerun_completes_it(raw_tree):
    raw = _open_tree(raw_tree)
    items = open_items(raw)
    assert sorted(i.scene[0] for i in items if i.item == "dilemma") == sorted(SCENES)
    script = {
        SCENES["甲"]: [("status", 429), ("status", 503), ("json", '{"rule_a": "C", "rule_b": "A"}')],
        SCENES["乙"]: [("json", "我觉得选A")],
        SCENES["丙"]: [("json", '{"rule_a": "A", "rule_b": "A"}')],
        SCENES["丁"]: [("sleep", 3.0)],
    }
    with ChatServer(script) as server:
        counts = annotate_option_roles(raw, _backend(server, timeout=0.5, attempts=3), concurrency=2)
        assert (counts["ok"], counts["unknown"], counts["failed"]) == (1, 2, 1)
        assert all(r["temperature"] == 0 and r["model"] == "test-model" for r in server.requests)
    lines = [json.loads(line) for line in (raw / ARTIFACT).read_text(encoding="utf-8").splitlines()]
    by_scene = {next(s for s in SCENES if SCENES[s] in [i.scene for i in items if i.key == line["key"]][0]): line
                for line in lines}
    assert set(by_scene) == {"甲", "乙", "丙"}
    assert by_scene["甲"]["rule_a"] == "C" and by_scene["甲"]["status"] == "ok"
    assert by_scene["乙"]["reply"] == "我觉得选A" and by_scene["乙"]["rule_a"] is None
    assert by_scene["丙"]["status"] == "unknown" and by_scene["丙"]["prompt_version"] == "option-roles-v1"

    ctx = collect(raw)
    rows = {row["scene"][0]: row for row in ctx.tables["dilemmas"].to_pylist() if row["scene"][0] in SCENES}
    assert rows["甲"]["mapping_source"] == "model" and rows["甲"]["mapping_model"] == "test-model"
    assert [o["follows"] for o in rows["甲"]["options"]] == ["rule_b", "distractor", "rule_a"]
    assert rows["甲"]["mapping_confidence"] is None
    for name in ("乙", "丙", "丁"):  # unknown answers and the unanswered item: only the text's distractor
        assert [o["follows"] for o in rows[name]["options"]] == [None, "distractor", None]
        assert rows[name]["mapping_source"] == "recovered" and rows[name]["mapping_model"] is None
    outcomes = {(e.line, e.outcome) for e in ctx.ledger.entries(config="dilemmas") if e.file == ARTIFACT}
    assert sorted(outcome for _, outcome in outcomes) == ["excluded", "excluded", "folded"]

    script[SCENES["丁"]] = [("json", '{"rule_a": "A", "rule_b": "C"}')]
    with ChatServer(script) as server:
        counts = annotate_option_roles(raw, _backend(server))
        # 甲 is decided now; 乙 and 丙 have their (unknown) answers recorded: only 丁 is asked
        assert (counts["ok"], counts["skipped"], len(server.requests)) == (1, 2, 1)
    assert len(recorded_keys(raw / ARTIFACT)) == 4


def test_an_answer_that_contradicts_the_text_is_not_believed(raw_tree):
    raw = _open_tree(raw_tree)
    script = {scene: [("json", '{"rule_a": "B", "rule_b": "A"}')] for scene in SCENES.values()}
    with ChatServer(script) as server:
        annotate_option_roles(raw, _backend(server))
    ctx = collect(raw)
    for row in ctx.tables["dilemmas"].to_pylist():
        if row["scene"][0] in SCENES:
            assert [o["follows"] for o in row["options"]] == [None, "distractor", None]
    reasons = {e.reason for e in ctx.ledger.entries("excluded", "dilemmas") if e.file == ARTIFACT}
    assert reasons == {"model's option roles contradict the roles the text decided"}


def test_an_interrupted_run_leaves_a_cut_line_that_the_next_run_removes_and_asks_again(raw_tree, tmp_path):
    raw = _open_tree(raw_tree)
    script = {scene: [("json", '{"rule_a": "C", "rule_b": "A"}')] for scene in SCENES.values()}
    with ChatServer(script) as server:
        annotate_option_roles(raw, _backend(server))
    path = raw / ARTIFACT
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:30], encoding="utf-8")
    with ChatServer(script) as server:
        counts = annotate_option_roles(raw, _backend(server))
        assert (counts["ok"], len(server.requests)) == (2, 2)
    assert all(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())


def test_the_release_hashes_the_annotation_artifact(raw_tree, tmp_path):
    raw = _open_tree(raw_tree)
    script = {scene: [("json", '{"rule_a": "C", "rule_b": "A"}')] for scene in SCENES.values()}
    with ChatServer(script) as server:
        annotate_option_roles(raw, _backend(server))
    report = build_release(raw, tmp_path / "out")
    manifest = json.loads((tmp_path / "out/manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][ARTIFACT]["kind"] == "option_role_annotations"
    assert report.notes["dilemmas"]["mapping_model"] == 4
    card = (tmp_path / "out/README.md").read_text(encoding="utf-8")
    assert "| model | 4 |" in card  # the dilemmas' option mapping table


def test_the_command_line_runs_against_an_endpoint(raw_tree, monkeypatch, capsys):
    from builders.cli import main

    raw = _open_tree(raw_tree)
    script = {scene: [("json", '{"rule_a": "C", "rule_b": "A"}')] for scene in SCENES.values()}
    with ChatServer(script) as server:
        assert main(["annotate", "option-roles", "--raw", str(raw), "--endpoint", server.url,
                     "--model", "test-model", "--concurrency", "2"]) == 0
    assert "ok=4" in capsys.readouterr().out


def test_experiment2_scenes_are_asked_and_use_the_answers_too(raw_tree):
    cvc, other = "尊重其他种族的传统文化是应该的", "嘲笑别人的穿着是不礼貌的。"
    write_csv(raw_tree / "experiment2/scene/Prejudice.csv", ["index", "scene", "options", "rule1", "rule2"],
              [[0, "新同学穿着民族服饰来上课。", "（A）去做那件事（B）你看了看天气预报（C）去做那件事情", cvc, other]])
    items = [i for i in open_items(raw_tree) if i.item == "scenario"]
    assert [(i.scene, i.rule_a, i.rule_b) for i in items] == [("新同学穿着民族服饰来上课。", cvc, other)]
    with ChatServer({"新同学": [("json", '{"rule_a": "A", "rule_b": "C"}')]}) as server:
        counts = annotate_option_roles(raw_tree, _backend(server))
        assert counts["ok"] == 1 and "规则A：尊重其他种族" in server.requests[0]["messages"][-1]["content"]
    [row] = [r for r in collect(raw_tree).results["scenarios"] if r["theme"] == "Prejudice"]
    assert [o["follows"] for o in row["options"]] == ["rule_a", "distractor", "rule_b"]
    assert (row["mapping_source"], row["mapping_model"]) == ("model", "test-model")
