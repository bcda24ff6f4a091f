"""The ``evaluations`` config: every model answer to a dilemma or an experiment-2 scene.

Upstream kept one CSV per model with the raw reply (raw-formats §2.6, §2.7, §3.4) and
scored it by string equality, so ``A.`` or ``选A`` counted as wrong and failed calls
(``""``, ``ERROR: …``) as answers. Here each reply is parsed tolerantly, failures are
flagged and never count as a choice, and the chosen letter is mapped to the rule it
follows through the item's option mapping.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from builders.configs.dilemmas import dilemma_id
from builders.configs.scenarios import scene_id
from builders.context import BuildContext
from builders.schema import features
from builders.stages.ids import stable_id, stable_ids_of_parts
from builders.stages.ledger import Outcomes, outcome_lines
from builders.stages.normalizers.text import clean_text
from builders.stages.parsers.blobs import is_error_reply, parse_choice
from builders.stages.readers.layout import Artifact, ArtifactKind
from builders.stages.rule_pairs import PairResolver, RulePair
from builders.stages.writer import single_chunk, sort_table

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


def _answer(item: dict, model_raw: str, model: str, repeat: int, reply: str | None) -> dict:
    """One answer to an experiment-2 scene."""
    choice, error = _reading(reply)
    follows = next((o["follows"] for o in item["options"] if o["letter"] == choice), None) if choice else None
    return {
        "id": stable_id("eval", item["id"], model, str(repeat)), "item_type": "scenario", "item_id": item["id"],
        "model": model, "model_raw": model_raw, "repeat": repeat, "reply": reply, "choice": choice,
        "follows": follows, "error": error,
    }


def _encoded(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each cell as a code into the column's distinct strings, whose last is null (for null cells):
    a reply or scene is looked at once, however many rows repeat it."""
    encoded = (single_chunk(column) if isinstance(column, pa.ChunkedArray) else column).dictionary_encode()
    values = pa.concat_arrays([encoded.dictionary, pa.nulls(1, encoded.dictionary.type)])
    return encoded.indices.fill_null(len(values) - 1).to_numpy().astype(np.int64), values


