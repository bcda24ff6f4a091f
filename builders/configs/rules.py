"""The ``rules`` config: upstream rule tables, label files and LLM replies → one row per rule.

Upstream keeps the same rule in several places (the master table, label files, classified
generations, the v1 release), in Chinese or English, labelled by humans, an LLM or nobody.
Every raw row of every kind below becomes one row of an observations table; the policies
after the kinds are the steps that turn that table into one published row per rule: values
from the most curated copy, the label from the best annotation (human over LLM), the
provenance from the most specific source. :mod:`builders.configs.rules_build` runs them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

import polars as pl
import pyarrow as pa

from builders.configs import rules_steps as steps
from builders.context import BuildContext, EnglishRule
from builders.stages.ids import stable_id
from builders.stages.near_dedup_background import BackgroundClusters
from builders.stages.normalizers.text import clean_text, dedup_key
from builders.stages.observations import ClosureCodes, prepared_texts
from builders.stages.parsers.replies import parse_classification, parse_label, parse_label_reply
from builders.stages.readers.layout import ArtifactKind, LabelSource
from builders.taxonomy import TIERS

CONFIG = "rules"

# --- How cells are read -------------------------------------------------------------------


def label_cell(cell: str) -> dict:
    """A human ``标签`` cell: -1, 0 or 1."""
    return {"label": parse_label(cell)}


@lru_cache(maxsize=1 << 16)
def label_reply(cell: str) -> dict:
    """An LLM ``标签：x\\n重写：y`` reply: the label and the rewrite (``None``: none)."""
    reply = parse_label_reply(cell)
    return {"label": reply.label, "rewrite": clean_text(reply.rewrite) or None}


@lru_cache(maxsize=1 << 16)
def classification(cell: str) -> dict:
    """A ``层面/核心价值/衍生价值`` classification reply: the names of each tier, not yet canonical."""
    return parse_classification(cell)


def retained(cell: str | None) -> dict:
    """A seed rule's ``retain`` cell: upstream dropped every rule not marked 1 (or left blank)."""
    return {"exclude_reason": None if str(cell).strip() in ("1", "") else "filtered upstream (retain != 1)"}


_SOURCE_PREFIXES = (
    ("cmos", "cmos"), ("flames", "flames"), ("zhihu", "zhihu_kol"), ("people_daily", "people_daily"),
    ("encyclopedia", "encyclopedia_qa"), ("web", "web_crawl"), ("crawl", "web_crawl"),
    ("sc101", "sc101"), ("mic", "mic"),
)


def source_from_path(relpath: str) -> str:
    """How a generated or seed rule's source is named: by its file's name, else its folder's."""
    path = PurePosixPath(relpath)
    for part in (path.stem.lower(), path.parent.name.lower()):
        for prefix, source in _SOURCE_PREFIXES:
            if part.startswith(prefix):
                return source
    return "generated"


# --- The artifact kinds, each declared once; ``rank``: which copy's text and values win -------

def _values_from(*columns: str) -> dict[str, str]:
    """The raw columns of the three value tiers (dimensions, core values, derived values), in that order."""
    return dict(zip(columns, TIERS, strict=True))


MASTER_TABLE = ArtifactKind(
    "master_table", CONFIG, ("data_control/final.csv",),
    {"rot": "text", "translate": "text_en", **_values_from("level", "core values", "derived values")},
    "The master rule table after labelling and rewriting (GBK).", rank=0, source="master_table")
HUMAN_RETAINED = ArtifactKind(
    "human_retained", CONFIG, ("data_control/label_rot_data/human/*.csv",),
    {"rot": "text", **_values_from("Level", "Core Values", "Derived Values")},
    "Rules human annotators kept (人工最终保留数据.csv).", rank=1, source="human_curated",
    label=LabelSource("human", "human", every_row=1))
LLM_LABELS = ArtifactKind(
    "llm_labels", CONFIG, ("data_control/label_rot_data/llm/*.csv",),
    {"rot": "text", **_values_from("level", "core values", "derived values"), "标签": "reply"},
    "LLM labels: raw 标签/重写 replies.", rank=2, parse={"reply": label_reply}, label=LabelSource("llm"))
LLM_INPUT = ArtifactKind(
    "llm_input", CONFIG, ("data_control/label_rot_data/llm/*.csv",),
    {"rot": "text", **_values_from("层面", "核心价值", "衍生价值")},
    "Rules sent to LLM labelling (llm_rot.csv).", rank=3)
