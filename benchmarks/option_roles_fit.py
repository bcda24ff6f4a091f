"""The rule-pair weights of the option-role scorer: a logistic regression fitted on the development sets, and
its honest estimate by leave-one-rule-pair-out cross-validation.

``python benchmarks/option_roles_fit.py`` prints the weights (``Weights.pair`` holds them) and the
cross-validated accuracy of the pair decision; ``--out-of-set dev3`` also scores one development set with a
scorer tuned on the others only, and ``--leave-one-set-out`` does so for every development set in turn: how
the calibration holds on a writer it never saw. Each pair decision is one row: per feature
(``option_roles.PAIR_FEATURES``), the evidence for "the first rule option follows rule A" minus the evidence
for the crossed assignment; the label says which is right. Swapping the options negates both, so the model
has no intercept. Held out together are the scenes of a rule pair: they share the rules' words, and a
model that saw two of them would promise too much on the third. Only the decisions whose distractor the
scorer named right are rows (the pair decision is taken after it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from builders.stages.option_roles import Weights
    from builders.stages.option_roles_columnar import RoleScores

PENALTY = 0.1
"""L2 penalty of the fit: small, only to keep the weights finite when a feature separates the rows."""


def scored_set(name: str, weights: Weights) -> tuple[list[tuple[dict, list[str]]], RoleScores]:
    """A set's dilemmas with their option texts, and the scorer's ``RoleScores`` of all of them: the set scored
    on its own (its own IDF), as a build of its raw tree would score it."""
    from option_roles_sets import read_set

    from builders.stages import option_roles
    from builders.stages.option_roles_columnar import score_roles
    from builders.stages.parsers.blobs import split_options

    rows = [(row, [text for _, text in split_options(row["options"])]) for row in read_set(name)]
    idf = option_roles.Idf([row["scene"] for row, _ in rows] + [t for _, texts in rows for t in texts])
    found = score_roles([row["scene"] for row, _ in rows], [t for _, texts in rows for t in texts],
                        [row["rule_a"] for row, _ in rows], [row["rule_b"] for row, _ in rows],
                        [row["derived_a"] for row, _ in rows], [row["derived_b"] for row, _ in rows], idf, weights)
    return rows, found


def pair_rows(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple]]:
    """Features, labels (+1: the first rule option follows rule A), groups (set and rule pair) of the pair
    decisions, and per dilemma ``(set, distractor margin, distractor right, row index or None)``."""
    from option_roles_sets import ROLES

    from builders.stages import option_roles

    open_weights = replace(option_roles.WEIGHTS, distractor_margin=float("-inf"), pair_margin=float("-inf"),
                           letter_order=False)
    features, labels, groups, dilemmas = [], [], [], []
    for name in names:
        rows, found = scored_set(name, open_weights)
        for i, (row, _) in enumerate(rows):
            gold = [ROLES.index(row["gold"][letter]) for letter in "ABC"]
            roles = found.roles[i].tolist()
            distractor_right = roles.index(2) == gold.index(2)
            at = None
            if distractor_right:
                first = min(k for k in range(3) if roles[k] != 2)
                at = len(labels)
                features.append(found.pair_features[i])
                labels.append(1.0 if gold[first] == 0 else -1.0)
                groups.append(f"{name}:{row['pair']}")
            dilemmas.append((name, float(found.distractor_margin[i]), distractor_right, at))
    return np.array(features).reshape(-1, len(option_roles.PAIR_FEATURES)), np.array(labels), \
        np.array(groups), dilemmas


def fit(features: np.ndarray, labels: np.ndarray, penalty: float = PENALTY) -> np.ndarray:
    """Logistic regression without intercept by Newton's method (the problem is small and convex)."""
    weights = np.zeros(features.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(labels * (features @ weights)))  # P(wrong) per row
        gradient = -(features * (labels * p)[:, None]).sum(axis=0) + penalty * weights
        hessian = (features * (p * (1 - p))[:, None]).T @ features + penalty * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return weights


def fitted_weights(names: tuple[str, ...] | None = None) -> tuple[float, ...]:
    """The weights ``Weights.pair`` holds: fitted on all rows of the tuning sets, rounded to two decimals."""
    from option_roles_sets import TUNING

    features, labels, _, _ = pair_rows(names or TUNING)
    return tuple(round(float(w), 2) for w in fit(features, labels))



