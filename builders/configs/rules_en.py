"""The ``rules_en`` config: the English rule corpus v1 shipped as ``C-VARC(EN).jsonl``, one row per English rule.

The policies, in the order they apply:

- Every row of the v1 English file is an English rule; so is every English row of a Chinese
  rule file that no Chinese rule translates (``rules`` hands those over: ``ctx.english_rules``).
- Its labels (``Nation``, ``Civility``, ``Friendship``, the truncated ``Maintaining national
  unit`` …) map to the canonical framework and are closed under the hierarchy; every change is
  a repair. A label the framework does not know rejects the row, naming the field.
- Copies with the same normalized text fold into the first one read (:func:`first_copy_wins`).
- The id hashes the normalized English text under the prefix ``rule_en``, which no Chinese
  rule id (``rule-``) can share.
- ``rule_id`` is the Chinese rule whose ``rule_en`` is this text under the same key: the
  translation link ``rules`` itself uses (:func:`translation_links`).
- Near-duplicates are found on word shingles and marked in ``cluster_id`` (or folded).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from builders.context import BuildContext
from builders.schema import features
from builders.stages.ids import stable_ids
from builders.stages.ledger import Outcomes
from builders.stages.near_dedup import find_clusters
from builders.stages.normalizers.text import clean_key, clean_key_column, clean_text, clean_text_column, has_cjk
from builders.stages.normalizers.values import ValueNormalizer
from builders.stages.readers.layout import ArtifactKind
from builders.stages.word_shingles import word_texts
from builders.taxonomy import TIERS, Closure, UnknownValueError

CONFIG = "rules_en"
ID_PREFIX = "rule_en"
_VALUE_COLUMNS = ("level", "core values", "derived values")

V1_ENGLISH = ArtifactKind(
    "v1_release_en", CONFIG, ("*EN.jsonl", "*EN).jsonl", "*[-_]en.jsonl"),
    ("rule", *_VALUE_COLUMNS),
    "The v1 English rule corpus (C-VARC(EN).jsonl): English labels under the same framework.")
ARTIFACTS = [V1_ENGLISH]
"""Its place is narrower than the Chinese v1 file's (``*.jsonl``): discovery tries it first."""

_SEQ_STRIDE = 1 << 32
"""A row's place in reading order: its file's position among the artifacts times this, plus its line."""


_OBSERVED = {"seq": pl.Int64, "file": pl.String, "line": pl.Int64, "text": pl.String, "source": pl.String,
             "values": pl.Int64, "handed": pl.Boolean, "key": pl.String}