GENERATED_CLASSIFIED = ArtifactKind(
    "generated_classified", CONFIG, ("rule_generation/6_final/*.csv",),
    {"rot": "text", "derived_values": "classification"},
    "Generated rules with raw 层面/核心价值/衍生价值 classification replies.", rank=4,
    parse={"classification": classification}, source=source_from_path)
V1_RELEASE = ArtifactKind(
    "v1_release", CONFIG, ("*.jsonl",),
    {"rule": "text", **_values_from("level", "core values", "derived values")},
    "The v1 Hub release (CVC.jsonl, C-VARC(EN).jsonl).", rank=5, source="v1_release")
SEED_RULES = ArtifactKind(
    "seed_rules", CONFIG, ("basic_value_rule/*/*.csv",),
    {"rot": "text", **_values_from("Level", "Core Values", "Derived Values")},
    "English seed rules from SC101 and MIC.", rank=6, optional={"retain": "exclude_reason"},
    parse={"exclude_reason": retained}, source=source_from_path)
HUMAN_LABELS = ArtifactKind(
    "human_labels", CONFIG,
    ("data_control/label_rot_data/human/*.csv", "data_control/label_rot_data/human_label_samples/*.csv"),
    {"rot": "text", "标签": "label", "重写": "rewrite"},
    "Human labels -1/0/1 with rewrites.", rank=7, parse={"label": label_cell}, label=LabelSource("human", "human"))

ARTIFACTS = [MASTER_TABLE, HUMAN_RETAINED, HUMAN_LABELS, LLM_LABELS, LLM_INPUT, GENERATED_CLASSIFIED, SEED_RULES,
             V1_RELEASE]
"""In the order a file placed under two kinds is tried (its columns decide)."""

PREFETCH = {kind.name: prepared_texts for kind in ARTIFACTS
            if kind.name != "master_table" and all(p.endswith(".csv") for p in kind.patterns)}
"""The rule files a build may read ahead in a background process (the CSV files but the master tables,
which are read first), with the preparation that needs no other file."""


def rule_id(original_zh: str) -> str:
    """The stable id of a rule: a hash of its normalized original Chinese text."""
    return stable_id("rule", dedup_key(original_zh))


# --- The policies: steps on the observations table ----------------------------------------

BY_COPY = ("rank", "seq")
"""The order of copies: the most curated kind first, then by file and line (``seq``: files are read by path)."""
MEMBER_FIELDS = ("group_key", "file", "line", "seq", "rank", "zh", "text", "key", "text_en", "values", "label",
                 "rewrite", "label_origin", "labeler", "source")
"""What the policies read of a copy of a rule."""
ORIGIN_RANK = {"human": 0, "llm": 1, "none": 2}
"""Which annotation counts: a human's over an LLM's."""
GENERIC_SOURCES = ("master_table", "v1_release", "human_curated", "generated", "unknown")
"""Sources that say where a file sits, not where its rule came from."""


def english_rows_join_their_translation(obs: pl.DataFrame) -> pl.DataFrame:
    """An English row is a copy of the Chinese rule whose translation it is (the best copy's
    translation, when several rules share it); its ``group_key`` is that rule's key, null if none."""
    if obs.filter(~pl.col("zh")).is_empty():  # no English row: the translations need no keys
        return obs.with_columns(group_key="key")
    translated = obs.filter(pl.col("zh") & pl.col("text_en").is_not_null())
    translations = (translated.with_columns(key_en=steps.keys_of(translated.get_column("text_en"))).sort(BY_COPY)
                    .group_by("key_en", maintain_order=True).agg(pl.col("key").first().alias("target")))
    return (obs.join(translations, left_on="key", right_on="key_en", how="left", maintain_order="left")
            .with_columns(group_key=pl.when(pl.col("zh")).then(pl.col("key")).otherwise(pl.col("target")),
                          text_en=pl.when(pl.col("zh")).then(pl.col("text_en"))
                          .otherwise(pl.col("text_en").fill_null(pl.col("text"))))
            .drop("target"))


def english_only_rules(rows: pl.DataFrame, codes: ClosureCodes) -> list[EnglishRule]:
    """An English row that translates no Chinese rule is an English rule: handed to ``rules_en``,
    which publishes it (or rejects it when it carries no labels) and records its one outcome in
    this config's ledger, where it was read. The one place English-only rows are decided."""
    return [EnglishRule(file, line, field, text, source, None if values is None else codes.closure(values))
            for file, line, field, text, source, values in rows.sort("seq").select(
                "file", "line", "text_column", "text", "source", "values").iter_rows()]


