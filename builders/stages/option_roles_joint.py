"""The scenes of one rule pair, decided together.

Upstream's generator writes at least five scenes for each rule pair in one reply (raw-formats §4.1), and
the options that follow one rule resemble each other from scene to scene more than they resemble the
other rule's (「在交接记录里写明漏巡的情况」「照规定登记这批零件的问题」 against 「给新人一个晚上返工的
机会」「体谅他家里的难处」). So a scene whose own text decides weakly borrows from its neighbours.

Each scene's pair decision is an orientation ``z = ±1`` (its first rule option follows rule A, or rule B)
with its own score ``s`` (log-odds, :data:`option_roles.PAIR_FEATURES` weighted). Scenes ``i`` and ``j`` of
one pair agree by ``c_ij``: the overlap of their first options plus that of their second options, minus the
two crossed overlaps. The orientations are chosen together (an Ising model):
``T(z) = Σ z_i s_i + w Σ_{i<j} z_i z_j c_ij``, and each scene's margin is half the difference between the best
``T`` with its ``z = +1`` and the best with ``z = -1``; a scene with no neighbour keeps its own score. ``w``
is fitted with the pair weights (pseudo-likelihood: the feature ``Σ_j c_ij z_j`` beside the others, with the
neighbours' true orientations; ``benchmarks/option_roles_fit.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import polars as pl

MAX_TOGETHER = 8
"""Scenes decided together at most (``2**8`` orientations to try); a pair with more is split in runs of
this many, in item order."""
_BLOCK = 4096
"""Runs of one size scored per numpy call (bounds the ``(runs, 2**size)`` table of totals)."""


@dataclass(frozen=True)
class Neighbours:
    """Which scenes are decided together: per item its run, and the agreement ``c_ij`` of each two items of a
    run that share a character (``first < second``; absent pairs agree by 0)."""

    run: np.ndarray
    first: np.ndarray
    second: np.ndarray
    agreement: np.ndarray


def runs(pair: np.ndarray) -> np.ndarray:
    """Per item, the run it is decided in: the items of one rule pair (``pair``), in item order, at most
    :data:`MAX_TOGETHER` at a time."""
    n = len(pair)
    parts = n // MAX_TOGETHER + 1
    found = (pl.DataFrame({"item": np.arange(n), "pair": pair})
             .with_columns(part=pl.int_range(pl.len()).over("pair") // MAX_TOGETHER)
             .with_columns(run=(pl.col("pair") * parts + pl.col("part")).rank("dense").cast(pl.Int64) - 1))
    run = np.empty(n, np.int64)
    run[found["item"].to_numpy()] = found["run"].to_numpy()
    return run


def option_overlaps(run: np.ndarray, o_owner: np.ndarray, o_char: np.ndarray, o_weight: np.ndarray,
                    w_option: np.ndarray) -> pl.DataFrame:
    """Every two options of different items of one run that share a character: ``option`` and ``option_j``
    (``3 * item + option``, the first of the lower item) and their overlap, an IDF-weighted cosine on character
    sets; the options' characters are ``o_owner``, ``o_char`` and their IDF ``o_weight``, ``w_option``
    (``items × 3``) each option's total weight."""
    chars = pl.DataFrame({"run": run[o_owner // 3], "option": o_owner, "char": o_char, "weight": o_weight})
    shared = (chars.join(chars, on=["run", "char"], suffix="_j").filter(pl.col("option") // 3 < pl.col("option_j") // 3)
              .group_by("option", "option_j").agg(pl.col("weight").sum()))
    first, second = shared["option"].to_numpy(), shared["option_j"].to_numpy()
    total = w_option.reshape(-1)
    return shared.with_columns(overlap=pl.Series(shared["weight"].to_numpy() / np.sqrt(total[first] * total[second])))


def resemblance(overlaps: pl.DataFrame, n: int) -> np.ndarray:
    """Per option (``n × 3``), its largest overlap with an option of another scene of its rule pair: the options
    that follow a rule resemble that rule's options in the other scenes, a distractor resembles none."""
    out = np.zeros(3 * n)
    if overlaps.height:
        np.maximum.at(out, overlaps["option"].to_numpy(), overlaps["overlap"].to_numpy())
        np.maximum.at(out, overlaps["option_j"].to_numpy(), overlaps["overlap"].to_numpy())
    return out.reshape(n, 3)


def neighbours(run: np.ndarray, rule_options: np.ndarray, overlaps: pl.DataFrame) -> Neighbours:
    """The agreement of each two items of a run: ``rule_options`` (``n × 2``) is each item's first and second
    rule option (the two the distractor decision left, named or not: a scene whose distractor is unclear still
    says how its pair's options lean), ``overlaps`` from :func:`option_overlaps`."""
    empty = Neighbours(run, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not overlaps.height:
        return empty
    option, option_j = overlaps["option"].to_numpy(), overlaps["option_j"].to_numpy()
    first, second = option // 3, option_j // 3
    slot = np.where(option % 3 == rule_options[first, 0], 0, np.where(option % 3 == rule_options[first, 1], 1, -1))
    slot_j = np.where(option_j % 3 == rule_options[second, 0], 0,
                      np.where(option_j % 3 == rule_options[second, 1], 1, -1))
    keep = (slot >= 0) & (slot_j >= 0)
    if not keep.any():
        return empty
    signed = np.where(slot == slot_j, 1.0, -1.0) * overlaps["overlap"].to_numpy()
    pairs = (pl.DataFrame({"first": first[keep], "second": second[keep], "signed": signed[keep]})
             .group_by("first", "second").agg(pl.col("signed").sum()).sort("first", "second"))
    return Neighbours(run, pairs["first"].to_numpy(), pairs["second"].to_numpy(), pairs["signed"].to_numpy())


def agreement_feature(found: Neighbours, orientation: np.ndarray) -> np.ndarray:
    """``Σ_j c_ij z_j`` per item, with the neighbours' orientations ``z`` given (``0`` where unknown): the
    feature the coupling ``w`` is fitted on."""
    out = np.zeros(len(found.run))
    np.add.at(out, found.first, found.agreement * orientation[found.second])
    np.add.at(out, found.second, found.agreement * orientation[found.first])
    return out


def decide_together(score: np.ndarray, found: Neighbours, coupling: float) -> np.ndarray:
    """Each item's margin (signed like ``score``) when the scenes of a run are decided together; an item alone in
    its run, or any item with no coupling, keeps its own score."""
    margin = np.asarray(score, float).copy()
    if not coupling or not len(found.agreement):
        return margin
    order = np.argsort(found.run, kind="stable")  # each run's items together, in item order
    runs, starts, sizes = np.unique(found.run[order], return_index=True, return_counts=True)
    place = np.empty(len(found.run), np.int64)
    place[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    for size in range(2, MAX_TOGETHER + 1):
        chosen = np.flatnonzero(sizes == size)
        orientations = np.array(list(product((1.0, -1.0), repeat=size)))  # (2**size, size)
        for begin in range(0, len(chosen), _BLOCK):
            block = chosen[begin:begin + _BLOCK]
            members = order[(starts[block][:, None] + np.arange(size)).reshape(-1)].reshape(len(block), size)
            local = np.full(int(runs[-1]) + 1, -1, np.int64)
            local[runs[block]] = np.arange(len(block))
            c = np.zeros((len(block), size, size))
            at = local[found.run[found.first]]
            inside = at >= 0
            c[at[inside], place[found.first[inside]], place[found.second[inside]]] = found.agreement[inside]
            totals = margin[members] @ orientations.T + coupling * np.einsum(
                "gab,za,zb->gz", c, orientations, orientations)
            for k in range(size):
                up, down = orientations[:, k] > 0, orientations[:, k] < 0
                margin[members[:, k]] = (totals[:, up].max(axis=1) - totals[:, down].max(axis=1)) / 2
    return margin
