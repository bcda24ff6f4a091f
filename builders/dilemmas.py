"""The ``dilemmas`` config: moral dilemmas built from pairs of conflicting rules.

Reads the processed dilemma files (one row per scene, options as raw text) and the rule
pair table. ``rule_set.csv`` names its columns the wrong way round (``rot1`` holds the
English text, ``translate1`` the Chinese; raw-formats §2.7): columns are told apart by
their content, not their names. Each dilemma links both rules to the ``rules`` config and
says which option follows which rule (given, recovered from the text, or unknown).
"""

from __future__ import annotations

from builders.context import BuildContext
from builders.ids import stable_id
from builders.normalizers.text import clean_text, dedup_key, has_cjk
from builders.normalizers.values import ValueNormalizer
from builders.option_mapping import given_mapping, option_rows, recover_mapping
from builders.parsers.blobs import scene_and_options, split_scene_blob
from builders.parsers.replies import ReplyParseError
from builders.readers.layout import ArtifactKind
from builders.rule_links import rule_ref
from builders.taxonomy import UnknownValueError

CONFIG = "dilemmas"

ARTIFACTS = [
    ArtifactKind("dilemma_scenes", CONFIG,
                 ("moral_dilemma/dataset/2_dilemma/2_processed/*.csv", "moral_dilemma/dataset/2_dilemma/*.csv"),
                 ("index", "scene", "options", "rot1", "rot2"),
                 "Processed dilemmas: one scene per row with its options and both rules."),
    ArtifactKind("rule_pairs", CONFIG, ("moral_dilemma/dataset/1_rule_set/*.csv",),
                 ("rot1", "rot2", "translate1", "translate2"),
                 "Conflicting rule pairs (rule_set.csv, with rot/translate swapped)."),
    ArtifactKind("dilemma_blobs", CONFIG, ("moral_dilemma/dataset/2_dilemma/1_origin/*.csv",),
                 ("index", "scene", "rot1", "rot2"),
                 "Raw dilemma generations (1_origin/all_dilemma.csv): one rule pair per row, the whole reply "
                 "of numbered dilemmas with options in `scene`."),
]
_VALUE_COLUMNS = (("level1", "core_values_1", "derived_values_1"), ("level2", "core_values_2", "derived_values_2"))


def chinese_pair(fields: dict) -> tuple[str, str, str | None, str | None]:
    """The two rules' Chinese and English texts, whichever of ``rot``/``translate`` holds which.

    Upstream's ``rule_set.csv`` has English in ``rot1``/``rot2`` and Chinese in
    ``translate1``/``translate2``; every later file has them the other way round.
    """
    texts = []
    for n in ("1", "2"):
        rot, translate = fields.get(f"rot{n}") or "", fields.get(f"translate{n}") or ""
        zh, en = (translate, rot) if has_cjk(translate) and not has_cjk(rot) else (rot, translate)
        texts.append((clean_text(zh), clean_text(en) or None))
    return texts[0][0], texts[1][0], texts[0][1], texts[1][1]


def dilemma_id(rule_a_id: str, rule_b_id: str, scene: str) -> str:
    """Stable id of a dilemma: its two rules and its normalized scene text."""
    return stable_id("dilemma", rule_a_id, rule_b_id, dedup_key(scene))


def pair_id(rule_a_id: str, rule_b_id: str) -> str:
    return stable_id("pair", rule_a_id, rule_b_id)


class Skip(Exception):
    """The row was rejected or orphaned (already recorded in the ledger)."""


_PAIR_COLUMNS = ("rot1", "rot2", "translate1", "translate2", *(c for cols in _VALUE_COLUMNS for c in cols))


class PairResolver:
    """The two published rules a row's ``rot``/``translate`` columns name, memoized per pair.

    A pair recurs in every scene and every answer generated from it, so the lookup and
    the value-name checks run once per distinct pair.
    """

    def __init__(self, ctx: BuildContext, config: str) -> None:
        self.ctx, self.config = ctx, config
        self.index = ctx.rule_index()
        self.normalize = ValueNormalizer(ctx.taxonomy)
        self._cache: dict[tuple, tuple] = {}

    def _resolve(self, fields: dict) -> tuple:
        for columns in _VALUE_COLUMNS:
            if all(c in fields for c in columns):
                try:
                    self.normalize(*(fields[c] for c in columns))
                except UnknownValueError as err:
                    column = columns[("dimensions", "core_values", "derived_values").index(err.tier)]
                    return ("reject", column, str(err))
        zh_a, zh_b, _, _ = chinese_pair(fields)
        found = []
        for field, text in (("rot1", zh_a), ("rot2", zh_b)):
            row = self.index.find(text)
            if row is None:
                return ("orphan", field, f"rule {text!r} is not in the rules config")
            found.append(row)
        return ("ok", found[0], found[1])

    def rules(self, fields: dict, file: str, line: int) -> tuple[dict, dict]:
        """Both rule rows, or :class:`Skip` after recording why in the ledger."""
        key = tuple(fields.get(c) for c in _PAIR_COLUMNS)
        result = self._cache.get(key)
        if result is None:
            result = self._cache[key] = self._resolve(fields)
        if result[0] == "reject":
            self.ctx.ledger.reject(self.config, file, line, result[1], result[2])
            raise Skip
        if result[0] == "orphan":
            self.ctx.orphan(self.config, file, line, result[1], result[2])
            raise Skip
        return result[1], result[2]


