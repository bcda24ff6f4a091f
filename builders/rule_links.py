"""Find the published rule a scenario, dilemma or evaluation names by its text.

Later configs quote rules by their Chinese text (upstream has no ids); the text is looked
up under the same normalized key as the rules' own dedup, matching either the published
or the original (pre-rewrite) text.
"""

from __future__ import annotations

from builders.normalizers.text import dedup_key


class RuleIndex:
    """Published rules by the normalized keys of their published and original text."""

    def __init__(self, rules: list[dict], aliases: dict[str, str] | None = None) -> None:
        """``aliases``: original texts (by key) of rules folded into another after a rewrite → its id."""
        self._by_key: dict[str, dict] = {}
        for row in rules:
            self._by_key.setdefault(dedup_key(row["original_rule"]), row)
        for row in rules:
            self._by_key.setdefault(dedup_key(row["rule"]), row)
        by_id = {row["id"]: row for row in rules}
        for key, row_id in (aliases or {}).items():
            self._by_key.setdefault(key, by_id[row_id])

    def find(self, text: str | None) -> dict | None:
        """The rule row whose text matches, or ``None``."""
        return self._by_key.get(dedup_key(text)) if text else None


def rule_ref(row: dict) -> dict:
    """The fields of a rule that a dilemma carries (``rule_ref`` in the schemas)."""
    return {key: row[key] for key in ("id", "rule", "rule_en", "dimensions", "core_values", "derived_values")}
