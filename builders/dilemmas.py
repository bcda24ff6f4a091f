"""The ``dilemmas`` config: moral dilemmas built from pairs of conflicting rules.

Reads the processed dilemma files (one row per scene, options as raw text) and the rule
pair table. ``rule_set.csv`` names its columns the wrong way round (``rot1`` holds the
English text, ``translate1`` the Chinese; raw-formats §2.7): columns are told apart by
their content, not their names. Each dilemma links both rules to the ``rules`` config and
says which option follows which rule (given, recovered from the text, or unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

from builders.context import BuildContext
from builders.ids import stable_id
from builders.normalizers.text import clean_key, clean_text, dedup_key, has_cjk
from builders.normalizers.values import ValueNormalizer
from builders.option_mapping import RuleGrams, given_mapping, option_rows, recover_mapping
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


def dilemma_id(rule_a_id: str, rule_b_id: str, scene: str, *, cleaned: bool = False) -> str:
    """Stable id of a dilemma: its two rules and its normalized scene text.

    ``cleaned``: the scene already went through :func:`clean_text` (skips doing it again).
    """
    return stable_id("dilemma", rule_a_id, rule_b_id, clean_key(scene) if cleaned else dedup_key(scene))


def pair_id(rule_a_id: str, rule_b_id: str) -> str:
    return stable_id("pair", rule_a_id, rule_b_id)


class Skip(Exception):
    """The row was rejected or orphaned (already recorded in the ledger)."""


_PAIR_COLUMNS = ("rot1", "rot2", "translate1", "translate2", *(c for cols in _VALUE_COLUMNS for c in cols))


@dataclass(frozen=True, slots=True)
class RulePair:
    """Both published rules a row names, the id of their pair, and the rule fields a dilemma carries."""

    rule_a: dict
    rule_b: dict
    id: str
    ref_a: dict
    ref_b: dict


class PairResolver:
    """The two published rules a row's ``rot``/``translate`` columns name, memoized per pair.

    A pair recurs in every scene and every answer generated from it, so the lookup and
    the value-name checks run once per distinct pair; a rule's reference fields are built
    once per rule and shared by every dilemma quoting it.
    """

    def __init__(self, ctx: BuildContext, config: str) -> None:
        self.ctx, self.config = ctx, config
        self.index = ctx.rule_index()
        self.normalize = ValueNormalizer(ctx.taxonomy)
        self._cache: dict[tuple, tuple] = {}
        self._refs: dict[str, dict] = {}

    def _ref(self, row: dict) -> dict:
        ref = self._refs.get(row["id"])
        if ref is None:
            ref = self._refs[row["id"]] = rule_ref(row)
        return ref

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
        rule_a, rule_b = found
        return ("ok", RulePair(rule_a, rule_b, pair_id(rule_a["id"], rule_b["id"]), self._ref(rule_a),
                               self._ref(rule_b)))

    def pair(self, fields: dict, file: str, line: int) -> RulePair:
        """Both rules of the row, or :class:`Skip` after recording why in the ledger."""
        key = tuple(map(fields.get, _PAIR_COLUMNS))
        result = self._cache.get(key)
        if result is None:
            result = self._cache[key] = self._resolve(fields)
        if result[0] == "ok":
            return result[1]
        if result[0] == "reject":
            self.ctx.ledger.reject(self.config, file, line, result[1], result[2])
        else:
            self.ctx.orphan(self.config, file, line, result[1], result[2])
        raise Skip


class _Rows:
    """The dilemma rows of a build, with the pairs that have dilemmas and the mapping counts."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict] = {}
        self.pairs_with_dilemmas: dict[str, str] = {}
        self.stats = {"mapping_raw": 0, "mapping_recovered": 0, "mapping_none": 0}
        self.grams = RuleGrams()

    def add(self, fields: dict, pair: RulePair, row_id: str, scene: str, options: list[tuple[str, str]]) -> None:
        """Publish one dilemma row: link both rules and say which option follows which."""
        given_a, given_b = (fields.get("rot1_option") or "").strip(), (fields.get("rot2_option") or "").strip()
        if given_a and given_b:  # a tree that recorded the mapping (columns rot1_option, rot2_option)
            mapping = given_mapping([letter for letter, _ in options], given_a, given_b)
        else:
            mapping = recover_mapping(options, pair.rule_a["original_rule"], pair.rule_b["original_rule"], self.grams)
        self.stats[f"mapping_{mapping.source}"] += 1
        self.pairs_with_dilemmas.setdefault(pair.id, row_id)
        self.by_id[row_id] = {
            "id": row_id, "pair_id": pair.id, "scene": scene, "options": option_rows(options, mapping),
            "mapping_source": mapping.source, "mapping_confidence": mapping.confidence,
            "rule_a": pair.ref_a, "rule_b": pair.ref_b,
        }


def _from_blob(ctx: BuildContext, record, pair: RulePair, rows: _Rows) -> None:
    """One raw reply of a rule pair → its dilemmas; the raw row is published once, with the counts."""
    items = split_scene_blob(record.fields["scene"])
    parsed = [item for item in items if not isinstance(item, ReplyParseError)]
    failed = len(items) - len(parsed)
    new, ids = [], []
    for scene, options in parsed:
        row_id = dilemma_id(pair.rule_a["id"], pair.rule_b["id"], scene, cleaned=True)
        ids.append(row_id)
        if row_id not in rows.by_id:
            rows.add(record.fields, pair, row_id, scene, options)
            new.append(row_id)
    rows.stats["blob_items_unparsable"] = rows.stats.get("blob_items_unparsable", 0) + failed
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
    rows = _Rows()
    pair_records = []
    for artifact, record in ctx.records(CONFIG, *(k.name for k in ARTIFACTS)):
        fields, file, line = record.fields, record.file, record.line
        try:
            pair = pairs.pair(fields, file, line)
        except Skip:
            continue
        kind = artifact.kind.name
        if kind == "rule_pairs":
            pair_records.append((file, line, pair.id))
            continue
        if kind == "dilemma_blobs":
            _from_blob(ctx, record, pair, rows)
            continue
        try:
            scene, options = scene_and_options(fields["scene"], fields["options"])
        except ReplyParseError as err:
            ctx.ledger.reject(CONFIG, file, line, err.field, str(err))
            continue
        row_id = dilemma_id(pair.rule_a["id"], pair.rule_b["id"], scene, cleaned=True)
        if row_id in rows.by_id:
            ctx.ledger.fold(CONFIG, file, line, row_id, "same dilemma")
            continue
        rows.add(fields, pair, row_id, scene, options)
        ctx.ledger.publish(CONFIG, file, line, row_id)
    for file, line, pid in pair_records:
        if pid in rows.pairs_with_dilemmas:
            ctx.ledger.fold(CONFIG, file, line, rows.pairs_with_dilemmas[pid], "rule pair of these dilemmas")
        else:
            ctx.ledger.exclude(CONFIG, file, line, "conflicting rule pair with no generated dilemma")
    ctx.notes[CONFIG] = rows.stats
    return [rows.by_id[key] for key in sorted(rows.by_id)]
