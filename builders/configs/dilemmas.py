"""The ``dilemmas`` config: moral dilemmas built from pairs of conflicting rules.

Reads the processed dilemma files (one row per scene, options as raw text) and the rule
pair table; :mod:`builders.stages.rule_pairs` finds the two published rules each row names.
Each dilemma links both rules to the ``rules`` config and says which option follows which
rule (given, recovered from the text, or unknown).
"""

from __future__ import annotations

import os
from itertools import compress

import numpy as np
import polars as pl
import pyarrow as pa

from builders.context import BuildContext
from builders.schema import features
from builders.stages.ids import sort_indices, stable_id, stable_ids_under
from builders.stages.ledger import Outcomes, outcome_lines
from builders.stages.normalizers.text import clean_key, dedup_key
from builders.stages.option_annotations import ANNOTATION_PLACE, OptionAnnotations, annotated_rows, read_annotations
from builders.stages.option_mapping import ROLES, given_mapping, recover_roles_at, roles_from_evidence
from builders.stages.parsers.blobs import LETTERS, SCENE_COLUMNS, parse_scenes, split_scene_blob
from builders.stages.parsers.replies import ReplyParseError
from builders.stages.readers.layout import Artifact, ArtifactKind
from builders.stages.rule_pairs import PairResolver, RulePair, pair_rows, resolved_rows
from builders.stages.writer import single_chunk, without_validity

CONFIG = "dilemmas"

ARTIFACTS = [
    ArtifactKind("dilemma_scenes", CONFIG,
                 ("moral_dilemma/dataset/2_dilemma/2_processed/*.csv", "moral_dilemma/dataset/2_dilemma/*.csv"),
                 ("index", "scene", "options", "rot1", "rot2"),
                 "Processed dilemmas: one scene per row with its options and both rules."),
    ArtifactKind("rule_pairs", CONFIG, ("moral_dilemma/dataset/1_rule_set/*.csv",),
                 ("rot1", "rot2", "translate1", "translate2"),
                 "Conflicting rule pairs (rule_set.csv, with rot/translate swapped)."),
    ArtifactKind("option_role_annotations", CONFIG, (ANNOTATION_PLACE,), ("key", "rule_a", "rule_b", "model"),
                 "Which option follows which rule, as a model answered `cvc annotate option-roles` for the "
                 "dilemmas and experiment-2 scenes the text left open (one JSON line per item)."),
    ArtifactKind("dilemma_blobs", CONFIG, ("moral_dilemma/dataset/2_dilemma/1_origin/*.csv",),
                 ("index", "scene", "rot1", "rot2"),
                 "Raw dilemma generations (1_origin/all_dilemma.csv): one rule pair per row, the whole reply "
                 "of numbered dilemmas with options in `scene`."),
]


def dilemma_id(rule_a_id: str, rule_b_id: str, scene: str, *, cleaned: bool = False) -> str:
    """Stable id of a dilemma: its two rules and its normalized scene text.

    ``cleaned``: the scene already went through :func:`clean_text` (skips doing it again).
    """
    return stable_id("dilemma", rule_a_id, rule_b_id, clean_key(scene) if cleaned else dedup_key(scene))


def dilemma_ids(pairs: list[RulePair], pair_of: list[int], scene_keys: list[str]) -> list[str]:
    """:func:`dilemma_id` of each scene of ``pairs[pair_of[i]]`` whose :func:`dedup_key` is
    ``scene_keys[i]``; each pair's part of the hash is computed once."""
    return stable_ids_under("dilemma", [(pair.rule_a_id, pair.rule_b_id) for pair in pairs], pair_of, scene_keys)


_THREADS = min(2, os.cpu_count() or 1)
"""Threads for the option mapping (numpy releases the GIL; the result does not depend on it)."""


