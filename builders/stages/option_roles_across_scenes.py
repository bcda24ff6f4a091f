"""The other scenes of one rule pair: what the options of one scene have in common with theirs.

Upstream's generator writes at least five scenes for each rule pair in one reply (raw-formats §4.1), each
with an option following rule A, one following rule B and an unrelated distractor. A rule's options resemble
each other from scene to scene (「在交接记录里写明漏巡的情况」「照规定登记这批零件的问题」), while the distractors,
asides about the weather or a chair in the room, resemble nothing in the other scenes: the resemblance is
one more piece of the distractor decision's evidence.

(Deciding the two rule options of a pair's scenes together, as one Ising model over their orientations, was
tried and left out: it made the pair decision right more often, 86% against 82% of the development sets'
decisions out of fold, but its mistakes grew as sure as its right answers, since the scenes of one pair share
their rules' evidence, and at the 98% precision the build publishes at it took fewer decisions, not more;
``benchmarks/README.md``.)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from builders.stages.option_roles_text_rows import cosine

MAX_COMPARED = 8
"""Scenes compared with each other at most: a rule pair with more (a rerun appends its scenes again) is split in
runs of this many, in item order, so the comparison stays linear in the scenes."""


def runs(pair: np.ndarray) -> np.ndarray:
    """Per item, the run it is compared in: the items of one rule pair (``pair``), in item order, at most
    :data:`MAX_COMPARED` at a time."""
    n = len(pair)
    parts = n // MAX_COMPARED + 1
    found = (pl.DataFrame({"item": np.arange(n), "pair": pair})
             .with_columns(part=pl.int_range(pl.len()).over("pair") // MAX_COMPARED)
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
    weight = w_option.reshape(-1)
    overlap = cosine(shared["weight"].to_numpy(), weight[shared["option"].to_numpy()],
                     weight[shared["option_j"].to_numpy()])
    return shared.with_columns(overlap=pl.Series(overlap))


def resemblance(overlaps: pl.DataFrame, n: int) -> np.ndarray:
    """Per option (``n × 3``), its largest overlap with an option of another scene of its rule pair: the options
    that follow a rule resemble that rule's options in the other scenes, a distractor resembles none."""
    out = np.zeros(3 * n)
    if overlaps.height:
        np.maximum.at(out, overlaps["option"].to_numpy(), overlaps["overlap"].to_numpy())
        np.maximum.at(out, overlaps["option_j"].to_numpy(), overlaps["overlap"].to_numpy())
    return out.reshape(n, 3)
