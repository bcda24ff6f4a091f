"""The ``scenarios`` config: scenes of experiment 1 and experiment 2.

Experiment 1 generated numbered blobs of scenes per core value, with or without five
guiding rules (raw-formats §2.5); each blob becomes one row per scene. Experiment 2
generated scenes with three options from a CVC rule and another corpus's rule on six
themes (§2.6); annotators' gold letters and five human choices join them by position.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from builders.context import BuildContext
from builders.stages.ids import stable_id
from builders.stages.ledger import Outcomes
from builders.stages.normalizers.text import clean_text, dedup_key
from builders.stages.option_annotations import OptionAnnotations, content_key
from builders.stages.option_mapping import OptionMapping, option_rows, scene_mappings
from builders.stages.option_roles import Idf
from builders.stages.parsers.blobs import LETTERS, parse_choice, scene_and_options, split_numbered, split_scene_blob
from builders.stages.parsers.replies import ReplyParseError
from builders.stages.readers.layout import ArtifactKind
from builders.stages.rule_links import RuleIndex

CONFIG = "scenarios"

ARTIFACTS = [
    # Named exactly: experiment1/ also holds select_rule.py's rules.csv (12 core-value columns)
    # and data_analysis.py's *_scene_distance.csv, which are not scenes.
    ArtifactKind("guided_scenes", CONFIG,
                 ("experiment1/*/with_rule_scene_[0-9]*.csv", "experiment1/*/without_rule_scene_[0-9]*.csv"),
                 ("theme", "rules", "scene"),
                 "Experiment 1: numbered blobs of scenes per core value, with or without guiding rules."),
    ArtifactKind("theme_scenes", CONFIG, ("experiment2/scene/*.csv",),
                 ("scene", "options", "rule1", "rule2"),
                 "Experiment 2: scenes with options from a CVC rule and another corpus's rule."),
    ArtifactKind("theme_scene_blobs", CONFIG, ("experiment2/scene/*.csv",),
                 ("scene", "rule1", "rule2"),
                 "Experiment 2 before scene_extraction: one rule pair per row, the whole reply of numbered "
                 "scenes with options in `scene`."),
    ArtifactKind("theme_gold", CONFIG, ("experiment2/result/CVC_and_human/*.csv",),
                 ("index", "CVC"),
                 "Experiment 2: the CVC-aligned letter and five human choices per scene."),
]


def scene_id(experiment: str, theme: str, condition: str | None, scene: str) -> str:
    """Stable id of a scene: where it was generated and its normalized text."""
    return stable_id("scene", experiment, theme, condition or "", dedup_key(scene))


def _condition(path: str) -> str:
    name = PurePosixPath(path).stem.lower()
    return "without_rules" if "without" in name else "with_rules"


def _guiding(ctx: BuildContext, outcomes: Outcomes, index: RuleIndex, cell: str, file: str,
             line: int) -> tuple[list[str], list[str]]:
    if not (cell or "").strip():
        return [], []
    try:
        rules = [clean_text(r) for r in ast.literal_eval(cell)]
    except (ValueError, SyntaxError):
        outcomes.reject(file, line, "rules", "not a Python list of rules")
        raise
    ids = []
    for text in rules:
        row = index.find(text)
        if row is None:
            ctx.orphan(outcomes, file, line, "rules", f"guiding rule {text!r} is not in the rules config")
            raise ValueError(text)
        ids.append(row["id"])
    return rules, ids


def _experiment1(ctx: BuildContext, outcomes: Outcomes, index: RuleIndex, record, rows: dict[str, dict]) -> None:
    fields, file, line = record.fields, record.file, record.line
    theme, condition = clean_text(fields["theme"]), _condition(file)
    try:
        rules, ids = _guiding(ctx, outcomes, index, fields["rules"], file, line)
    except (ValueError, SyntaxError):
        return
    scenes = split_numbered(fields["scene"])
    if not scenes:
        outcomes.reject(file, line, "scene", "no scenes in the generated text")
        return
    first = None
    for scene in scenes:
        row_id = scene_id("experiment1", theme, condition, scene)
        first = first or row_id
        rows.setdefault(row_id, {
            "id": row_id, "experiment": "experiment1", "theme": theme, "condition": condition, "scene": scene,
            "guiding_rules": rules, "guiding_rule_ids": ids, "cvc_rule_id": None, "cvc_rule": None,
            "other_rule": None, "options": [], "mapping_source": "none", "mapping_confidence": 0.0,
            "mapping_model": None, "gold_letter": None, "human_choices": [],
        })
    outcomes.publish(file, line, first, f"{len(scenes)} scenes")


def _experiment2(ctx: BuildContext, outcomes: Outcomes, index: RuleIndex, record, position: int, rows: dict[str, dict],
                 by_position: dict[tuple[str, int], str]) -> None:
    fields, file, line = record.fields, record.file, record.line
    theme = PurePosixPath(file).stem
    try:
        scene, options = scene_and_options(fields["scene"], fields["options"])
    except ReplyParseError as err:
        outcomes.reject(file, line, err.field, str(err))
        return
    cvc = index.find(fields["rule1"])
    if cvc is None:
        ctx.orphan(outcomes, file, line, "rule1",
                   f"CVC rule {clean_text(fields['rule1'])!r} is not in the rules config")
        return
    row_id = scene_id("experiment2", theme, None, scene)
    by_position[(theme, position)] = row_id
    if row_id in rows:
        outcomes.fold(file, line, row_id, "same scene")
        return
    other = clean_text(fields["rule2"]) or None
    rows[row_id] = _experiment2_row(row_id, theme, scene, options, cvc, other, _OPEN)
    outcomes.publish(file, line, row_id)


def _experiment2_blob(ctx: BuildContext, outcomes: Outcomes, index: RuleIndex, record, positions: dict[str, int],
                      rows: dict[str, dict], by_position: dict[tuple[str, int], str]) -> None:
    """One raw reply of a rule pair → its scenes, numbered as upstream's extraction would have."""
    fields, file, line = record.fields, record.file, record.line
    theme = PurePosixPath(file).stem
    items = split_scene_blob(fields["scene"])
    start = positions.get(file, 0)
    positions[file] = start + len(items)
    cvc = index.find(fields["rule1"])
    if cvc is None:
        ctx.orphan(outcomes, file, line, "rule1",
                   f"CVC rule {clean_text(fields['rule1'])!r} is not in the rules config")
        return
    other = clean_text(fields["rule2"]) or None
    new, ids = [], []
    for offset, item in enumerate(items):
        if isinstance(item, ReplyParseError):
            continue
        scene, options = item
        row_id = scene_id("experiment2", theme, None, scene)
        by_position[(theme, start + offset)] = row_id
        ids.append(row_id)
        if row_id in rows:
            continue
        rows[row_id] = _experiment2_row(row_id, theme, scene, options, cvc, other, _OPEN)
        new.append(row_id)
    outcomes.scene_reply(file, line, len(items), ids, new, "scenes", "no scene with options A, B and C")