class _Dilemmas:
    """The dilemma rows of a build, column by column, in the order they are first seen.

    Which option follows which rule is recovered for all rows at once at the end
    (:func:`builders.stages.option_mapping.recover_roles`), and the rule fields are taken from the
    ``rules`` table by position, so no row is ever a dict. The scene and option texts of a
    file read column-wise are taken from its Arrow columns, not converted back from Python.
    """

    def __init__(self) -> None:
        self.position: dict[str, int] = {}
        self.ids: list[str] = []
        self.pair_of: list[int] = []
        """Per row: its rule pair in :attr:`pairs`."""
        self.pairs: list[RulePair] = []
        self._pair_index: dict[str, int] = {}
        self.texts_at: list[int] = []
        """Per row: its row in :attr:`sources`, or ``-1 - k`` for the ``k``-th row added as Python strings."""
        self.sources: list[pa.Table] = []
        """``scene``, ``a``, ``b``, ``c`` columns of the files read column-wise, one after the other."""
        self._source_rows = 0
        self.scenes: list[str] = []
        """Scene texts of the rows added as Python strings."""
        self.option_rows: list[str] = []
        """Option texts of the rows added as Python strings, three per row (A, B, C)."""
        self.given: dict[int, tuple[str, str]] = {}
        """Rows whose raw data names the letters of rule A and rule B (``rot1_option``, ``rot2_option``)."""

    def source(self, scenes: pa.ChunkedArray, a: pa.ChunkedArray, b: pa.ChunkedArray, c: pa.ChunkedArray) -> int:
        """Register the scene and option columns of a file; the row of its first row in :attr:`sources`."""
        start = self._source_rows
        self.sources.append(pa.table({"scene": scenes, "a": a, "b": b, "c": c}))
        self._source_rows += len(scenes)
        return start

    def _pair(self, pair: RulePair) -> int:
        index = self._pair_index.get(pair.id)
        if index is None:
            index = self._pair_index[pair.id] = len(self.pairs)
            self.pairs.append(pair)
        return index

    def add(self, pair: RulePair, row_id: str, scene: str, options: tuple[str, str, str]) -> bool:
        """Add one dilemma given as Python strings (``False`` if a dilemma with this id is already there)."""
        if row_id in self.position:
            return False
        self.position[row_id] = len(self.ids)
        self.ids.append(row_id)
        self.pair_of.append(self._pair(pair))
        self.texts_at.append(-1 - len(self.scenes))
        self.scenes.append(scene)
        self.option_rows += options
        return True

    def add_sources(self, pairs: list[RulePair], codes: np.ndarray, ids: list[str], rows: np.ndarray,
                    given: list[tuple[str | None, str | None]] | None = None) -> np.ndarray:
        """Add dilemmas whose texts are in :attr:`sources`; for each, whether it is new.

        Row ``i`` follows the pair ``pairs[codes[i]]``, has the id ``ids[i]`` and its texts in
        row ``rows[i]`` of the sources; ``given``: the letters of the options following rule A
        and rule B, where the raw data names them. A row is new if no row before it (in this
        call or an earlier one) has its id.
        """
        index = np.array([self._pair(pair) for pair in pairs], np.int64)
        count, start = len(ids), len(self.ids)
        first = dict(zip(reversed(ids), range(count - 1, -1, -1), strict=True))  # each id's first row
        if len(first) == count:  # no id twice in these rows
            new = np.ones(count, bool)
        else:
            new = np.fromiter(map(first.__getitem__, ids), np.int64, count) == np.arange(count)
        if self.position:
            new &= ~np.fromiter(map(self.position.__contains__, ids), bool, count)
        added = np.flatnonzero(new)
        new_ids = list(compress(ids, new.tolist()))
        if not self.position and len(new_ids) == count:
            self.position = first  # the first rows added: each id's row is its row here
        else:
            self.position.update(zip(new_ids, range(start, start + len(new_ids)), strict=True))
        self.ids += new_ids
        self.pair_of += index[np.asarray(codes, np.int64)[added]].tolist()
        self.texts_at += np.asarray(rows, np.int64)[added].tolist()
        for at, i in enumerate(added.tolist() if given else (), start):
            given_a, given_b = given[i]  # type: ignore[index]
            if given_a and given_b and given_a.strip() and given_b.strip():
                self.given[at] = (given_a.strip(), given_b.strip())
        return new

    def first_of_pairs(self) -> dict[str, str]:
        """The id of the first dilemma of each rule pair that has one."""
        pairs, first = np.unique(np.array(self.pair_of, np.int64), return_index=True)
        return {self.pairs[p].id: self.ids[f] for p, f in zip(pairs.tolist(), first.tolist(), strict=True)}

    def _texts(self) -> tuple[pa.Table, np.ndarray]:
        """Every scene and option text in one table, and each row's place in it."""
        added = pa.table({"scene": pa.array(self.scenes, pa.string()),
                          **{k: pa.array(self.option_rows[i::3], pa.string()) for i, k in enumerate("abc")}})
        texts = pa.concat_tables([t.cast(added.schema) for t in self.sources] + [added]).combine_chunks()
        self.sources = []
        at = np.array(self.texts_at, np.int64)
        python = at < 0
        at[python] = self._source_rows - 1 - at[python]
        return texts, at

    def table(self, rules: pa.Table, annotations: OptionAnnotations | None = None) -> tuple[pa.Table, dict]:
        """The rows as a table of the config's features, sorted by id, and the mapping counts.

        Called once, at the end: it frees the texts of the sources. Columns are built in id
        order (cheaper than sorting the finished table's nested columns), and the option texts
        the mapping is recovered from are those of the published column, never Python strings.
        Roles come from the raw data, else the rules' bigrams (options that repeat their rule), else
        the text's evidence (:mod:`builders.stages.option_roles`), else a model's annotation.
        """
        n = len(self.ids)
        ids = pa.array(self.ids, pa.string())
        by_id = sort_indices(ids)
        order = pa.array(by_id)
        pair_of = np.array(self.pair_of, np.int64)[by_id]
        at = np.array([pair.at for pair in self.pairs], np.int64).reshape(-1, 2)[pair_of]
        texts, text_at = self._texts()
        text_at = text_at[by_id]
        flat_text_at = (text_at[:, None] + len(texts) * np.arange(3)).reshape(-1)
        option_texts = pa.concat_arrays([texts.column(k).chunk(0) if texts.column(k).num_chunks else
                                         pa.array([], pa.string()) for k in "abc"]).take(pa.array(flat_text_at))
        rank = np.empty(n, np.int64)
        rank[by_id] = np.arange(n)
        given = rank[np.fromiter(self.given, np.int64, len(self.given))]
        """The rows (in id order) whose mapping the raw data gives."""
        roles = np.full((n, 3), -1, np.int8)
        confidence = np.zeros(n)
        recover = np.ones(n, bool)
        recover[given] = False
        recover = np.flatnonzero(recover)
        if len(recover):
            options = option_texts if len(recover) == n else option_texts.take(
                pa.array((3 * recover[:, None] + np.arange(3)).reshape(-1)))
            used, rule_of = np.unique(at[recover], return_inverse=True)
            rule_of = rule_of.reshape(-1, 2)
            roles[recover], confidence[recover] = recover_roles_at(
                options, rules.column("original_rule").take(pa.array(used)).to_pylist(), rule_of[:, 0], rule_of[:, 1],
                threads=_THREADS)
        for row, (given_a, given_b) in zip(given.tolist(), self.given.values(), strict=True):
            follows = given_mapping(list(LETTERS), given_a, given_b).follows
            roles[row], confidence[row] = [ROLES.index(follows[letter]) for letter in LETTERS], 1.0
        scenes = texts.column("scene").combine_chunks().take(pa.array(text_at))
        open_rows = recover[roles[recover, 0] < 0]
        if len(open_rows):
            corpus = pa.concat_arrays([scenes, option_texts])
            roles[open_rows], confidence[open_rows] = roles_from_evidence(
                scenes.take(pa.array(open_rows)), option_texts.take(pa.array((3 * open_rows[:, None] + np.arange(3))
                                                                             .reshape(-1))),
                *(_rule_fields(rules, at[open_rows, side]) for side in (0, 1)), corpus)
        source = np.where((roles >= 0).any(axis=1), 0, 1).astype(np.int8)
        source[given] = 2
        model = np.full(n, -1, np.int64)
        models: list[str] = []
        if annotations is not None and annotations.by_key:
            asked = np.flatnonzero((roles < 0).any(axis=1) & (source != 2))
            published = rules.column("rule")
            for row, roles_row, model_id in annotated_rows(annotations, asked, self.ids, by_id, scenes,
                                                           option_texts, published, at, roles):
                roles[row] = [ROLES.index(role) for role in roles_row]
                source[row], confidence[row] = 3, np.nan
                model[row] = models.index(model_id) if model_id in models else len(models)
                if model_id not in models:
                    models.append(model_id)
        counts = np.bincount(source, minlength=len(_SOURCES)).tolist()
        stats = {f"mapping_{kind}": counts[_SOURCES.index(kind)] for kind in _SOURCES}
        stats["letters_with_role"] = int((roles >= 0).sum())
        schema = features(CONFIG).arrow_schema
        flat_roles = roles.reshape(-1)
        options_type = schema.field("options").type
        options = pa.StructArray.from_arrays(
            [pa.array(list(LETTERS) * n, pa.string()), option_texts,
             pa.array(ROLES, pa.string()).take(pa.array(flat_roles, mask=flat_roles < 0))],
            fields=list(options_type.value_type))
        columns = {
            "id": ids.take(order),
            "pair_id": pa.array([pair.id for pair in self.pairs], pa.string()).take(pa.array(pair_of)),
            "scene": scenes,
            "options": pa.ListArray.from_arrays(pa.array(np.arange(0, 3 * n + 1, 3, dtype=np.int32)), options,
                                                type=options_type),
            "mapping_source": pa.array(_SOURCES, pa.string()).take(pa.array(source)),
            "mapping_confidence": pa.array(confidence, pa.float32(), from_pandas=True),
            "mapping_model": pa.array(models, pa.string()).take(pa.array(model, mask=model < 0)),
        }
        rule_columns: dict[str, pa.Array] = {}
        for side, name in enumerate(("rule_a", "rule_b")):
            ref_type = schema.field(name).type
            for f in ref_type:
                if f.name not in rule_columns:
                    rule_columns[f.name] = single_chunk(rules.column(f.name))
            columns[name] = pa.StructArray.from_arrays(
                [rule_columns[f.name].take(at[:, side]).cast(f.type) for f in ref_type], fields=list(ref_type))
        # Without all-valid bitmaps (``take`` adds them), the card's byte counts are those of sorted rows.
        return pa.Table.from_arrays([without_validity(columns[f.name]) for f in schema], schema=schema), stats


