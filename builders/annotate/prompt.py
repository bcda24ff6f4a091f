"""The question asked about one item and how its reply is read (never guessed)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PROMPT_VERSION = "option-roles-v1"
SYSTEM = (
    "给定一个情境、两条规则（规则A、规则B）和三个选项。其中一个选项符合规则A，一个选项符合规则B，"
    "另一个是与情境无关的干扰项。请判断哪个选项符合规则A、哪个选项符合规则B。"
    '只输出一个JSON对象，格式为 {"rule_a": "A"|"B"|"C"|null, "rule_b": "A"|"B"|"C"|null}，'
    "无法判断时填 null，不要输出其他内容。"
)
"""Given a scene, two rules and three options (one per rule, one unrelated distractor): which option follows
rule A and which rule B; a JSON object only, null where undecidable."""
LETTERS = ("A", "B", "C")


@dataclass(frozen=True)
class Item:
    """One dilemma or experiment-2 scene whose option roles the text left open."""

    key: str
    item: str
    """``dilemma`` or ``scenario``."""
    item_id: str
    scene: str
    options: tuple[str, str, str]
    rule_a: str
    rule_b: str


def messages(item: Item) -> list[dict[str, str]]:
    """The chat messages of one item: the same for every backend."""
    options = "\n".join(f"{letter}：{text}" for letter, text in zip(LETTERS, item.options, strict=True))
    user = f"情境：{item.scene}\n规则A：{item.rule_a}\n规则B：{item.rule_b}\n选项：\n{options}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def read_reply(reply: str | None) -> tuple[str | None, str | None, str]:
    """``(rule_a, rule_b, status)`` of a reply: ``ok`` (two distinct letters), ``partial`` (one letter, the
    other null) or ``unknown`` (no JSON object first, a key missing, a value that is not a letter or null,
    the same letter twice); an unknown reply gives no letter at all."""
    text = _FENCE.sub("", (reply or "").strip())
    start = text.find("{")
    if start < 0:
        return None, None, "unknown"
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None, None, "unknown"
    if not isinstance(value, dict) or "rule_a" not in value or "rule_b" not in value:
        return None, None, "unknown"
    a, b = value["rule_a"], value["rule_b"]
    if any(v is not None and v not in LETTERS for v in (a, b)) or (a is not None and a == b):
        return None, None, "unknown"
    if a is None and b is None:
        return None, None, "unknown"
    return a, b, "ok" if a is not None and b is not None else "partial"
