"""Find the published rule a scenario, dilemma or evaluation names by its text.

Later configs quote rules by their Chinese text (upstream has no ids); the text is looked
up under the same normalized key as the rules' own dedup, matching either the published
or the original (pre-rewrite) text.
"""

from __future__ import annotations

from builders.normalizers.text import dedup_key


class RuleIndex:
    """Published rules by the normalized keys of their published and original text.

    The keys are computed on the first lookup, so a build whose later configs have no
    raw files never pays for indexing a quarter of a million rules.
    """

    def __init__(self, rules: list[dict], aliases: dict[str, str] | None = None,
                 keys: list[tuple[str, str]] | None = None) -> None:
        """``aliases``: original texts (by key) of rules folded into another after a rewrite → its id.
        ``keys``: each rule's :func:`dedup_key` of its original and published text, when known already."""
        self._rules, self._aliases, self._keys = rules, aliases or {}, keys
        self._by_key: dict[str, dict] | None = None
        self._positions: dict[str, int] | None = None

    def _index(self) -> dict[str, dict]:
        keys = self._keys or [(dedup_key(row["original_rule"]), dedup_key(row["rule"])) for row in self._rules]
        by_key: dict[str, dict] = {}
        for (original, _), row in zip(keys, self._rules, strict=True):
            by_key.setdefault(original, row)
        for (_, published), row in zip(keys, self._rules, strict=True):
            by_key.setdefault(published, row)
        by_id = {row["id"]: row for row in self._rules}
        for key, row_id in self._aliases.items():
            by_key.setdefault(key, by_id[row_id])
        return by_key

    def find(self, text: str | None) -> dict | None:
        """The rule row whose text matches, or ``None``."""
        if not text:
            return None
        if self._by_key is None:
            self._by_key = self._index()
        return self._by_key.get(dedup_key(text))


    def positions(self) -> dict[str, int]:
        """Each rule id's row position in the rules (the order of the ``rules`` table)."""
        if self._positions is None:
            self._positions = {row["id"]: i for i, row in enumerate(self._rules)}
        return self._positions

