"""The letter order a build's sure decisions show, as the prior of every option-role decision."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from builders.stages import option_roles
from builders.stages.option_roles import Idf
from builders.stages.option_roles_columnar import score_roles
from builders.stages.option_roles_letter_order import PRIOR_STRENGTH, distractor_letters, rule_a_first

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


def test_with_no_sure_decision_every_letter_is_as_likely():
    assert distractor_letters(np.array([0, 2, 1]), np.zeros(3, bool)).tolist() == pytest.approx([1 / 3] * 3)
    assert rule_a_first(np.array([0, 2]), np.array([True, False]), np.zeros(2, bool)).tolist() == [0.5] * 3


def test_sure_decisions_move_the_prior_in_proportion_to_their_number():
    at_c = np.full(1000, 2)
    few, many = distractor_letters(at_c, np.arange(1000) < 10), distractor_letters(at_c, np.ones(1000, bool))
    assert few[2] == pytest.approx((10 + PRIOR_STRENGTH) / (10 + 3 * PRIOR_STRENGTH))
    assert 0.4 < few[2] < many[2] and many[2] > 0.95 and many.sum() == pytest.approx(1.0)
    first = rule_a_first(at_c, np.arange(1000) % 5 != 0, np.ones(1000, bool))
    assert first[2] == pytest.approx((800 + PRIOR_STRENGTH) / (1000 + 2 * PRIOR_STRENGTH))
    assert first[:2].tolist() == [0.5, 0.5]  # no sure decision put the distractor at A or B


def _dev_items(order_of) -> tuple[list[tuple], np.ndarray]:
    """The development sets' dilemmas, their options put in the letter order ``order_of(i)`` gives."""
    import option_roles_sets

    from builders.stages.parsers.blobs import split_options

    items, gold = [], []
    for i, row in enumerate(r for name in option_roles_sets.TUNING for r in option_roles_sets.read_set(name)):
        by_role = {option_roles_sets.ROLES.index(row["gold"][letter]): text
                   for letter, text in split_options(row["options"])}
        order = order_of(i)
        items.append((row["scene"], [by_role[role] for role in order], row["rule_a"], row["rule_b"],
                      row["derived_a"], row["derived_b"]))
        gold.append(order)
    return items, np.array(gold)


def _scored(items: list[tuple], letter_order: bool) -> np.ndarray:
    idf = Idf([i[0] for i in items] + [t for i in items for t in i[1]])
    return score_roles([i[0] for i in items], [t for i in items for t in i[1]], [i[2] for i in items],
                       [i[3] for i in items], [i[4] for i in items], [i[5] for i in items], idf,
                       replace(option_roles.WEIGHTS, letter_order=letter_order)).roles


def test_a_corpus_whose_distractor_mostly_stands_at_c_gets_more_roles_as_precise():
    import option_roles_sets

    items, gold = _dev_items(option_roles_sets.skewed_orders(0.97, 0.9))
    without, with_prior = _scored(items, False), _scored(items, True)
    given, given_before = with_prior >= 0, without >= 0
    assert given.sum() > given_before.sum() + 0.05 * gold.size
    assert (with_prior[given] == gold[given]).mean() >= 0.98
    assert ((with_prior == 2).sum(axis=1) == 1).sum() > ((without == 2).sum(axis=1) == 1).sum()


def test_evenly_shuffled_letters_leave_the_roles_almost_as_the_text_gives_them():
    import option_roles_sets

    items, _ = _dev_items(lambda i: option_roles_sets.ORDERS[i % 6])
    changed = (_scored(items, True) != _scored(items, False)).any(axis=1)
    assert changed.sum() <= 0.02 * len(items)