_OPEN = OptionMapping({letter: None for letter in LETTERS}, "none", 0.0)
"""The mapping of a scene until :func:`_recover_mappings` looks at every scene's text."""


def _experiment2_row(row_id: str, theme: str, scene: str, options: list[tuple[str, str]], cvc: dict,
                     other: str | None, mapping: OptionMapping) -> dict:
    return {
        "id": row_id, "experiment": "experiment2", "theme": theme, "condition": None, "scene": scene,
        "guiding_rules": [], "guiding_rule_ids": [], "cvc_rule_id": cvc["id"], "cvc_rule": cvc["rule"],
        "other_rule": other, "options": option_rows(options, mapping), "mapping_source": mapping.source,
        "mapping_confidence": mapping.confidence, "mapping_model": mapping.model, "gold_letter": None,
        "human_choices": [], "_rule_a": cvc["original_rule"], "_values_a": list(cvc.get("derived_values") or []),
    }


def _set_mapping(row: dict, mapping: OptionMapping) -> None:
    row["options"] = [{**o, "follows": mapping.follows.get(o["letter"])} for o in row["options"]]
    row["mapping_source"], row["mapping_confidence"], row["mapping_model"] = (
        mapping.source, mapping.confidence, mapping.model)


def _recover_mappings(rows: list[dict], annotations: OptionAnnotations | None) -> None:
    """Every experiment-2 scene's mapping from its text (IDF over all their scenes and options), then, for
    the letters left open, a model's annotation that agrees with the text."""
    idf = Idf([text for row in rows for text in (row["scene"], *(o["text"] for o in row["options"]))])
    every_option = [[(o["letter"], o["text"]) for o in row["options"]] for row in rows]
    mappings = scene_mappings([row["scene"] for row in rows], every_option, [row["_rule_a"] for row in rows],
                              [row["other_rule"] or "" for row in rows], [row["_values_a"] for row in rows],
                              [[] for _ in rows], idf)
    for row, options, mapping in zip(rows, every_option, mappings, strict=True):
        _set_mapping(row, mapping)
        follows = [o["follows"] for o in row["options"]]
        if annotations is None or all(follows) or len(options) != 3:
            continue
        key = content_key(row["scene"], [text for _, text in options], row["cvc_rule"], row["other_rule"] or "")
        found = annotations.roles(key, row["id"], follows)
        if found is not None:
            roles, model = found
            _set_mapping(row, OptionMapping(dict(zip(LETTERS, roles, strict=True)), "model", None, model))


