"""The ``rules_en`` config: the v1 English corpus as its own config, linked to the Chinese rules."""

import json
import re

from builders.build import collect
from builders.configs.rules_en import ID_PREFIX
from builders.schema import features
from tests.conftest import write_csv

EN_LINES = [
    {"rule": "You should believe in the law.", "level": ["Society"], "core values": ["Rule of Law"],
     "derived values": ["Strict law observance"]},
    {"rule": "Safeguarding national unity is the duty of every citizen.", "level": ["Person"],
     "core values": ["Patriotism"], "derived values": ["Maintaining national unit"]},
    {"rule": "You should help your friend hold a wedding.", "level": ["Person"], "core values": ["Friendship"],
     "derived values": ["Caring for others"]},
    {"rule": "When accusing others, one should stay respectful.", "level": ["Society", "Person"],
     "core values": ["Civility", "Friendship"], "derived values": ["Civilized etiquette", "Respecting others"]},
    {"rule": "You  should believe in the LAW", "level": ["Society"], "core values": ["Rule of Law"],
     "derived values": ["Strict law observance"]},
    {"rule": "Neighbours should live in harmony.", "level": ["Nation"], "core values": ["Harmony", "Harmony"],
     "derived values": []},
    {"rule": "", "level": ["Nation"], "core values": ["Harmony"], "derived values": []},
    {"rule": "Be frugal.", "level": ["Person"], "core values": ["Thrift"], "derived values": []},
    {"rule": "In the face of setbacks, one should maintain a positive attitude and seek help.", "level": ["Person"],
     "core values": ["Friendship"], "derived values": ["Caring for others"]},
    {"rule": "In the face of setbacks, one should maintain a positive attitude.", "level": ["Person"],
     "core values": ["Friendship"], "derived values": ["Caring for others"]},
]
MASTER = [["醉酒驾驶是违反法律的行为", "You should believe in the law.", "社会", "法治", "严格守法"],
          ["维护国家统一是每个公民的责任", "Safeguarding national unity is the duty of every citizen.", "个人", "爱国",
           "维护国家"]]


def _tree(root, *, master=False, name="C-VARC(EN).jsonl"):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "w", encoding="utf-8") as fh:
        for line in EN_LINES:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    if master:
        write_csv(root / "data_control/final.csv", ["rot", "translate", "level", "core values", "derived values"],
                  MASTER, encoding="gbk")
    return root


def _rows(ctx):
    return {row["rule"]: row for row in ctx.results["rules_en"].to_pylist()}


def test_the_english_file_alone_is_published_folded_or_rejected_for_a_real_reason(tmp_path):
    ctx = collect(_tree(tmp_path / "raw"))
    counts = ctx.ledger.counts("rules_en")
    assert counts == {"read": 10, "published": 7, "folded": 1, "excluded": 0, "rejected": 2}
    assert ctx.ledger.counts("rules")["read"] == 0
    rejects = {e.line: (e.field, e.reason) for e in ctx.ledger.entries("rejected")}
    assert rejects == {7: ("rule", "empty rule text"), 8: ("core values", "unknown core value 'Thrift'")}
    [fold] = ctx.ledger.entries("folded")
    rows = _rows(ctx)
    assert (fold.line, fold.id, fold.reason) == (5, rows["You should believe in the law."]["id"], "same rule text")
    unity = rows["Safeguarding national unity is the duty of every citizen."]
    assert (unity["derived_values"], unity["derived_values_en"]) == (["维护国家"], ["Maintaining national unity"])
    assert (unity["dimensions"], unity["dimensions_en"]) == (["个人"], ["Personal"])
    accuse = rows["When accusing others, one should stay respectful."]
    assert accuse["core_values"] == ["文明", "友善"] and accuse["core_values_en"] == ["Civilization", "Kindness"]
    assert accuse["dimensions"] == ["国家", "个人"]  # Society contradicted (dropped), Nation implied by Civility
    assert rows["Neighbours should live in harmony."]["core_values"] == ["和谐"]
    assert all(r["source"] == "v1_release" and r["source_file"] == "C-VARC(EN).jsonl" and r["rule_id"] is None
               for r in rows.values())
    assert all(re.fullmatch(rf"{ID_PREFIX}-[0-9a-f]{{16}}", r["id"]) for r in rows.values())
    repairs = {r["line"]: r for r in ctx.repairs if r["config"] == "rules_en"}
    assert (repairs[4]["added"], repairs[4]["dropped"]) == (["国家"], ["社会"])