def values_from_best_copy() -> list[pl.Expr]:
    """Text and values come from the most curated copy that has values: master table first."""
    has_values = pl.col("values").is_not_null()
    return [pl.col(c).filter(has_values).first().alias(f"kept_{c}")
            for c in ("text", "key", "values", "rank", "seq", "source")]


def translation_from_best_copy() -> pl.Expr:
    """The English text: the translation of the most curated copy that has one."""
    return pl.col("text_en").drop_nulls().first().alias("rule_en")


def source_from_most_specific_copy() -> pl.Expr:
    """The source: the most curated copy's among those naming where the rule came from (a corpus,
    a crawl), else the kept copy's."""
    return pl.col("source").filter(~pl.col("source").is_in(GENERIC_SOURCES)).first().alias("specific_source")


def label_from_best_annotation(members: pl.DataFrame) -> pl.DataFrame:
    """The label that counts: a human's over an LLM's, then the first file and line. How many
    distinct labels the rule was given shows a conflict."""
    return (members.filter(pl.col("label").is_not_null())
            .sort(pl.col("label_origin").replace_strict(ORIGIN_RANK), "seq").group_by("group_key")
            .agg(pl.col("label", "rewrite", "label_origin", "labeler", "file", "line").first().name.prefix("a_"),
                 pl.col("label").n_unique().alias("labels_given")))


def first_seen() -> pl.Expr:
    """Where a rule comes in reading order: its first Chinese copy."""
    return pl.col("seq").filter(pl.col("zh")).min().alias("first_seq")


def group_decision() -> dict[str, pl.Expr]:
    """What becomes of a rule (``decision``, and the ``decision_field`` and ``decision_reason`` its
    copies are given): rejected without values, excluded when labelled 0 (unrelated), rejected when
    labelled -1 without a rewrite; otherwise published."""
    no_values = pl.col("kept_values").is_null()
    unrelated = pl.col("a_label") == 0
    refused = (pl.col("a_label") == -1) & pl.col("a_rewrite").is_null()
    at = pl.concat_str(pl.col("a_file"), pl.lit(":"), pl.col("a_line"))
    return {
        "decision": pl.when(no_values | refused).then(pl.lit("rejected"))
        .when(unrelated).then(pl.lit("excluded")).otherwise(pl.lit("published")),
        "decision_field": pl.when(no_values).then(pl.lit("rot")).when(refused).then(pl.lit("标签")),
        "decision_reason": pl.when(no_values)
        .then(pl.lit("label for a rule that no rule table lists (no value labels)"))
        .when(unrelated).then(pl.concat_str(pl.lit("labelled 0 (unrelated) at "), at))
        .when(refused).then(pl.concat_str(pl.lit("labelled -1 at "), at, pl.lit(" without a rewrite"))),
    }


def rewrite_replaces_text() -> pl.Expr:
    """The published text: the counting annotation's rewrite when it has one, else the kept copy's."""
    return pl.coalesce("a_rewrite", "kept_text")


def best_of_same_text() -> tuple[pl.Expr, ...]:
    """Of the rules a rewrite gives the same text, the one kept: the best annotated, then the one
    whose kept copy is the most curated (no two rules share a kept copy, so this decides)."""
    origin_rank = pl.col("a_label_origin").fill_null("none").replace_strict(ORIGIN_RANK)
    return origin_rank, pl.col("kept_rank"), pl.col("kept_seq")


def keep_best_of_same_text(resolved: pl.DataFrame) -> pl.DataFrame:
    """``best_id``: the rule kept among those published under one text (``pub_key``), by
    :func:`best_of_same_text`; ``entry_seq``: where the first of them comes in reading order;
    ``folded_en``: the first translation among the others. A rule alone under its text is its own best."""
    resolved = resolved.with_columns(alone=pl.col("pub_key").is_unique())
    shared = (resolved.filter(~pl.col("alone")).sort(*best_of_same_text(), maintain_order=True)
              .with_columns(best_id=pl.col("id").first().over("pub_key"),
                            entry_seq=pl.col("first_seq").min().over("pub_key"),
                            folded_en=pl.col("rule_en").filter(pl.col("id") != pl.col("id").first()).drop_nulls()
                            .first().over("pub_key")))
    alone = resolved.filter("alone").with_columns(best_id="id", entry_seq="first_seq",
                                                  folded_en=pl.lit(None, pl.String))
    return pl.concat([alone, shared]).drop("alone")


