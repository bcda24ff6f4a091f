"""The items of a raw tree whose option roles the text (and earlier annotations) left open."""

from __future__ import annotations

from pathlib import Path

from builders.annotate.prompt import Item
from builders.build import collect
from builders.context import BuildSettings
from builders.stages.option_annotations import content_key


def open_items(raw: Path, settings: BuildSettings | None = None) -> list[Item]:
    """Every dilemma and experiment-2 scene with a letter whose role is unknown, as the build publishes it.

    Runs the build's read and decide steps in memory (nothing is written), so the content keys are
    those the build will look the answers up by. Rows with raw roles are never asked.
    """
    ctx = collect(raw, settings)
    items = []
    for row in ctx.tables["dilemmas"].to_pylist():
        if row["mapping_source"] != "raw" and any(o["follows"] is None for o in row["options"]):
            items.append(_item("dilemma", row, row["rule_a"]["rule"], row["rule_b"]["rule"]))
    for row in ctx.results["scenarios"]:
        if row["experiment"] == "experiment2" and row["mapping_source"] != "raw" and len(row["options"]) == 3 \
                and any(o["follows"] is None for o in row["options"]):
            items.append(_item("scenario", row, row["cvc_rule"], row["other_rule"] or ""))
    return items


def _item(kind: str, row: dict, rule_a: str, rule_b: str) -> Item:
    options = tuple(o["text"] for o in row["options"])
    return Item(content_key(row["scene"], options, rule_a, rule_b), kind, row["id"], row["scene"],
                options, rule_a, rule_b)  # type: ignore[arg-type]
