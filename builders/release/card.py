"""Describe stage: the dataset card (README.md) with YAML front matter the Hub understands.

The YAML is produced through ``datasets``' own ``MetadataConfigs`` and ``DatasetInfosDict``
writers and ``huggingface_hub``'s ``DatasetCardData``, so ``load_dataset`` reads back
exactly the configs, splits and features this builder wrote. Field tables come from the
schemas; statistics from the rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from string import Template

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from builders.resources import card_dir
from builders.schema import features, field_table, load_schema
from builders.stages.readers.license import RELEASE_LICENSE_FILE, License
from builders.taxonomy import TIERS, Taxonomy

PRETTY_NAME = "Chinese Values Corpus (CVC)"
DEFAULT_REPO_ID = "Beijing-AISI/CVC"


@dataclass(frozen=True)
class SplitFiles:
    """One split of one config as written: its files, rows and sizes."""

    config: str
    schema_config: str
    split: str
    files: list[str]
    num_rows: int
    num_bytes: int
    download_size: int


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def _data_files_pattern(files: list[str]) -> str:
    first = files[0]
    return first.rsplit("-", 3)[0] + "-*.parquet"


def license_metadata(license: License) -> dict:
    """The card's license fields the Hub's way: a Hub id as it is; any other license as ``other`` with
    ``license_name`` and ``license_link`` to the LICENSE file the release ships."""
    if license.id != "other":
        return {"license": license.id}
    return {"license": "other", "license_name": license.name, "license_link": RELEASE_LICENSE_FILE}


def license_section(license: License) -> str:
    """The card's license section: what the license is, where its terms are, the attribution it requires."""
    named = f"**{license.title or license.name}**" if license.id == "other" else f"**`{license.id}`**"
    where = (f"its terms are in the `{RELEASE_LICENSE_FILE}` file shipped with it" if license.text is not None
             else f"the `{RELEASE_LICENSE_FILE}` file shipped with it names it")
    parts = [f"This release is distributed under {named}; {where}"
             + (f"; the terms are published at {license.link}" if license.link else "") + "."]
    if license.attribution:
        parts += ["", "The license requires every public use to give this attribution:", "",
                  *(f"> {line}" if line else ">" for line in license.attribution.splitlines())]
    parts += ["", "The corpora the rules were drawn from keep their own licenses (next section)."]
    return "\n".join(parts)


def card_data(splits: list[SplitFiles], version: str, license: License) -> DatasetCardData:
    """The YAML front matter: configs, dataset_info, license and the Hub's metadata fields."""
    total = max((s.num_rows for s in splits if s.config == "rules"), default=0)
    data = DatasetCardData(
        pretty_name=PRETTY_NAME,
        language=["zh", "en"],  # every rule's Chinese text, and its English translation (rule_en)
        **license_metadata(license),
        annotations_creators=["expert-generated", "machine-generated"],
        language_creators=["machine-generated", "expert-generated"],
        multilinguality=["multilingual"],
        size_categories=[_size_category(total)],
        source_datasets=["original", "extended"],
        task_categories=["text-generation", "multiple-choice", "text-classification"],
        tags=["chinese-values", "ethics", "moral-dilemmas", "llm-alignment", "value-alignment"],
        version=version,
    )
    configs = MetadataConfigs({
        s.config: {"data_files": [{"split": s.split, "path": _data_files_pattern(s.files)}],
                   **({"default": True} if s.config == "default" else {})}
        for s in splits
    })
    configs.to_dataset_card_data(data)
    infos = DatasetInfosDict({
        s.config: datasets.DatasetInfo(
            features=features(s.schema_config),
            splits=datasets.SplitDict({s.split: datasets.SplitInfo(
                name=s.split, num_bytes=s.num_bytes, num_examples=s.num_rows)}),
            download_size=s.download_size,
            dataset_size=s.num_bytes,
        )
        for s in splits
    })
    infos.to_dataset_card_data(data)
    return data


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def framework_table(taxonomy: Taxonomy) -> str:
    """The 50 derived values with their parents, English names and known variants."""
    return _table(
        ("#", "Derived value", "English", "Core value", "Dimension", "Variants mapped here"),
        [(d["id"], d["zh"], d["en"], d["core_value"], d["dimension"], "、".join(d["aliases"]) or "")
         for d in taxonomy.derived_values],
    )


