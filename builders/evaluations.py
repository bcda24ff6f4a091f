"""The ``evaluations`` config: every model answer to a dilemma or an experiment-2 scene.

Upstream kept one CSV per model with the raw reply (raw-formats §2.6, §2.7, §3.4) and
scored it by string equality, so ``A.`` or ``选A`` counted as wrong and failed calls
(``""``, ``ERROR: …``) as answers. Here each reply is parsed tolerantly, failures are
flagged and never count as a choice, and the chosen letter is mapped to the rule it
follows through the item's option mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import PurePosixPath

import pyarrow as pa

from builders.context import BuildContext
from builders.dilemmas import PairResolver, RulePair, dilemma_id, resolved_rows
from builders.ids import stable_id
from builders.normalizers.text import clean_text
from builders.parsers.blobs import is_error_reply, parse_choice
from builders.readers.layout import Artifact, ArtifactKind
from builders.scenarios import scene_id

CONFIG = "evaluations"
REPEATS = 5

ARTIFACTS = [
    ArtifactKind("dilemma_answers", CONFIG, ("moral_dilemma/test/result/llm_result/*.csv",),
                 ("index", "scene", "result", "rot1", "rot2"),
                 "One model's answers to the sampled dilemmas (file name = model)."),
    ArtifactKind("theme_answers", CONFIG, ("experiment2/result/*/*.csv",),
                 ("index", "scene", "result1"),
                 "One model's five answers per experiment-2 scene (folder name = model)."),
]


def normalize_model(name: str) -> str:
    """``Qwen/Qwen2.5-72B-Instruct`` → ``Qwen2.5-72B-Instruct``: upstream's flat file names, `/`-safe."""
    return clean_text(name).rstrip("/").rsplit("/", 1)[-1]


def model_from_path(file: str, kind: str) -> str:
    """The model name a result file's place records, with the ``/`` upstream's paths split it on.

    Upstream wrote ``result/llm_result/{MODEL_NAME}.csv`` and ``result/{model}/{Theme}.csv``, so
    ``Qwen/Qwen2.5-7B-Instruct`` became a ``Qwen/`` subfolder (raw-formats §2.7); it is joined back.
    """
    path = PurePosixPath(file)
    anchor = "llm_result" if kind == "dilemma_answers" else "result"
    parts = path.with_suffix("").parts if kind == "dilemma_answers" else path.parent.parts
    if anchor in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index(anchor)
        return "/".join(parts[at + 1:])
    return parts[-1]


@lru_cache(maxsize=4096)
def _read_reply(reply: str) -> tuple[str | None, bool]:
    return parse_choice(reply), is_error_reply(reply)


def _reading(reply: str | None) -> tuple[str | None, bool]:
    """The choice in a reply and whether it is an error; models give the same few replies again and again."""
    if isinstance(reply, str):
        return _read_reply(reply)
    return parse_choice(reply), is_error_reply(reply)


def _answer(item: dict, item_type: str, model_raw: str, model: str, repeat: int, reply: str | None) -> dict:
    choice, error = _reading(reply)
    follows = next((o["follows"] for o in item["options"] if o["letter"] == choice), None) if choice else None
    return {
        "id": stable_id("eval", item["id"], model, str(repeat)), "item_type": item_type, "item_id": item["id"],
        "model": model, "model_raw": model_raw, "repeat": repeat, "reply": reply, "choice": choice,
        "follows": follows, "error": error,
    }


class _Items:
    """The items of a table by id, each ``{"id", "options"}`` made on first use: models
    answer a sample of the dilemmas, so most rows are never looked at."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table
        ids = table.column("id").to_pylist() if table is not None else []
        self._at = dict(zip(ids, range(len(ids)), strict=True))
        self._items: dict[str, dict] = {}

    def get(self, item_id: str) -> dict | None:
        item = self._items.get(item_id)
        if item is None and item_id in self._at:
            options = self._table.column("options")[self._at[item_id]].as_py()
            item = self._items[item_id] = {"id": item_id, "options": options}
        return item


PREFETCH = {"dilemma_answers": None}
"""Artifact kinds a build may read ahead in a background process (:data:`builders.dilemmas.PREFETCH`)."""


def _answer_rows(ctx: BuildContext, pairs: PairResolver) -> Iterator[tuple[Artifact, dict, RulePair | None, int]]:
    """``(artifact, cells, pair, line)`` per readable answer row: dilemma answers with both
    rules published (``pair``), experiment-2 answers (``pair`` is ``None``)."""
    for artifact in ctx.reading(CONFIG, *(k.name for k in ARTIFACTS)):
        if artifact.kind.name == "dilemma_answers":
            for (scene, result), pair, line in resolved_rows(ctx, artifact, pairs, ("scene", "result")):
                yield artifact, {"scene": scene, "result": result}, pair, line
        else:
            for record in ctx.registered(CONFIG, artifact.read()):
                yield artifact, record.fields, None, record.line


def build(ctx: BuildContext) -> list[dict]:
    """Evaluation rows sorted by id."""
    pairs = PairResolver(ctx, CONFIG)
    dilemmas = _Items(ctx.tables.get("dilemmas"))
    scenes = {row["id"]: row for row in ctx.results.get("scenarios", [])}
    rows: dict[str, dict] = {}
    models: dict[tuple[str, str], tuple[str, str]] = {}
    items: dict[tuple[str, str, str], dict | None] = {}
    """Dilemma by (its rules, raw scene): every model answers the same dilemmas."""
    for artifact, fields, pair, line in _answer_rows(ctx, pairs):
        file, kind = artifact.relpath, artifact.kind.name
        if (file, kind) not in models:
            model_raw = model_from_path(file, kind)
            models[(file, kind)] = (model_raw, normalize_model(model_raw))
        model_raw, model = models[(file, kind)]
        if kind == "dilemma_answers":
            key = (pair.rule_a_id, pair.rule_b_id, fields["scene"])
            if isinstance(key[2], str) and key in items:
                item = items[key]
            else:
                item = dilemmas.get(dilemma_id(key[0], key[1], clean_text(key[2]), cleaned=True))
                if isinstance(key[2], str):
                    items[key] = item
            if item is None:
                ctx.orphan(CONFIG, file, line, "scene", "answer to a dilemma that is not in the dilemmas config")
                continue
            answers = [_answer(item, "dilemma", model_raw, model, 1, fields["result"])]
        else:
            item = scenes.get(scene_id("experiment2", PurePosixPath(file).stem, None, clean_text(fields["scene"])))
            if item is None:
                ctx.orphan(CONFIG, file, line, "scene", "answer to a scene that is not in the scenarios config")
                continue
            answers = [_answer(item, "scenario", model_raw, model, n, fields.get(f"result{n}"))
                       for n in range(1, REPEATS + 1) if f"result{n}" in fields]
        new = [a for a in answers if a["id"] not in rows]
        if not new:
            ctx.ledger.fold(CONFIG, file, line, answers[0]["id"], "same answers")
            continue
        rows.update((a["id"], a) for a in new)
        ctx.ledger.publish(CONFIG, file, line, new[0]["id"], f"{len(new)} answers" if len(new) > 1 else None)
    return [rows[key] for key in sorted(rows)]