def translation_after_rewrite() -> pl.Expr:
    """A rule whose rewrite lands on another rule's text takes that rule's translation when it had
    none or was rewritten (``folded_en``: the first translation among the rules folded into it)."""
    return (pl.when(pl.col("folded_en").is_not_null() & (pl.col("rule_en").is_null() | pl.col("rewritten")))
            .then(pl.col("folded_en")).otherwise(pl.col("rule_en")))


# --- The build: the policies in order -----------------------------------------------------


def _fate() -> dict[str, pl.Expr]:
    """The ledger columns of rows the build stops before grouping: rejected or excluded as read."""
    rejected = pl.col("reject_reason").is_not_null()
    return {
        "outcome": pl.when(rejected).then(pl.lit("rejected")).otherwise(pl.lit("excluded")),
        "id": pl.when(rejected).then("reject_id"),
        "field": pl.when(rejected).then("reject_field"),
        "reason": pl.when(rejected).then("reject_reason").otherwise("exclude_reason"),
    }


def _member_fate() -> dict[str, pl.Expr]:
    """The ledger columns of a copy of a rule: its rule's decision, else published (the kept copy
    of the kept rule), or folded into the rule that stands for it."""
    decided = pl.col("decision") != "published"
    near, rewritten = pl.col("rep_id") != pl.col("best_id"), pl.col("id") != pl.col("best_id")
    kept_copy = pl.col("copy_seq") == pl.col("kept_seq")
    return {
        "outcome": pl.when(decided).then("decision").when(near | rewritten | ~kept_copy).then(pl.lit("folded"))
        .otherwise(pl.lit("published")),
        "id": pl.when(decided).then("id").when(near).then("rep_id").otherwise("best_id"),
        "field": pl.when(decided).then("decision_field"),
        "reason": pl.when(decided).then("decision_reason")
        .when(near).then(pl.concat_str(pl.lit("near-duplicate of "), "rep_id"))
        .when(rewritten).then(pl.concat_str(pl.lit("same text as "), "best_id", pl.lit(" after rewrite")))
        .when(~kept_copy).then(pl.lit("same rule text")),
    }