def _counts(column: pa.ChunkedArray) -> dict:
    """Value → count of a column (list columns are flattened), computed in Arrow."""
    if pa.types.is_list(column.type):
        column = pc.list_flatten(column)
    return {c["values"].as_py(): c["counts"].as_py() for c in pc.value_counts(column)}


def label_distribution(table: pa.Table, taxonomy: Taxonomy) -> str:
    """Rules per dimension, core value and derived value (Chinese and English names), in framework order."""
    counts = {tier: _counts(table.column(tier)) for tier in TIERS}
    en = {e["zh"]: e["en"] for tier in TIERS for e in getattr(taxonomy, tier)}
    return "\n".join([
        _table(("Dimension", "English", "Rules"),
               [(n, en[n], counts["dimensions"].get(n, 0)) for n in taxonomy.names("dimensions")]),
        "",
        _table(("Core value", "English", "Rules"),
               [(n, en[n], counts["core_values"].get(n, 0)) for n in taxonomy.names("core_values")]),
        "",
        _table(("#", "Derived value", "English", "Rules"),
               [(i, n, en[n], counts["derived_values"].get(n, 0))
                for i, n in enumerate(taxonomy.names("derived_values"), start=1)]),
    ])


def rules_statistics(table: pa.Table, taxonomy: Taxonomy) -> str:
    """Counts per value, label origin, source and rewrite status, and near-duplicate clusters."""
    rewritten = pc.sum(table.column("rewritten")).as_py() or 0
    in_clusters = pc.sum(pc.not_equal(table.column("cluster_id"), table.column("id"))).as_py() or 0
    representatives = len(pc.unique(pc.filter(
        table.column("cluster_id"), pc.not_equal(table.column("cluster_id"), table.column("id")))))
    parts = [
        f"{table.num_rows:,} rules; {rewritten:,} published as rewritten text; {in_clusters:,} marked as "
        f"near-duplicates of {representatives:,} other rules (their `cluster_id`).",
        "",
        _table(("Label origin", "Rules"), sorted(_counts(table.column("label_origin")).items())),
        "",
        _table(("Source", "Rules"), sorted(_counts(table.column("source")).items())),
        "",
        label_distribution(table, taxonomy),
    ]
    return "\n".join(parts)


def rules_en_statistics(table: pa.Table, taxonomy: Taxonomy, notes: dict) -> str:
    """Link rate to the Chinese rules, repairs made to the v1 labels, folds, and the label distribution."""
    linked = table.num_rows - table.column("rule_id").null_count
    share = f"{linked / table.num_rows:.1%}" if table.num_rows else "–"
    marked = pc.sum(pc.not_equal(table.column("cluster_id"), table.column("id"))).as_py() or 0
    return "\n".join([
        f"{table.num_rows:,} English rules; {linked:,} ({share}) linked by `rule_id` to the Chinese rule they "
        f"translate; {marked:,} marked as near-duplicates (word bigrams) of another rule.",
        "",
        f"Labels of the English file repaired under the hierarchy: {notes.get('rows_hierarchy_closed', 0):,} rows "
        f"gained an implied parent, {notes.get('rows_hierarchy_contradicted', 0):,} lost a dimension none of their "
        "values belongs to (every change is listed in the build's `repairs.jsonl`).",
        "",
        _table(("Source", "Rules"), sorted(_counts(table.column("source")).items())),
        "",
        label_distribution(table, taxonomy),
    ])


def dilemmas_statistics(table: pa.Table) -> str:
    """How the option mappings were obtained, and which core values conflict most often."""
    core = {side: pc.binary_join(pc.struct_field(table.column(side), "core_values"), "\x1f")
            for side in ("rule_a", "rule_b")}
    combos = pa.table(core).group_by(["rule_a", "rule_b"]).aggregate([([], "count_all")])
    pairs: Counter = Counter()
    for a_values, b_values, n in zip(*(combos.column(c).to_pylist() for c in ("rule_a", "rule_b", "count_all")),
                                     strict=True):
        for a in filter(None, a_values.split("\x1f")):
            for b in filter(None, b_values.split("\x1f")):
                pairs[(a, b)] += n
    top = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:20]
    return "\n".join([
        f"{table.num_rows:,} dilemmas from {pc.count_distinct(table.column('pair_id')).as_py():,} "
        "conflicting rule pairs.",
        "",
        _table(("Option mapping", "Dilemmas"), sorted(_counts(table.column("mapping_source")).items())),
        "",
        _letters_with_role(table),
        "",
        _distractor_letters(table),
        "",
        "Core-value conflicts (core value of rule A vs rule B), most frequent first:",
        "",
        _table(("Rule A", "Rule B", "Dilemmas"), [(a, b, n) for (a, b), n in top]),
    ])