def test_near_duplicates_are_marked_on_word_shingles(tmp_path):
    ctx = collect(_tree(tmp_path / "raw"))
    rows = _rows(ctx)
    longer = rows["In the face of setbacks, one should maintain a positive attitude and seek help."]
    shorter = rows["In the face of setbacks, one should maintain a positive attitude."]
    assert shorter["cluster_id"] == longer["cluster_id"] == longer["id"] != shorter["id"]
    assert ctx.near_duplicates["rules_en"] == {longer["id"]: [shorter["id"]]}


def test_a_master_table_links_translations_both_ways(tmp_path):
    ctx = collect(_tree(tmp_path / "raw", master=True))
    chinese = {row["rule_en"]: row for row in ctx.results["rules"].to_pylist()}
    rows = _rows(ctx)
    for text in ("You should believe in the law.", "Safeguarding national unity is the duty of every citizen."):
        assert rows[text]["rule_id"] == chinese[text]["id"]
    assert sum(r["rule_id"] is not None for r in rows.values()) == 2
    assert ctx.notes["rules_en"]["linked_to_rules"] == 2
    ctx.ledger.check_complete()


def test_english_rows_of_chinese_rule_files_are_handed_over_not_rejected(raw_tree):
    ctx = collect(raw_tree)
    rows = _rows(ctx)
    entries = {(e.config, e.file, e.line): e for e in ctx.ledger.entries()}
    handed = entries[("rules", "basic_value_rule/mic/remain.csv", 3)]
    assert handed.outcome == "folded" and handed.id == rows["You should call your mom."]["id"]
    assert ("rules_en", "basic_value_rule/mic/remain.csv", 3) not in entries  # one outcome, where it was read
    assert ctx.notes["rules_en"]["handed_over_from_rules"] == 1
    assert rows["You should call your mom."]["source"] == "mic"
    assert not [e for e in ctx.ledger.entries("rejected") if "English-only" in (e.reason or "")]
    for config in ("rules", "rules_en"):
        counts = ctx.ledger.counts(config)
        assert counts["read"] == sum(counts[k] for k in ("published", "folded", "excluded", "rejected"))


def test_a_file_named_otherwise_is_taken_through_the_raw_manifest(tmp_path):
    root = _tree(tmp_path / "raw", name="english.jsonl")
    (root / "cvc-raw.yaml").write_text("artifacts:\n  - {kind: v1_release_en, path: english.jsonl}\n")
    assert collect(root).ledger.counts("rules_en")["published"] == 7


def test_adding_the_english_file_is_a_minor_change_and_loads_typed(raw_tree, tmp_path):
    import datasets

    from builders.build import build_release

    before = build_release(raw_tree, tmp_path / "v1")
    assert before.counts["rules_en"]["read"] == 0  # only English seed rows handed over by rules
    _tree(raw_tree)
    after = build_release(raw_tree, tmp_path / "v2", previous=tmp_path / "v1", bump="auto")
    assert (after.diff.bump(), after.version) == ("minor", "1.1.0")
    english = after.diff.configs["rules_en"]
    assert len(english.added) == 7 and not english.removed and not english.changed
    assert all(not c.removed and not c.changed for name, c in after.diff.configs.items() if name != "rules_en")
    loaded = datasets.load_dataset(str(tmp_path / "v2"), "rules_en", split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.features == features("rules_en")
    assert loaded.num_rows == after.counts["rules_en"]["published"] + before.notes["rules_en"]["handed_over_from_rules"]
    assert loaded.features["derived_values"] == datasets.List(datasets.Value("string"))


def test_a_tree_without_english_rules_gives_an_empty_typed_config(tmp_path):
    root = tmp_path / "raw"
    write_csv(root / "data_control/final.csv", ["rot", "translate", "level", "core values", "derived values"],
              MASTER, encoding="gbk")
    ctx = collect(root)
    assert ctx.results["rules_en"].num_rows == 0 and ctx.results["rules_en"].schema == features("rules_en").arrow_schema
    assert ctx.results["rules"].num_rows == 2
