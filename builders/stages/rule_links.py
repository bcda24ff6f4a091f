"""Find the published rule a scenario, dilemma or evaluation names by its text.

Later configs quote rules by their Chinese text (upstream has no ids); the text is looked
up under the same normalized key as the rules' own dedup, matching either the published
or the original (pre-rewrite) text.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.normalizers.text import clean_key_column, clean_text_column, dedup_key


class RuleIndex:
    """Published rules by the normalized keys of their published and original text.

    The keys are computed on the first lookup, so a build whose later configs have no
    raw files never pays for indexing a quarter of a million rules.
    """

    def __init__(self, rules: pa.Table, aliases: dict[str, str] | None = None,
                 keys: Callable[[], tuple[list[str], list[str]]] | None = None) -> None:
        """``rules``: the rules table. ``aliases``: original texts (by key) of rules folded into
        another after a rewrite → its id. ``keys``: lists the :func:`dedup_key` of each rule's
        original text and of its published text (two lists), when known already."""
        self._rules, self._aliases, self._keys = rules, aliases or {}, keys
        self._by_key: dict[str, int] | None = None
        self._positions: dict[str, int] | None = None
        self._ids: list[str] | None = None
        self._seen: dict[str | None, int] = {}
        """Texts :meth:`positions_of` has looked up → their positions."""

    def _index(self) -> dict[str, int]:
        originals, published = self._keys() if self._keys else (
            [dedup_key(text) for text in self._rules.column("original_rule").to_pylist()],
            [dedup_key(text) for text in self._rules.column("rule").to_pylist()])
        # The first rule of a key wins, and an original text over a published one: dicts built back to front
        # keep the first position of each key, and the originals are laid over the published texts.
        backwards = range(len(originals) - 1, -1, -1)
        by_key = dict(zip(reversed(published), backwards, strict=True))
        by_key.update(zip(reversed(originals), backwards, strict=True))
        if self._aliases:
            positions = self.positions()
            for key, row_id in self._aliases.items():
                by_key.setdefault(key, positions[row_id])
        return by_key

    def position(self, text: str | None) -> int | None:
        """The position of the rule whose text matches, or ``None``."""
        if not text:
            return None
        if self._by_key is None:
            self._by_key = self._index()
        return self._by_key.get(dedup_key(text))

    def positions_of(self, texts: pa.Array) -> np.ndarray:
        """:meth:`position` of every text (``-1`` for none), the keys computed column-wise.

        Dilemmas, their rule pairs and every model's answers quote the same rules: a text
        seen by an earlier call is looked up by its raw text, not cleaned again.
        """
        seen = self._seen
        strings = texts.to_pylist()
        missing = [i for i, text in enumerate(strings) if text not in seen]
        if missing:
            seen.update(zip([strings[i] for i in missing], self._look_up(texts.take(missing)).tolist(), strict=True))
        return np.fromiter(map(seen.__getitem__, strings), np.int64, len(strings))

    def _look_up(self, texts: pa.Array) -> np.ndarray:
        if self._by_key is None:
            self._by_key = self._index()
        get = self._by_key.get
        keys = clean_key_column(clean_text_column(texts)).to_pylist()
        found = np.fromiter(map(get, keys, repeat(-1)), np.int64, len(keys))
        found[pc.fill_null(pc.equal(texts, ""), True).to_numpy(zero_copy_only=False)] = -1
        return found

    def find(self, text: str | None) -> dict | None:
        """The rule row whose text matches, or ``None``."""
        at = self.position(text)
        return None if at is None else self.row(at)

    def row(self, at: int) -> dict:
        """The rule at a position of the rules table."""
        return self._rules.slice(at, 1).to_pylist()[0]

    def id(self, at: int) -> str:
        """The id of the rule at a position of the rules table."""
        return self._id_list()[at]

    def ids_at(self, positions: np.ndarray) -> list[str]:
        """:meth:`id` of each position (the rules of tens of thousands of pairs at once)."""
        return list(map(self._id_list().__getitem__, positions.tolist()))

    def _id_list(self) -> list[str]:
        if self._ids is None:
            self._ids = self._rules.column("id").to_pylist()
        return self._ids

    def positions(self) -> dict[str, int]:
        """Each rule id's row position in the rules (the order of the ``rules`` table)."""
        if self._positions is None:
            self._positions = {self.id(i): i for i in range(self._rules.num_rows)} if self._rules.num_rows else {}
        return self._positions