def _letters_with_role(table: pa.Table) -> str:
    """How many option letters have a known role (a mapping may name only the distractor)."""
    follows = pc.struct_field(pc.list_flatten(table.column("options")), "follows")
    known, total = len(follows) - follows.null_count, len(follows)
    share = f" ({known / total:.1%})" if total else ""
    return f"Option letters with a known role: {known:,} of {total:,}{share}."


def _distractor_letters(table: pa.Table) -> str:
    """Where the distractor stands among the dilemmas whose distractor is known: the letter order upstream's
    generator really wrote, which its prompt asked to shuffle and the build's roles lean on."""
    options = pc.list_flatten(table.column("options"))
    distractor = pc.equal(pc.struct_field(options, "follows"), "distractor")
    letters = _counts(pc.filter(pc.struct_field(options, "letter"), distractor))
    known = sum(letters.values())
    if not known:
        return "No dilemma's distractor is known."
    shares = ", ".join(f"{letter} {letters.get(letter, 0) / known:.1%}" for letter in sorted(letters))
    return f"Where the distractor stands, in the {known:,} dilemmas whose distractor is known: {shares}."


def scenarios_statistics(rows: list[dict]) -> str:
    """Scenes per experiment, condition and theme."""
    counts = Counter((r["experiment"], r["condition"] or "", r["theme"]) for r in rows)
    return _table(("Experiment", "Condition", "Theme", "Scenes"), [(*k, n) for k, n in sorted(counts.items())])


def evaluations_statistics(table: pa.Table) -> str:
    """Per item type and model: answer letters (the position bias upstream charted), errors, rules followed.

    Split by item type because ``rule_a`` is one side of a conflicting pair in a dilemma but
    the CVC rule in an experiment-2 scenario. Counted per distinct (item type, model, choice,
    follows, error) in Arrow: a few hundred groups for a hundred thousand answers.
    """
    def share(count: int, total: int) -> str:
        return f"{count / total:.0%}" if total else "–"

    keys = ["item_type", "model", "choice", "follows", "error"]
    counted = table.select(keys).group_by(keys).aggregate([([], "count_all")])
    answers, errors, chosen, mapped, letters, follows = Counter(), Counter(), Counter(), Counter(), Counter(), Counter()
    for item_type, model, choice, follow, error, n in zip(*(counted.column(c).to_pylist()
                                                            for c in [*keys, "count_all"]), strict=True):
        group = (item_type, model)
        answers[group] += n
        errors[group] += n if error else 0
        if choice:
            chosen[group] += n
            letters[group, choice] += n
            if follow:
                mapped[group] += n
                follows[group, follow] += n
    rows = [(*group, answers[group], *(share(letters[group, x], chosen[group]) for x in "ABC"), errors[group],
             answers[group] - chosen[group], mapped[group],
             *(share(follows[group, k], mapped[group]) for k in ("rule_a", "rule_b", "distractor")))
            for group in sorted(answers)]
    return "\n".join([
        "Letters are positions: A/B/C shares are among answers with a choice and show position bias, not values. "
        "Errors are failed calls; 'no choice' also counts unreadable or ambiguous replies. Rule shares are among "
        "choices whose option has a known mapping ('mapped'); in scenarios rule A is the CVC rule.",
        "",
        _table(("Items", "Model", "Answers", "A", "B", "C", "Errors", "No choice", "Mapped", "Rule A", "Rule B",
                "Distractor"), rows),
    ])


INTERPRETED_SOURCES = ("raw", "recovered", "model")