_SOURCES = ("recovered", "none", "raw", "model")
"""What ``mapping_source`` says, by the code :meth:`_Dilemmas.table` gives each row."""


def _rule_fields(rules: pa.Table, at: np.ndarray) -> tuple[list[str], list[list[str]]]:
    """The original text and derived values of the rules at ``at`` (what the text evidence reads)."""
    taken = rules.select(["original_rule", "derived_values"]).take(pa.array(at))
    return taken.column("original_rule").to_pylist(), taken.column("derived_values").to_pylist()


def _from_blob(outcomes: Outcomes, file: str, line: int, blob: str | None, pair: RulePair, rows: _Dilemmas,
               stats: dict) -> None:
    """One raw reply of a rule pair → its dilemmas; the raw row is published once, with the counts."""
    items = split_scene_blob(blob)
    parsed = [item for item in items if not isinstance(item, ReplyParseError)]
    failed = len(items) - len(parsed)
    new, ids = [], []
    for scene, options in parsed:
        row_id = dilemma_id(pair.rule_a_id, pair.rule_b_id, scene, cleaned=True)
        ids.append(row_id)
        if rows.add(pair, row_id, scene, tuple(text for _, text in options)):
            new.append(row_id)
    stats["blob_items_unparsable"] = stats.get("blob_items_unparsable", 0) + failed
    outcomes.scene_reply(file, line, len(items), ids, new, "dilemmas",
                         "no dilemma with options A, B and C in the reply")


