"""Parsers for the raw LLM replies upstream stored where labels should be.

Upstream never parsed these (raw-formats §2.3, §2.4, §6.5); its own prompts mix ASCII and
full-width colons, so every parser here accepts both, any case of ``rot``, and chatter
before the expected lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class ReplyParseError(ValueError):
    """A raw reply that does not have the shape its prompt asked for; ``field`` names the raw column."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


VALUE_SEPARATORS = re.compile(r"[、，,/／;；]")

_CLASSIFICATION = {
    "dimensions": re.compile(r"^\s*(?:层面|层级)\s*[:：]\s*(.*)$", re.MULTILINE),
    "core_values": re.compile(r"^\s*核心价值(?:观)?\s*[:：]\s*(.*)$", re.MULTILINE),
    "derived_values": re.compile(r"^\s*(?:衍生|派生)价值(?:观)?\s*[:：]\s*(.*)$", re.MULTILINE),
}
_LABEL = re.compile(r"标签\s*[:：]\s*([+-]?\s*\d+)")
_REWRITE = re.compile(r"重写\s*[:：][ \t]*(.*)", re.DOTALL)
_ROT_PREFIX = re.compile(r"^\s*rot\s*[:：]\s*", re.IGNORECASE)


def split_values(cell: object) -> list[str]:
    """Split a multi-valued cell (``、``, ``，``, ``,``, ``/``) or pass a JSON list through."""
    if cell is None:
        return []
    items = [str(item) for item in cell] if isinstance(cell, list) else VALUE_SEPARATORS.split(str(cell))
    return [item.strip() for item in items if item and item.strip()]


def parse_classification(reply: str) -> dict[str, list[str]]:
    """``层面：…\\n核心价值：…\\n衍生价值：…`` → the three lists of (not yet canonical) names."""
    found = {tier: pattern.search(reply or "") for tier, pattern in _CLASSIFICATION.items()}
    if not any(found.values()):
        snippet = " ".join((reply or "").split())[:40]
        raise ReplyParseError(f"no 层面/核心价值/衍生价值 lines in reply {snippet!r}")
    return {tier: split_values(match.group(1)) if match else [] for tier, match in found.items()}


@dataclass(frozen=True)
class LabelReply:
    """A parsed ``标签：x\\n重写：y`` reply."""

    label: int
    rewrite: str | None


def parse_label(value: str) -> int:
    """A label cell or reply value → -1, 0 or 1."""
    text = "".join(str(value).split())
    if text.startswith("+"):
        text = text[1:]
    if text not in {"-1", "0", "1"}:
        raise ReplyParseError(f"label {value!r} is not -1, 0 or 1")
    return int(text)


def parse_label_reply(reply: str) -> LabelReply:
    """Parse the labelling model's reply (raw-formats §2.4)."""
    match = _LABEL.search(reply or "")
    if not match:
        snippet = " ".join((reply or "").split())[:40]
        raise ReplyParseError(f"no 标签 line in reply {snippet!r}")
    rewrite = _REWRITE.search(reply, match.end())
    text = rewrite.group(1).strip() if rewrite else ""
    return LabelReply(parse_label(match.group(1)), text or None)


def strip_rot_prefix(text: str) -> str:
    """Drop a leading ``rot:`` / ``RoT：`` that the rule-writing prompt asked for."""
    return _ROT_PREFIX.sub("", text, count=1)


ROT_PREFIX_CHANGES = "(?i:rot)"
"""An RE2 pattern that every text :func:`strip_rot_prefix` changes matches."""


def strip_rot_prefix_column(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`strip_rot_prefix` of every cell (a null cell stays null); only cells holding
    ``rot`` in any case are looked at in Python."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    rows = np.flatnonzero(pc.fill_null(pc.match_substring(array, "rot", ignore_case=True), False).to_numpy(
        zero_copy_only=False))
    if not len(rows):
        return array
    mask = np.zeros(len(array), bool)
    mask[rows] = True
    stripped = pa.array([strip_rot_prefix(text) for text in array.take(rows).to_pylist()], pa.string())
    return pc.replace_with_mask(array, pa.array(mask), stripped)