class _Observed:
    """The usable English rows of a build, column by column, and the closures their values index."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {name: [] for name in ("seq", "file", "line", "text", "source", "values",
                                                             "handed")}
        self.closures: list[Closure] = []
        self._closure_at: dict[int, int] = {}

    def add(self, seq: int, file: str, line: int, text: str, source: str, values: Closure, handed: bool) -> None:
        at = self._closure_at.setdefault(id(values), len(self.closures))
        if at == len(self.closures):
            self.closures.append(values)
        for name, value in zip(self.rows, (seq, file, line, text, source, at, handed), strict=True):
            self.rows[name].append(value)

    def frame(self) -> pl.DataFrame:
        """The rows, typed even when there are none (a tree with no English rule)."""
        texts = self.rows["text"]
        return pl.DataFrame({**self.rows, "key": [clean_key(t) for t in texts]}, schema=_OBSERVED)


def _v1_rows(ctx: BuildContext, normalize: ValueNormalizer, seq_of: dict[str, int], observed: _Observed,
             rejected: Outcomes) -> None:
    """The rows of the v1 English files; rows that cannot be used are rejected with their field."""
    for _, record in ctx.records(CONFIG, V1_ENGLISH.name):
        fields, file, line = record.fields, record.file, record.line
        raw = fields.get("rule")
        text = clean_text(raw) if isinstance(raw, str) else ""
        if not text:
            rejected.reject(file, line, "rule", "empty rule text")
            continue
        if has_cjk(text):
            rejected.reject(file, line, "rule", "Chinese text in the English file "
                            "(Chinese rules belong in CVC.jsonl or the master table)")
            continue
        try:
            values = normalize(*(fields.get(column) for column in _VALUE_COLUMNS))
        except UnknownValueError as err:
            rejected.reject(file, line, _VALUE_COLUMNS[TIERS.index(err.tier)], str(err))
            continue
        if values.added or values.dropped:
            ctx.repairs.append({"config": CONFIG, "file": file, "line": line,
                                "added": values.added, "dropped": values.dropped})
        observed.add(seq_of[file] + line, file, line, text, "v1_release", values, False)


def _handed_rows(ctx: BuildContext, seq_of: dict[str, int], observed: _Observed, rejected: Outcomes) -> None:
    """The English rows ``rules`` handed over. They were read there, so their one outcome is recorded
    there too (as are their repairs): folded into the row that publishes them here, or rejected."""
    for obs in ctx.english_rules:
        if obs.values is None:
            rejected.reject(obs.file, obs.line, obs.field,
                            "English label for a rule no rule table lists (no value labels)")
            continue
        observed.add(seq_of[obs.file] + obs.line, obs.file, obs.line, obs.text, obs.source, obs.values, True)


def first_copy_wins(observations: pl.DataFrame) -> pl.DataFrame:
    """One row per normalized text: the copy read first (its text, values and file are published)."""
    return observations.sort("seq").group_by("key", maintain_order=True).first()


def translation_links(rules: pa.Table | None, english_keys: pl.Series) -> pl.DataFrame:
    """Each of ``english_keys`` (normalized English texts) that is the translation of a Chinese rule →
    that rule (``rule_en`` under the key ``rules`` links English copies by); the lowest id when several
    Chinese rules share a translation. With no English key, no translation is normalized."""
    if rules is None or not rules.num_rows or english_keys.is_empty():
        return pl.DataFrame({"key": [], "rule_id": []}, schema={"key": pl.String, "rule_id": pl.String})
    english = rules.column("rule_en")
    translation_keys = clean_key_column(clean_text_column(english))
    return (pl.DataFrame({"key": pa.array(translation_keys), "rule_id": rules.column("id"),
                          "translated": english.is_valid()})
            .filter(pl.col("translated") & (pl.col("key") != "") & pl.col("key").is_in(english_keys.implode()))
            .group_by("key").agg(pl.col("rule_id").min()))


def _clusters(ctx: BuildContext, kept: pl.DataFrame) -> list[int] | None:
    """Each kept row's near-duplicate representative (its position; the first in reading order wins)."""
    settings = ctx.settings.near_dup_en
    if settings.mode == "off" or not kept.height:
        return None
    return find_clusters(word_texts(kept["text"].to_list()), num_proc=ctx.num_proc, **settings.kwargs())


def _english_names(ctx: BuildContext) -> dict[str, str]:
    return {e["zh"]: e["en"] for tier in TIERS for e in getattr(ctx.taxonomy, tier)}