def parsed_scenes(table: pa.Table) -> pa.Table:
    """A processed dilemma file's columns and each row's parsed scene and options (:data:`SCENE_COLUMNS`).

    Needs no rule, so a prefetch can run it in another process while the rules build.
    """
    parsed = parse_scenes(table.column("scene"), table.column("options"))
    for name in SCENE_COLUMNS:
        table = table.append_column(name, parsed.column(name))
    return table


PREFETCH = {"dilemma_scenes": parsed_scenes}
"""Artifact kinds a build may read ahead in a background process, with the preparation that needs no rule."""


def _processed(ctx: BuildContext, artifact: Artifact, pairs: PairResolver, rows: _Dilemmas) -> list[pl.DataFrame]:
    """A processed dilemma file (one scene per row): each row published, folded or rejected (its rules'
    failures are recorded by ``pairs``)."""
    file = artifact.relpath
    read = ctx.column_table(CONFIG, artifact, parsed_scenes)
    table, lines = read.table, read.lines
    first = rows.source(*(table.column(c) for c in ("scene_text", "option_a", "option_b", "option_c")))
    codes, found = pairs.pair_codes(read, file)
    unparsed = table.column("parse_error").is_valid().to_numpy(zero_copy_only=False) & (codes >= 0)
    field, error = (table.column(c).filter(pa.array(unparsed)).to_pylist() for c in ("parse_field", "parse_error"))
    rejected = outcome_lines(file, lines[unparsed], "rejected", field=field, reason=error)
    keep = np.flatnonzero((codes >= 0) & ~unparsed)
    kept_codes = codes[keep]
    ids = dilemma_ids(found, kept_codes.tolist(), table.column("scene_key").take(keep).to_pylist())
    given = None
    if "rot1_option" in table.column_names or "rot2_option" in table.column_names:
        given = list(zip(*(table.column(c).take(keep).to_pylist() if c in table.column_names else [None] * len(keep)
                           for c in ("rot1_option", "rot2_option")), strict=True))
    new = rows.add_sources(found, kept_codes, ids, first + keep, given)
    return [rejected, outcome_lines(file, lines[keep[new]], "published", list(compress(ids, new.tolist()))),
            outcome_lines(file, lines[keep[~new]], "folded", list(compress(ids, (~new).tolist())),
                          reason="same dilemma")]