def interpretability_statistics(evaluations: pa.Table, items: pa.Table) -> str:
    """Per item type and model: which share of the answers can be read as a rule followed (a choice whose
    option has a known role), and from which mapping source that role comes, so a reader sees how much of
    each figure rests on the raw data, on the text, or on a model's annotation.

    ``items``: ``id`` and ``mapping_source`` of every dilemma and scenario. Joined and counted in Arrow.
    """
    answers = evaluations.select(["item_type", "model", "item_id", "follows"])
    joined = answers.join(items.select(["id", "mapping_source"]), "item_id", "id", join_type="left outer")
    source = pc.if_else(pc.is_valid(joined.column("follows")), joined.column("mapping_source"), pa.scalar("-"))
    keys = ["item_type", "model", "source"]
    counted = pa.table({"item_type": joined.column("item_type"), "model": joined.column("model"), "source": source}
                       ).group_by(keys).aggregate([([], "count_all")])
    totals: Counter = Counter()
    by_source: Counter = Counter()
    for item_type, model, src, n in zip(*(counted.column(c).to_pylist() for c in [*keys, "count_all"]), strict=True):
        totals[item_type, model] += n
        by_source[item_type, model, src] += n
    rows = []
    for group in sorted(totals):
        interpreted = sum(by_source[(*group, src)] for src in INTERPRETED_SOURCES)
        shares = [f"{by_source[(*group, src)] / interpreted:.0%}" if interpreted else "–"
                  for src in INTERPRETED_SOURCES]
        rows.append((*group, totals[group], interpreted, f"{interpreted / totals[group]:.0%}", *shares))
    return "\n".join([
        "Interpretable answers are those whose chosen option has a known role (rule A, rule B or the distractor); "
        "the last columns say where those roles come from: the raw data, the text (recovered, with a measured "
        "precision), or a model's annotation (its model is named in the items' `mapping_model`).",
        "",
        _table(("Items", "Model", "Answers", "Interpretable", "Share", "from raw", "from text", "from a model"),
               rows),
    ])


def config_section(config: str, split: SplitFiles, statistics: str) -> str:
    """Fields and statistics of one config."""
    fields = _table(("Field", "Type", "Description"), field_table(split.schema_config))
    return (f"## Config `{config}`\n\nSplit `{split.split}`: {split.num_rows:,} rows in "
            f"{len(split.files)} file(s).\n\n### Fields\n\n{fields}\n\n### Statistics\n\n{statistics}\n")


def absent_note(absent: list[str]) -> str:
    """The configs this release does not carry (they had no rows), for the card's config list."""
    if not absent:
        return ""
    names = ", ".join(f"`{config}`" for config in absent)
    return (f"\n\nNot in this release: {names}. The raw data of this version has no rows for "
            f"{'it' if len(absent) == 1 else 'them'}, and a config without rows cannot be loaded, so "
            f"`load_dataset(..., {absent[0]!r})` raises an error naming the configs that exist.")


def render_card(
    splits: list[SplitFiles], sections: dict[str, str], taxonomy: Taxonomy, version: str,
    repo_id: str = DEFAULT_REPO_ID, versions: str = "", absent: list[str] | None = None, *, license: License,
) -> str:
    """The whole README.md: YAML front matter and the generated sections.

    ``absent``: configs left out of this release because they have no rows; the card names them.
    """
    fixed = {name: (card_dir() / f"{name}.md").read_text(encoding="utf-8").strip()
             for name in ("summary", "sources", "migration", "citation")}
    described = {s.config: s for s in splits}
    configs_table = _table(
        ("Config", "Split", "Rows", "What it holds"),
        [(f"`{s.config}`", f"`{s.split}`", f"{s.num_rows:,}",
          "the rules, under the v1 split name" if s.config == "default"
          else load_schema(s.schema_config).get("description", ""))
         for s in splits],
    )
    body = Template((card_dir() / "template.md").read_text(encoding="utf-8")).substitute(
        pretty_name=PRETTY_NAME,
        version=version,
        repo_id=repo_id,
        configs_table=configs_table + absent_note(absent or []),
        framework_table=framework_table(taxonomy),
        versions=versions,
        license=license_section(license),
        config_sections="\n".join(
            config_section(c, described[c], text) for c, text in sections.items()),
        **fixed,
    )
    return f"---\n{card_data(splits, version, license).to_yaml()}\n---\n\n{body}"
