"""Option roles a model gave, read back from the annotation artifact in the raw tree.

``cvc annotate option-roles`` asks a model which option follows each rule for the items the text
left undecided and appends one JSON line per item (:data:`FIELDS`). The build never calls a model:
it reads those lines like any raw file, matches them to items by :func:`content_key` (the scene,
the options and both rules as published) and uses a reply only where it names two different
letters and agrees with what the text already decided. Anything else stays unknown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from builders.stages.ledger import Outcomes
from builders.stages.option_mapping import ROLES

if TYPE_CHECKING:
    from builders.context import BuildContext

ANNOTATION_PLACE = "annotations/option_roles*.jsonl"
FIELDS = ("key", "item", "rule_a", "rule_b", "status", "model", "backend", "prompt_version", "reply")
"""One line of the artifact: the content key, the item kind (``dilemma``/``scenario``), the letters
the model gave (``A``/``B``/``C`` or null), ``ok``/``unknown``, the model id, the backend, the
prompt version and the model's raw reply."""
LETTERS = ("A", "B", "C")


def content_key(scene: str, options: Sequence[str], rule_a: str, rule_b: str) -> str:
    """SHA-256 of what was asked: the scene, the three option texts and both rules, as published."""
    payload = json.dumps([scene, list(options), rule_a, rule_b], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Annotation:
    """One usable model answer: the letters of rule A and rule B, who gave it, and where it was read."""

    rule_a: str
    rule_b: str
    model: str
    file: str
    line: int


def usable(record: dict) -> tuple[str, str] | None:
    """The two letters of a recorded answer, or ``None`` when it is unknown (either missing, the same
    letter twice, or not a letter): such an answer is never turned into roles."""
    a, b = record.get("rule_a"), record.get("rule_b")
    if record.get("status") != "ok" or a not in LETTERS or b not in LETTERS or a == b:
        return None
    return a, b


def merged_roles(text_roles: Sequence[str | None], rule_a: str, rule_b: str) -> list[str] | None:
    """A model's letters joined with what the text decided, or ``None`` where they disagree.

    The text's decisions stand: a model naming the text's distractor as a rule option (or the
    text's rule A option as rule B) is not believed.
    """
    roles = ["distractor"] * 3
    roles[LETTERS.index(rule_a)], roles[LETTERS.index(rule_b)] = "rule_a", "rule_b"
    if any(known is not None and known != role for known, role in zip(text_roles, roles, strict=True)):
        return None
    return roles


@dataclass
class OptionAnnotations:
    """The annotation lines of a build by content key (the last usable line of a key wins), and which
    item each was used for, so the ledger can say what became of every line."""

    by_key: dict[str, Annotation] = field(default_factory=dict)
    lines: list[tuple[str, int, str, bool]] = field(default_factory=list)
    """Every line read: file, line, key, whether it is usable."""
    used: dict[str, str] = field(default_factory=dict)
    """Content key → id of the item whose roles it gave."""
    refused: dict[str, str] = field(default_factory=dict)
    """Content key → id of the item whose text-decided roles it contradicted."""

    def add(self, file: str, line: int, record: dict) -> None:
        key = str(record.get("key") or "")
        letters = usable(record)
        self.lines.append((file, line, key, letters is not None))
        if letters is not None:
            self.by_key[key] = Annotation(*letters, str(record.get("model") or ""), file, line)

    def roles(self, key: str, item_id: str, text_roles: Sequence[str | None]) -> tuple[list[str], str] | None:
        """The roles and model id for an item the text left open, if a usable annotation agrees with it."""
        found = self.by_key.get(key)
        if found is None:
            return None
        roles = merged_roles(text_roles, found.rule_a, found.rule_b)
        if roles is None:
            self.refused[key] = item_id
            return None
        self.used[key] = item_id
        return roles, found.model


def read_annotations(ctx: BuildContext, config: str, kind: str) -> OptionAnnotations:
    """The model annotations of option roles in the raw tree (read under ``config``, shared with every config
    through ``ctx.option_annotations``); what became of each line is recorded once every config has used them."""
    annotations = OptionAnnotations()
    for _, record in ctx.records(config, kind):
        annotations.add(record.file, record.line, record.fields)
    ctx.option_annotations = annotations
    ctx.defer(kind, lambda: _annotation_outcomes(ctx, config, annotations))
    return annotations


def _annotation_outcomes(ctx: BuildContext, config: str, annotations: OptionAnnotations) -> None:
    """Each annotation line folds into the item it gave roles to, or is excluded with the reason."""
    outcomes = Outcomes()
    for file, line, key, ok in annotations.lines:
        latest = annotations.by_key.get(key)
        current = latest is not None and (latest.file, latest.line) == (file, line)
        if current and key in annotations.used:
            outcomes.fold(file, line, annotations.used[key], "model's option roles of this item")
        elif current and key in annotations.refused:
            outcomes.exclude(file, line, "model's option roles contradict the roles the text decided",
                             annotations.refused[key])
        elif not ok:
            outcomes.exclude(file, line, "model's answer is unknown (no two distinct letters A-C)")
        elif not current:
            outcomes.exclude(file, line, "a later line answers the same item")
        else:
            outcomes.exclude(file, line, "no item of this build is left open with this content key")
    ctx.ledger.record_table(config, outcomes.frame())


def annotated_rows(annotations: OptionAnnotations, rows: np.ndarray, ids: list[str], by_id: np.ndarray,
               scenes: pa.Array, option_texts: pa.Array, published: pa.ChunkedArray, at: np.ndarray,
               roles: np.ndarray) -> Iterator[tuple[int, list[str], str]]:
    """``(row, roles, model)`` for each row (in id order) a usable annotation agrees with."""
    if not len(rows):
        return
    scene_list = scenes.take(pa.array(rows)).to_pylist()
    options = option_texts.take(pa.array((3 * rows[:, None] + np.arange(3)).reshape(-1))).to_pylist()
    rule_a = published.take(pa.array(at[rows, 0])).to_pylist()
    rule_b = published.take(pa.array(at[rows, 1])).to_pylist()
    for i, row in enumerate(rows.tolist()):
        text_roles = [ROLES[r] if r >= 0 else None for r in roles[row].tolist()]
        key = content_key(scene_list[i], options[3 * i:3 * i + 3], rule_a[i], rule_b[i])
        found = annotations.roles(key, ids[by_id[row]], text_roles)
        if found is not None:
            yield row, *found