def relatedness_rows(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every dilemma's relatedness of its three options (no letter-order prior) and its distractor's letter."""
    from option_roles_sets import ROLES

    from builders.stages import option_roles

    plain = replace(option_roles.WEIGHTS, letter_order=False)
    related, gold = [], []
    for name in names:
        rows, found = scored_set(name, plain)
        related.append(found.relatedness)
        gold += ["ABC".index(next(k for k, v in row["gold"].items() if v == ROLES[2])) for row, _ in rows]
    return np.concatenate(related), np.array(gold)


def fitted_distractor_scale(names: tuple[str, ...] | None = None) -> float:
    """``Weights.distractor_scale``: the ``β`` of ``P(distractor = k) ∝ exp(-β · relatedness_k)`` that makes the
    development sets' distractors likeliest, rounded to one decimal. The likelihood is concave in ``β``: its
    slope, ``Σ (relatedness_gold - E[relatedness])``, is found zero by bisection."""
    from option_roles_sets import TUNING

    related, gold = relatedness_rows(names or TUNING)
    x = related[np.arange(len(gold)), gold][:, None] - related  # > 0 where an option looks less related than gold

    def slope(beta: float) -> float:
        p = np.exp(beta * x - (beta * x).max(axis=1, keepdims=True))
        return float(((p / p.sum(axis=1, keepdims=True)) * x).sum())  # d(-log-likelihood)/dβ

    low, high = 0.0, 1.0
    while slope(high) < 0:
        low, high = high, 2 * high
    for _ in range(60):
        low, high = (low, (low + high) / 2) if slope((low + high) / 2) > 0 else ((low + high) / 2, high)
    return round((low + high) / 2, 1)


def cross_validated_scores(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's score from a model fitted without its rule pair (leave one rule pair out)."""
    scores = np.zeros(len(labels))
    for group in np.unique(groups):
        held = groups == group
        scores[held] = features[held] @ fit(features[~held], labels[~held])
    return scores


def out_of_set(name: str, others: tuple[str, ...]) -> dict:
    """Set ``name`` scored by a scorer tuned without it: pair weights fitted, thresholds chosen (the same rule
    as ``option_roles_sets.choose_thresholds``) on ``others`` only; every letter's role against the gold. For a
    set from another writer than ``others``, the honest estimate of what the calibration promises on text it
    never saw."""
    from option_roles_sets import ROLES, choose_thresholds

    from builders.stages import option_roles

    features, labels, _, _ = pair_rows(others)
    chosen = choose_thresholds(others)
    weights = replace(option_roles.WEIGHTS, pair=tuple(fit(features, labels).tolist()),
                      distractor_margin=chosen["distractor"], pair_margin=chosen["pair"])
    rows, found = scored_set(name, weights)
    gold = np.array([[ROLES.index(row["gold"][letter]) for letter in "ABC"] for row, _ in rows])
    given = found.roles >= 0
    return {"set": name, "tuned_on": others, "thresholds": chosen, "letters": int(gold.size),
            "given": int(given.sum()), "right": int((found.roles[given] == gold[given]).sum())}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from option_roles_sets import TUNING

    from builders.stages.option_roles import PAIR_FEATURES, WEIGHTS

    features, labels, groups, dilemmas = pair_rows(TUNING)
    scores = cross_validated_scores(features, labels, groups)
    right = np.sign(scores) == labels
    print("weights:", json.dumps(dict(zip(PAIR_FEATURES, fitted_weights(), strict=True))))
    print("distractor scale:", fitted_distractor_scale())
    print(f"pair decisions: {len(labels)} in {len(np.unique(groups))} rule pairs; leave-one-rule-pair-out "
          f"accuracy {right.sum()}/{len(labels)} ({right.mean():.1%})")
    taken = [at for _, margin, _, at in dilemmas if at is not None and margin >= WEIGHTS.distractor_margin
             and abs(scores[at]) >= WEIGHTS.pair_margin]
    print(f"out of fold, above the shipped thresholds: {len(taken)} pair decisions taken, "
          f"{int(right[taken].sum())} right")
    if "--leave-one-set-out" in sys.argv:
        given = right = letters = 0
        for name in TUNING:
            found = out_of_set(name, tuple(s for s in TUNING if s != name))
            given, right, letters = given + found["given"], right + found["right"], letters + found["letters"]
            print(f"{name} scored by a scorer tuned on the other development sets: {found['given']}/"
                  f"{found['letters']} letters with a role, {found['right']} right")
        print(f"each development set scored by a scorer tuned on the others: {given}/{letters} letters with a role "
              f"({given / letters:.1%}), {right} right ({right / max(1, given):.2%})")
    if "--out-of-set" in sys.argv:
        name = sys.argv[sys.argv.index("--out-of-set") + 1]
        found = out_of_set(name, tuple(s for s in TUNING if s != name))
        print(f"{name} scored by a scorer tuned on {', '.join(found['tuned_on'])} only (thresholds "
              f"{found['thresholds']}): {found['given']}/{found['letters']} letters with a role "
              f"({found['given'] / found['letters']:.1%}), {found['right']} right "
              f"({found['right'] / max(1, found['given']):.1%})")