def build(ctx: BuildContext) -> pa.Table:
    """Build the published rules, sorted by id, recording every raw row's outcome."""
    ids = steps.Ids(ctx.num_proc)
    obs, codes = steps.read_observations(ctx, CONFIG, ARTIFACTS, PREFETCH, ids)
    steps.record_repairs(ctx, CONFIG, obs, codes)
    usable = pl.col("reject_reason").is_null() & pl.col("exclude_reason").is_null()
    linked = english_rows_join_their_translation(obs.filter(usable))
    members = linked.filter(pl.col("group_key").is_not_null()).select(MEMBER_FIELDS)
    members = members.sort(BY_COPY, maintain_order=True)
    stopped = obs.filter(~usable)
    ctx.english_rules = english_only_rules(linked.filter(pl.col("group_key").is_null()), codes)
    notes = ctx.notes.setdefault(CONFIG, {})
    notes["english_linked"] = members.filter(~pl.col("zh")).height

    # One row per rule: what each policy takes from its copies (the most curated first).
    groups = (members.group_by("group_key", maintain_order=True)
              .agg(first_seen(), *values_from_best_copy(), translation_from_best_copy(),
                   source_from_most_specific_copy(), pl.col("file", "line", "seq").name.prefix("copy_"))
              .join(label_from_best_annotation(members), on="group_key", how="left", maintain_order="left")
              .join(ids.table("group_key"), on="group_key", how="left", maintain_order="left")
              .with_columns(**group_decision()))
    published = pl.col("decision") == "published"
    valued = groups.filter(pl.col("kept_values").is_not_null())
    conflicts = valued.filter(pl.col("labels_given") > 1).height
    excluded = valued.filter(pl.col("decision") == "excluded").height
    notes.update({name: count for name, count in (("label_conflicts", conflicts), ("excluded_label_0", excluded))
                  if count})

    # The published text, and the rules a rewrite gives the same text: one is kept, the others fold into it.
    resolved = (groups.filter(published)
                .with_columns(rule=rewrite_replaces_text(), source=pl.coalesce("specific_source", "kept_source"))
                .with_columns(rewritten=pl.col("rule") != pl.col("kept_text")))
    resolved = keep_best_of_same_text(
        resolved.with_columns(pub_key=steps.keys_where(resolved, "rule", "rewritten", otherwise="group_key")))
    if resolved.height:
        notes["folded_after_rewrite"] = resolved.filter(pl.col("id") != pl.col("best_id")).height
    kept = resolved.filter(pl.col("id") == pl.col("best_id")).with_columns(rule_en=translation_after_rewrite())
    if ctx.settings.near_dup.mode != "off":  # near-duplicates are found among the kept rules in reading order
        kept = kept.sort("entry_seq", maintain_order=True)
    kept = kept.with_row_index("position")
    ctx.rule_aliases.update(zip(*resolved.filter(pl.col("id") != pl.col("best_id"))
                                .sort("entry_seq", maintain_order=True)
                                .select("group_key", "best_id").get_columns(), strict=True))

    # Near-duplicates among the kept rules: marked, or folded into their cluster's best-annotated rule.
    clusters = None
    if ctx.settings.near_dup.mode != "off":
        rank = (kept.select("position", *best_of_same_text()).sort(pl.exclude("position"))
                .with_row_index("rank").sort("position").get_column("rank"))
        clusters = steps.near_duplicate_clusters(ctx, kept.get_column("rule").to_list(), rank.to_list())
    kept_ids = kept.get_column("id")
    if ctx.settings.near_dup.mode == "fold" and clusters is not None:
        kept = kept.with_columns(rep_id=kept_ids.gather(clusters))
        resolved = resolved.join(kept.select("pub_key", "rep_id"), on="pub_key", how="left", maintain_order="left")
        for row in (resolved.filter(pl.col("rep_id") != pl.col("best_id"))
                    .sort("entry_seq", maintain_order=True).iter_rows(named=True)):
            ctx.rule_aliases[row["group_key"]] = ctx.rule_aliases[row["pub_key"]] = row["rep_id"]
    else:
        kept, resolved = kept.with_columns(rep_id="id"), resolved.with_columns(rep_id="best_id")

    # The ledger column: every raw row's outcome.
    fate_of = ("copy_file", "copy_line", "copy_seq", "decision", "decision_field", "decision_reason", "id",
               "best_id", "rep_id", "kept_seq")
    copies = pl.concat([resolved.select(fate_of), groups.filter(~published).select(
        pl.exclude("best_id", "rep_id"), best_id=pl.lit(None, pl.String), rep_id=pl.lit(None, pl.String))
        .select(fate_of)])
    ledger = pl.concat([
        stopped.select("file", "line", **_fate()),
        copies.explode("copy_file", "copy_line", "copy_seq")
        .select(file="copy_file", line="copy_line", **_member_fate()),
    ])
    ctx.ledger.record_table(CONFIG, ledger)
    repairs = [r for r in ctx.repairs if r["config"] == CONFIG]
    notes["rows_hierarchy_closed"] = sum(1 for r in repairs if r["added"])
    notes["rows_hierarchy_contradicted"] = sum(1 for r in repairs if r["dropped"])

    table = (kept.filter(pl.col("rep_id") == pl.col("id"))
             .select("id", "rule", "rule_en", "rewritten", "source", "position", "kept_key",
                     original_rule="kept_text", values="kept_values", label="a_label",
                     label_origin=pl.col("a_label_origin").fill_null("none"), labeler="a_labeler", cluster_id="id",
                     published_key=pl.when("rewritten").then("pub_key").otherwise("kept_key"))
             .sort("id"))
    ctx.tables[CONFIG] = steps.rules_table(CONFIG, table, codes)
    original_keys, published_keys = table.get_column("kept_key"), table.get_column("published_key")
    ctx.rule_keys = lambda: (original_keys.to_list(), published_keys.to_list())
    if clusters is not None:
        texts_order, positions = kept_ids.to_list(), table.get_column("position").to_list()
        if isinstance(clusters, BackgroundClusters):
            ctx.defer(CONFIG, lambda: steps.mark_near_duplicates(ctx, CONFIG, texts_order, clusters.result(),
                                                                 positions))
        else:
            steps.mark_near_duplicates(ctx, CONFIG, texts_order, clusters, positions)
    pa.default_memory_pool().release_unused()  # the observations' buffers, before the next config reads its files
    return ctx.tables[CONFIG]
