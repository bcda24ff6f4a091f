"""Map raw value labels to canonical names and close them under the hierarchy."""

from __future__ import annotations

from builders.parsers.replies import split_values
from builders.taxonomy import Closure, Taxonomy


def normalize_values(
    taxonomy: Taxonomy, dimensions: object, core_values: object, derived_values: object
) -> Closure:
    """Raw cells (strings or lists) of the three tiers → a canonical, closed :class:`Closure`.

    Raises :class:`builders.taxonomy.UnknownValueError` naming the tier of the first
    unknown label.
    """
    raw = {"dimensions": dimensions, "core_values": core_values, "derived_values": derived_values}
    canonical = {
        tier: [taxonomy.canonical(tier, name) for name in split_values(cell)]
        for tier, cell in raw.items()
    }
    return taxonomy.close(canonical["dimensions"], canonical["core_values"], canonical["derived_values"])