class _Codes:
    """Distinct strings numbered in the order first seen, so a column is an array of codes."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._code: dict[str, int] = {}

    def of(self, value: str | None) -> int:
        """The code of a value (``-1`` for ``None``)."""
        if value is None:
            return -1
        code = self._code.get(value)
        if code is None:
            code = self._code[value] = len(self.values)
            self.values.append(value)
        return code

    def array(self, codes: np.ndarray) -> pa.Array:
        """The strings of codes, ``-1`` as null."""
        return pa.array(self.values, pa.string()).take(pa.array(codes, pa.int64(), mask=codes < 0))


class _Answers:
    """The answers of a build, published in the order their raw rows are read, as one table per file.

    A dilemma answer file is worked on column-wise: each distinct reply is parsed once, each
    distinct (pair, scene) looked up once, and the options of the answered dilemmas read
    from the dilemmas table's Arrow columns; no answer is ever a dict.
    """

    def __init__(self, dilemmas: pa.Table | None, scenes: list[dict]) -> None:
        self.schema = features(CONFIG).arrow_schema
        self.chunks: list[pa.Table] = []
        self.scene_rows: list[dict] = []
        """Experiment-2 answers, published row by row (there are few)."""
        self.seen: set[str] = set()
        self.outcomes = Outcomes()
        """Outcomes decided row by row: orphans, experiment-2 answers."""
        self.decided: list[pl.DataFrame] = []
        """Outcomes of the dilemma answers, a file's as columns."""
        self.choices, self.follows = _Codes(), _Codes()
        self._dilemmas = dilemmas
        self._dilemma_ids = single_chunk(dilemmas.column("id")) if dilemmas is not None else pa.array([], pa.string())
        self._options: tuple[np.ndarray, pa.Array, np.ndarray] | None = None
        """Of every option of every dilemma: the dilemma's position, the letter and the follows code."""
        self._by_letter: dict[str, np.ndarray] = {}
        self._keys = pa.array([], pa.string())
        """``rule A id NUL rule B id NUL raw scene`` of every dilemma answer read so far (every model
        answers the same dilemmas)."""
        self._key_positions = np.zeros(0, np.int64)
        """The position in the dilemmas table of the dilemma of each of :attr:`_keys` (``-1``: none)."""
        self._scenes = {row["id"]: row for row in scenes}

    def _positions(self, pairs: list[RulePair], pair_of: np.ndarray, scenes: pa.Array,
                   scene_of: np.ndarray) -> np.ndarray:
        """The position in the dilemmas table of the dilemma of each (pair, raw scene), ``-1`` if none;
        keys already seen are found in Arrow, and only new ones are hashed into a dilemma id.

        A null scene is keyed as ``""``: both are the same scene to :func:`dilemma_id`.
        """
        rule_a = pa.array([p.rule_a_id for p in pairs], pa.string()).take(pair_of)
        rule_b = pa.array([p.rule_b_id for p in pairs], pa.string()).take(pair_of)
        keys = pc.binary_join_element_wise(rule_a, rule_b, scenes.take(scene_of), "\x00", null_handling="replace")
        found = pc.index_in(keys, value_set=self._keys).fill_null(-1).to_numpy()
        positions = np.full(len(found), -1, np.int64)
        seen = np.flatnonzero(found >= 0)
        positions[seen] = self._key_positions[found[seen]]
        new = np.flatnonzero(found < 0)
        if len(new):
            ids = [dilemma_id(pairs[pair].rule_a_id, pairs[pair].rule_b_id, clean_text(scene), cleaned=True)
                   for pair, scene in zip(pair_of[new].tolist(), scenes.take(scene_of[new]).to_pylist(), strict=True)]
            positions[new] = self._lookup(pa.array(ids, pa.string()))
            self._keys = pa.concat_arrays([self._keys, keys.take(new)])
            self._key_positions = np.concatenate([self._key_positions, positions[new]])
        return positions

    def _lookup(self, ids: pa.Array) -> np.ndarray:
        """The position of each dilemma id in the dilemmas table (``-1``: not there). The table's
        ids are looked up among the few new ones: hashing them all would cost ten times as much."""
        distinct = ids.dictionary_encode()
        found = pc.index_in(self._dilemma_ids, value_set=distinct.dictionary)
        valid = pc.is_valid(found)
        at = np.full(len(distinct.dictionary), -1, np.int64)
        at[found.filter(valid).to_numpy()] = np.flatnonzero(valid.to_numpy(zero_copy_only=False))
        return at[distinct.indices.to_numpy()]

    def _follows(self, positions: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """The code of what the first option with the chosen letter of each dilemma at ``positions``
        follows (``-1``: no choice, no option with that letter, or no mapping)."""
        follows = np.full(len(positions), -1, np.int64)
        for code in np.unique(choice[choice >= 0]).tolist():
            rows = np.flatnonzero(choice == code)
            follows[rows] = self._follows_of(self.choices.values[code])[positions[rows]]
        return follows

    def _follows_of(self, letter: str) -> np.ndarray:
        """Per dilemma, the follows code of its first option with ``letter`` (``-1``: none), for every
        dilemma at once the first time a model chooses the letter."""
        found = self._by_letter.get(letter)
        if found is None:
            if self._options is None:
                options = single_chunk(self._dilemmas.column("options"))
                values = options.flatten()
                follows_at, follows = _encoded(pc.struct_field(values, "follows"))
                follows_codes = np.array([self.follows.of(f) for f in follows.to_pylist()], np.int64)
                self._options = (pc.list_parent_indices(options).to_numpy(), pc.struct_field(values, "letter"),
                                 follows_codes[follows_at])
            owners, letters, follows_codes = self._options
            match = np.flatnonzero(pc.fill_null(pc.equal(letters, letter), False).to_numpy(zero_copy_only=False))
            first = match[np.diff(owners[match], prepend=-1) != 0]  # owners are ascending
            found = self._by_letter[letter] = np.full(self._dilemmas.num_rows, -1, np.int64)
            found[owners[first]] = follows_codes[first]
        return found

    def add_dilemma_answers(self, ctx: BuildContext, pairs: PairResolver, artifact: Artifact, model_raw: str,
                            model: str) -> None:
        """One model's answers to the dilemmas: each row published, folded into the same answer read
        earlier, or an orphan (its rules' failures are recorded by ``pairs``)."""
        file = artifact.relpath
        read = ctx.column_table(CONFIG, artifact)
        table, lines = read.table, read.lines.tolist()
        pair_at, distinct_pairs = pairs.pair_codes(read, file)
        scene_at, scenes = _encoded(table.column("scene"))
        rows = np.flatnonzero(pair_at >= 0)
        keys, key_at = np.unique(pair_at[rows] * len(scenes) + scene_at[rows], return_inverse=True)
        position = self._positions(distinct_pairs, keys // len(scenes), scenes, keys % len(scenes))[key_at]
        for row in rows[position < 0].tolist():
            ctx.orphan(self.outcomes, file, lines[row], "scene",
                       "answer to a dilemma that is not in the dilemmas config")
        rows, position = rows[position >= 0], position[position >= 0]

        answered, first, answered_at = np.unique(position, return_index=True, return_inverse=True)
        item_ids = self._dilemma_ids.take(pa.array(answered, pa.int64()))
        ids = stable_ids_of_parts("eval", ((item_id, model, "1") for item_id in item_ids.to_pylist()))
        new = np.flatnonzero(np.fromiter((i not in self.seen for i in ids), bool, len(ids)))
        self.seen.update(ids)
        published = rows[first[new]]
        folded = np.ones(len(rows), bool)
        folded[first[new]] = False
        self.decided += [outcome_lines(file, read.lines[published], "published", [ids[at] for at in new.tolist()]),
                         outcome_lines(file, read.lines[rows[folded]], "folded",
                                       [ids[at] for at in answered_at[folded].tolist()], reason="same answers")]

        reply_at, replies = _encoded(table.column("result"))
        readings = [_reading(reply) for reply in replies.to_pylist()]
        choice_codes = np.array([self.choices.of(choice) for choice, _ in readings], np.int64)
        errors = np.array([error for _, error in readings], bool)
        reply_at = reply_at[published]
        choice = choice_codes[reply_at]
        follows = self._follows(answered[new], choice)
        n = len(published)
        self.chunks.append(pa.table({
            "id": pa.array([ids[at] for at in new.tolist()], pa.string()),
            "item_type": pa.array(["dilemma"] * n, pa.string()),
            "item_id": item_ids.take(pa.array(new, pa.int64())),
            "model": pa.array([model] * n, pa.string()),
            "model_raw": pa.array([model_raw] * n, pa.string()),
            "repeat": pa.array(np.ones(n, np.int8)),
            "reply": table.column("result").take(pa.array(published, pa.int64())),
            "choice": self.choices.array(choice),
            "follows": self.follows.array(follows),
            "error": pa.array(errors[reply_at]),
        }, schema=self.schema))

    def add_scene_answers(self, ctx: BuildContext, artifact: Artifact, model_raw: str, model: str) -> None:
        """One model's five answers per experiment-2 scene of a theme, row by row."""
        file, theme = artifact.relpath, PurePosixPath(artifact.relpath).stem
        for record in ctx.registered(CONFIG, artifact.read()):
            fields, line = record.fields, record.line
            item = self._scenes.get(scene_id("experiment2", theme, None, clean_text(fields["scene"])))
            if item is None:
                ctx.orphan(self.outcomes, file, line, "scene", "answer to a scene that is not in the scenarios config")
                continue
            answers = [_answer(item, model_raw, model, n, fields.get(f"result{n}"))
                       for n in range(1, REPEATS + 1) if f"result{n}" in fields]
            new = [a for a in answers if a["id"] not in self.seen]
            if not new:
                self.outcomes.fold(file, line, answers[0]["id"], "same answers")
                continue
            self.seen.update(a["id"] for a in new)
            self.scene_rows += new
            self.outcomes.publish(file, line, new[0]["id"], f"{len(new)} answers" if len(new) > 1 else None)

    def table(self) -> pa.Table:
        """Every answer sorted by id: the table :func:`builders.stages.writer.rows_to_table` makes of the rows."""
        chunks = [*self.chunks, pa.Table.from_pylist(self.scene_rows, schema=self.schema)]
        return sort_table(pa.concat_tables(chunks), "id")[0]


PREFETCH = {"dilemma_answers": None}
"""Artifact kinds a build may read ahead in a background process (:data:`builders.configs.dilemmas.PREFETCH`)."""


def build(ctx: BuildContext) -> pa.Table:
    """Evaluation rows sorted by id; an answer read again (the same model, item and repeat) is folded."""
    pairs = PairResolver(ctx, CONFIG)
    answers = _Answers(ctx.tables.get("dilemmas"), ctx.results.get("scenarios", []))
    for artifact in ctx.reading(CONFIG, *(k.name for k in ARTIFACTS)):
        kind = artifact.kind.name
        model_raw = model_from_path(artifact.relpath, kind)
        if kind == "dilemma_answers":
            answers.add_dilemma_answers(ctx, pairs, artifact, model_raw, normalize_model(model_raw))
        else:
            answers.add_scene_answers(ctx, artifact, model_raw, normalize_model(model_raw))
    ctx.ledger.record_table(CONFIG, pl.concat([pairs.outcomes.frame(), answers.outcomes.frame(), *answers.decided]))
    return answers.table()