def build(ctx: BuildContext) -> pa.Table:
    """The dilemmas table sorted by id; rule pair rows fold into their dilemmas."""
    pairs = PairResolver(ctx, CONFIG)
    rows = _Dilemmas()
    stats: dict[str, int] = {}
    pair_records = []
    outcomes, decided = Outcomes(), []
    for artifact in ctx.reading(CONFIG, *(k.name for k in ARTIFACTS if k.name != "option_role_annotations")):
        kind = artifact.kind.name
        if kind == "dilemma_scenes":
            decided += _processed(ctx, artifact, pairs, rows)
        elif kind == "rule_pairs":
            pair_records.append(pair_rows(ctx, artifact, pairs))
        else:
            for (blob,), pair, line in resolved_rows(ctx, artifact, pairs, ("scene",)):
                _from_blob(outcomes, artifact.relpath, line, blob, pair, rows, stats)
    with_dilemmas = rows.first_of_pairs()
    for file, lines, pair_ids in pair_records:
        into = list(map(with_dilemmas.get, pair_ids))
        folded = np.array([row_id is not None for row_id in into], bool)
        decided += [outcome_lines(file, lines[folded], "folded", list(compress(into, folded.tolist())),
                                  reason="rule pair of these dilemmas"),
                    outcome_lines(file, lines[~folded], "excluded",
                                  reason="conflicting rule pair with no generated dilemma")]
    ctx.ledger.record_table(CONFIG, pl.concat([pairs.outcomes.frame(), outcomes.frame(), *decided]))
    annotations = read_annotations(ctx, CONFIG, "option_role_annotations")
    table, mapping_stats = rows.table(ctx.tables["rules"], annotations)
    ctx.notes[CONFIG] = {**mapping_stats, **stats}
    return table