def _apply_gold(row: dict, gold: str) -> None:
    """The gold letter is the CVC rule's option: a raw mapping for rule_a. Where the text's roles agree
    with it they are kept (a known distractor then names rule_b too); where they disagree, only the gold
    letter is known."""
    row["gold_letter"] = gold
    follows = {o["letter"]: o["follows"] for o in row["options"]}
    if follows.get(gold) == "rule_a":
        return
    agrees = follows.get(gold) is None and "rule_a" not in follows.values()
    merged = {letter: ("rule_a" if letter == gold else (follows[letter] if agrees else None)) for letter in follows}
    if agrees and list(merged.values()).count(None) == 1 and "distractor" in merged.values():
        merged = {letter: role or "rule_b" for letter, role in merged.items()}
    _set_mapping(row, OptionMapping(merged, "raw", 1.0))


def build(ctx: BuildContext) -> list[dict]:
    """Scenario rows sorted by id; gold letters and human choices fold into their scenes."""
    index = ctx.rule_index()
    rows: dict[str, dict] = {}
    by_position: dict[tuple[str, int], str] = {}
    positions: dict[str, int] = {}
    gold_records = []
    outcomes = Outcomes()
    for artifact, record in ctx.records(CONFIG, *(k.name for k in ARTIFACTS)):
        kind = artifact.kind.name
        if kind == "guided_scenes":
            _experiment1(ctx, outcomes, index, record, rows)
        elif kind == "theme_scenes":
            position = positions.get(record.file, 0)
            positions[record.file] = position + 1
            _experiment2(ctx, outcomes, index, record, position, rows, by_position)
        elif kind == "theme_scene_blobs":
            _experiment2_blob(ctx, outcomes, index, record, positions, rows, by_position)
        else:
            gold_records.append(record)
    _recover_mappings([row for row in rows.values() if row["experiment"] == "experiment2"],
                      ctx.option_annotations)  # type: ignore[arg-type]
    for record in gold_records:
        theme = PurePosixPath(record.file).stem
        fields = record.fields
        try:
            key = (theme, int(fields["index"]))
        except ValueError:
            outcomes.reject(record.file, record.line, "index", f"not a row number: {fields['index']!r}")
            continue
        gold = parse_choice(fields["CVC"])
        if key not in by_position:
            ctx.orphan(outcomes, record.file, record.line, "index", f"no scene {key[1]} for theme {theme}")
            continue
        if gold not in LETTERS:
            outcomes.reject(record.file, record.line, "CVC", f"not a letter A-C: {fields['CVC']!r}")
            continue
        row = rows[by_position[key]]
        _apply_gold(row, gold)
        row["human_choices"] = [parse_choice(fields.get(f"human{i}")) for i in range(1, 6) if f"human{i}" in fields]
        outcomes.fold(record.file, record.line, row["id"], "gold letter and human choices of this scene")
    ctx.ledger.record_table(CONFIG, outcomes.frame())
    for row in rows.values():
        row.pop("_rule_a", None)
        row.pop("_values_a", None)
    return [rows[key] for key in sorted(rows)]
