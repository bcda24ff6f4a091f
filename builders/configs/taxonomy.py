"""The ``taxonomy`` config: the 50 derived values as rows, so consumers can join labels.

Built from ``schemas/taxonomy.json``, not from raw files.
"""

from __future__ import annotations

from builders.context import BuildContext
from builders.stages.readers.layout import ArtifactKind

CONFIG = "taxonomy"
ARTIFACTS: list[ArtifactKind] = []


def build(ctx: BuildContext) -> list[dict]:
    """One row per derived value, in the upstream order."""
    tax = ctx.taxonomy
    core_en = {c["zh"]: c["en"] for c in tax.core_values}
    dim_en = {d["zh"]: d["en"] for d in tax.dimensions}
    return [
        {"id": d["id"], "derived_value": d["zh"], "derived_value_en": d["en"], "core_value": d["core_value"],
         "core_value_en": core_en[d["core_value"]], "dimension": d["dimension"],
         "dimension_en": dim_en[d["dimension"]], "aliases": list(d["aliases"])}
        for d in tax.derived_values
    ]