def _add(fields: dict, rule_a: dict, rule_b: dict, scene: str, options: list[tuple[str, str]],
         rows: dict[str, dict], pairs_with_dilemmas: dict[str, str], stats: dict[str, int]) -> str:
    """Publish one dilemma row: link both rules and say which option follows which."""
    row_id = dilemma_id(rule_a["id"], rule_b["id"], scene)
    given_a, given_b = (fields.get("rot1_option") or "").strip(), (fields.get("rot2_option") or "").strip()
    if given_a and given_b:  # a tree that recorded the mapping (columns rot1_option, rot2_option)
        mapping = given_mapping([letter for letter, _ in options], given_a, given_b)
    else:
        mapping = recover_mapping(options, rule_a["original_rule"], rule_b["original_rule"])
    stats[f"mapping_{mapping.source}"] += 1
    pid = pair_id(rule_a["id"], rule_b["id"])
    pairs_with_dilemmas.setdefault(pid, row_id)
    rows[row_id] = {
        "id": row_id, "pair_id": pid, "scene": scene, "options": option_rows(options, mapping),
        "mapping_source": mapping.source, "mapping_confidence": mapping.confidence,
        "rule_a": rule_ref(rule_a), "rule_b": rule_ref(rule_b),
    }
    return row_id


def _from_blob(ctx: BuildContext, record, rule_a: dict, rule_b: dict, rows: dict[str, dict],
               pairs_with_dilemmas: dict[str, str], stats: dict[str, int]) -> None:
    """One raw reply of a rule pair → its dilemmas; the raw row is published once, with the counts."""
    items = split_scene_blob(record.fields["scene"])
    parsed = [item for item in items if not isinstance(item, ReplyParseError)]
    failed = len(items) - len(parsed)
    new, ids = [], []
    for scene, options in parsed:
        row_id = dilemma_id(rule_a["id"], rule_b["id"], scene)
        ids.append(row_id)
        if row_id not in rows:
            new.append(_add(record.fields, rule_a, rule_b, scene, options, rows, pairs_with_dilemmas, stats))
    stats["blob_items_unparsable"] = stats.get("blob_items_unparsable", 0) + failed
    if not parsed:
        reason = f"no dilemma with options A, B and C in the reply ({len(items)} numbered items)"
        ctx.ledger.reject(CONFIG, record.file, record.line, "scene", reason)
    elif not new:
        ctx.ledger.fold(CONFIG, record.file, record.line, ids[0], "same dilemmas")
    else:
        note = f"{len(new)} dilemmas" + (f"; {failed} numbered items without options A, B, C skipped" if failed else "")
        ctx.ledger.publish(CONFIG, record.file, record.line, new[0], note)


def build(ctx: BuildContext) -> list[dict]:
    """Dilemma rows sorted by id; rule pair rows fold into their dilemmas."""
    pairs = PairResolver(ctx, CONFIG)
    rows: dict[str, dict] = {}
    pairs_with_dilemmas: dict[str, str] = {}
    pair_records = []
    stats = {"mapping_raw": 0, "mapping_recovered": 0, "mapping_none": 0}
    for artifact, record in ctx.records(CONFIG, *(k.name for k in ARTIFACTS)):
        fields, file, line = record.fields, record.file, record.line
        try:
            rule_a, rule_b = pairs.rules(fields, file, line)
        except Skip:
            continue
        if artifact.kind.name == "rule_pairs":
            pair_records.append((file, line, pair_id(rule_a["id"], rule_b["id"])))
            continue
        if artifact.kind.name == "dilemma_blobs":
            _from_blob(ctx, record, rule_a, rule_b, rows, pairs_with_dilemmas, stats)
            continue
        try:
            scene, options = scene_and_options(fields["scene"], fields["options"])
        except ReplyParseError as err:
            ctx.ledger.reject(CONFIG, file, line, err.field, str(err))
            continue
        row_id = dilemma_id(rule_a["id"], rule_b["id"], scene)
        if row_id in rows:
            ctx.ledger.fold(CONFIG, file, line, row_id, "same dilemma")
            continue
        _add(fields, rule_a, rule_b, scene, options, rows, pairs_with_dilemmas, stats)
        ctx.ledger.publish(CONFIG, file, line, row_id)
    for file, line, pid in pair_records:
        if pid in pairs_with_dilemmas:
            ctx.ledger.fold(CONFIG, file, line, pairs_with_dilemmas[pid], "rule pair of these dilemmas")
        else:
            ctx.ledger.exclude(CONFIG, file, line, "conflicting rule pair with no generated dilemma")
    ctx.notes[CONFIG] = stats
    return [rows[key] for key in sorted(rows)]