def _published_table(ctx: BuildContext, rows: pl.DataFrame, closures: list[Closure]) -> pa.Table:
    """The published rows, sorted by id, typed by the schema."""
    rows = rows.sort("id")
    english = _english_names(ctx)
    picked = [closures[i] for i in rows["values"].to_list()]
    columns = {"id": rows["id"].to_list(), "rule": rows["text"].to_list()}
    for tier in TIERS:
        names = [getattr(c, tier) for c in picked]
        columns[tier] = names
        columns[f"{tier}_en"] = [[english[n] for n in listed] for listed in names]
    columns.update(source=rows["source"].to_list(), source_file=rows["file"].to_list(),
                   rule_id=rows["rule_id"].to_list(), cluster_id=rows["cluster_id"].to_list())
    schema = features(CONFIG).arrow_schema
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def _outcomes(observations: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    """Every observation's outcome: the kept copy published, the others folded into the row that has them
    (``handed``: a row ``rules`` handed over, whose outcome is recorded there, where it was read)."""
    rows = observations.join(kept.select("key", "id", "final_id", "seq"), on="key", how="left", suffix="_kept")
    near, kept_copy = pl.col("final_id") != pl.col("id"), pl.col("seq") == pl.col("seq_kept")
    return rows.select(
        "handed", "file", "line",
        outcome=pl.when(pl.col("handed") | near | ~kept_copy).then(pl.lit("folded")).otherwise(pl.lit("published")),
        id=pl.when(pl.col("handed") | near).then("final_id").otherwise("id"),
        field=pl.lit(None, pl.String),
        reason=pl.when("handed").then(pl.concat_str(
            pl.lit("English rule that no Chinese rule translates: published in rules_en as "), "final_id"))
        .when(near).then(pl.concat_str(pl.lit("near-duplicate of "), "final_id"))
        .when(~kept_copy).then(pl.lit("same rule text")))


def build(ctx: BuildContext) -> pa.Table:
    """Build the English rules, sorted by id, recording every English row's outcome."""
    seq_of = {a.relpath: position * _SEQ_STRIDE for position, a in enumerate(ctx.artifacts)}
    observed = _Observed()
    repairs_before = len(ctx.repairs)
    rejected, rejected_in_rules = Outcomes(), Outcomes()
    _v1_rows(ctx, ValueNormalizer(ctx.taxonomy), seq_of, observed, rejected)
    _handed_rows(ctx, seq_of, observed, rejected_in_rules)
    observations = observed.frame()
    kept = first_copy_wins(observations)
    kept = kept.with_columns(id=pl.Series(stable_ids(ID_PREFIX, kept["key"].to_list()), dtype=pl.String))
    links = translation_links(ctx.tables.get("rules"), kept["key"])
    kept = kept.join(links, on="key", how="left", maintain_order="left")
    clusters = _clusters(ctx, kept)
    representative = pl.Series(clusters if clusters is not None else range(kept.height), dtype=pl.Int64)
    kept = kept.with_columns(cluster_id=kept["id"].gather(representative))
    fold_near = ctx.settings.near_dup_en.mode == "fold"
    kept = kept.with_columns(final_id=pl.col("cluster_id") if fold_near else pl.col("id"))
    outcomes = _outcomes(observations, kept)
    ctx.ledger.record_table(CONFIG, pl.concat([rejected.frame(), outcomes.filter(~pl.col("handed")).drop("handed")]))
    ctx.ledger.record_table("rules", pl.concat([rejected_in_rules.frame(),
                                                outcomes.filter("handed").drop("handed")]))
    published = kept.filter(pl.col("final_id") == pl.col("id"))
    if fold_near:
        published = published.with_columns(cluster_id=pl.col("id"))
    members = kept.filter(pl.col("cluster_id") != pl.col("id")).group_by("cluster_id").agg(pl.col("id").sort())
    if clusters is not None:
        ctx.near_duplicates[CONFIG] = {rep: ids for rep, ids in sorted(members.iter_rows())}
    repairs = ctx.repairs[repairs_before:]
    ctx.notes[CONFIG] = {
        "rows_hierarchy_closed": sum(1 for r in repairs if r["added"]),
        "rows_hierarchy_contradicted": sum(1 for r in repairs if r["dropped"]),
        "handed_over_from_rules": len(ctx.english_rules),
        "linked_to_rules": published["rule_id"].is_not_null().sum(),
        "near_duplicate_clusters": members.height,
        "near_duplicate_members": int(members["id"].list.len().sum() or 0),
    }
    return _published_table(ctx, published, observed.closures)
