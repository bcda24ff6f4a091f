"""The option-role scorer (:mod:`builders.stages.option_roles` says what it weighs), for dilemmas and
experiment-2 scenes alike: every item of a build scored together, in numpy and Arrow.

On real generations most options paraphrase their rules, so the corpus's 404k dilemmas all reach
this scorer; one item at a time in plain Python it took about 0.3 ms each. Here every piece of
evidence is computed for all items together: each text's characters as ``(owner, code point)`` rows
(:mod:`builders.stages.option_roles_text_rows`), and every overlap found by looking an entry up in the
sorted keys of the item's options (which of the three hold a character, as a 3-bit mask) or of its rules
(as ``item, side, code point`` keys). An overlap is the IDF-weighted share of the characters two texts
have in common (a cosine on character sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.option_roles import (
    _ASIDE,
    _CLAUSE,
    _PERSON,
    _REFUSAL,
    _WEATHER,
    OVERLAP_FEATURES,
    PAIR_FEATURES,
    WEIGHTS,
    Idf,
    Weights,
    _rule,
    calibrated,
    stance_patterns,
)
from builders.stages.option_roles_across_scenes import option_overlaps, resemblance, runs
from builders.stages.option_roles_letter_order import distractor_letters, rule_a_first
from builders.stages.option_roles_text_rows import (
    GRAM_BITS,
    OptionChars,
    bigram_rows,
    char_rows,
    cosine,
    distinct,
    idf_weights,
    member,
    pack,
    rule_codes,
    total,
    word_hits,
)


@dataclass(frozen=True)
class RoleScores:
    """Per item: roles (``0`` rule A, ``1`` rule B, ``2`` distractor, ``-1`` unknown; shape ``(n, 3)``), the
    calibrated confidence of the decisions taken (0.0 where none is), and both decisions' margins (what the
    calibration and the thresholds are measured on)."""

    roles: np.ndarray
    confidence: np.ndarray
    distractor_margin: np.ndarray
    pair_margin: np.ndarray
    pair_features: np.ndarray
    """Per item, :data:`PAIR_FEATURES` of its pair decision (what the pair weights are fitted on)."""
    relatedness: np.ndarray
    """Per item and option, how related the option is to its scene and rules (the distractor is the least)."""


def assign_roles_many(scenes: Sequence[str], options: Sequence[str], rules_a: Sequence[str],
                      rules_b: Sequence[str], values_a: Sequence[Sequence[str]], values_b: Sequence[Sequence[str]],
                      idf: Idf, weights: Weights = WEIGHTS) -> tuple[np.ndarray, np.ndarray]:
    """Roles and confidences (:class:`RoleScores`) of ``n`` items whose three options are ``options[3i:3i+3]``."""
    found = score_roles(scenes, options, rules_a, rules_b, values_a, values_b, idf, weights)
    return found.roles, found.confidence


def score_roles(scenes: Sequence[str], options: Sequence[str], rules_a: Sequence[str], rules_b: Sequence[str],
                values_a: Sequence[Sequence[str]], values_b: Sequence[Sequence[str]], idf: Idf,
                weights: Weights = WEIGHTS) -> RoleScores:
    """Every item's evidence, then its two decisions (:func:`_decide`)."""
    n = len(scenes)
    option_list = [o or "" for o in options]
    rules = [(_rule(a, tuple(va or ())), _rule(b, tuple(vb or ())))
             for a, b, va, vb in zip(rules_a, rules_b, values_a, values_b, strict=True)]
    # characters and weights of the options, the scenes, each dilemma's two rules and its scene's clauses
    o_owner, o_char = char_rows(option_list)
    o_weight = idf_weights(idf, o_char)
    option_chars = OptionChars(o_owner, o_char)
    w_option = total(o_owner, o_weight, 3 * n).reshape(n, 3)
    s_owner, s_char = char_rows([s or "" for s in scenes])
    s_weight = idf_weights(idf, s_char)
    scene_shared = option_chars.shared(s_owner, s_char, s_weight, s_owner, n)
    scene_overlap = cosine(scene_shared, w_option, total(s_owner, s_weight, n)[:, None])
    side_texts = ["".join(sorted(r.chars)) for pair in rules for r in pair]  # owner = 2 * dilemma + side
    r_owner, r_char = char_rows(side_texts)
    r_weight = idf_weights(idf, r_char)
    w_rule = total(r_owner, r_weight, 2 * n).reshape(n, 2)
    rule_shared = option_chars.shared(r_owner // 2, r_char, r_weight, r_owner, 2 * n).reshape(n, 2, 3)
    parts = {"char": cosine(rule_shared.transpose(0, 2, 1), w_option[:, :, None], w_rule[:, None, :])}  # (n, 3, 2)
    # bigrams: share of the option's distinct bigrams the rule has
    b_owner, b_gram = bigram_rows(option_list)
    rule_texts = [text or "" for pair in zip(rules_a, rules_b, strict=True) for text in pair]  # 2 * dilemma + side
    rb_owner, rb_gram = bigram_rows(rule_texts)
    rule_grams = distinct(pack(rb_owner, rb_gram, GRAM_BITS))
    grams_per_option = np.bincount(b_owner, minlength=3 * n).reshape(n, 3)
    parts["bigram"] = np.zeros((n, 3, 2))
    for side in range(2):
        query = pack((b_owner // 3) * 2 + side, b_gram, GRAM_BITS)
        hit = member(rule_grams, query)
        shares = np.bincount(b_owner[hit], minlength=3 * n).reshape(n, 3)
        parts["bigram"][:, :, side] = np.divide(shares, grams_per_option, out=np.zeros((n, 3)),
                                                where=grams_per_option > 0)
    # the rules' words in the options, and polarity
    option_array = pa.array(option_list, pa.string())
    option_item = np.repeat(np.arange(n), 3)
    refusal = pc.match_substring_regex(option_array, _REFUSAL.pattern).to_numpy(zero_copy_only=False).reshape(n, 3)
    codes = [rule_codes(rules, side) for side in range(2)]
    parts["lexicon"], parts["polarity"] = np.zeros((n, 3, 2)), np.zeros((n, 3, 2))
    for side in range(2):
        parts["lexicon"][:, :, side] = np.minimum(3, word_hits(option_array, option_item, *codes[side]).reshape(n, 3))
        forbids = np.array([pair[side].forbids for pair in rules], bool)
        parts["polarity"][:, :, side] = forbids[:, None] & refusal
    rule_array = pa.array(rule_texts, pa.string())
    parts["stance"] = np.einsum("noa,nra->nor", _stance(option_array, "option").reshape(n, 3, -1),
                                _stance(rule_array, "rule").reshape(n, 2, -1))
    parts["scene_hop"] = _scene_hop(scenes, idf, option_chars, w_option, r_owner, r_char, w_rule.reshape(-1), n)
    evidence = parts["char"] + weights.bigram * parts["bigram"] + weights.lexicon * parts["lexicon"] + \
        weights.polarity * parts["polarity"] + weights.scene_hop * parts["scene_hop"]
    aside = _aside(option_array, option_list, scenes, n)
    related = weights.scene * scene_overlap + weights.rules * evidence.max(axis=2) - weights.aside * aside
    if weights.sibling:
        related += weights.sibling * _sibling_overlap(option_chars, o_owner, o_char, o_weight, w_option, n)
    if weights.resemblance:
        rule_pair = np.unique(codes[0][0] * (len(codes[1][1]) + 1) + codes[1][0], return_inverse=True)[1]
        run = runs(rule_pair.reshape(-1))
        related += weights.resemblance * resemblance(option_overlaps(run, o_owner, o_char, o_weight, w_option), n)
    if weights.letter_order:
        related = related - np.log(_distractor_prior(related, weights)) / weights.distractor_scale
    order = np.argsort(related, axis=1, kind="stable")  # least related first: the distractor
    distractor = order[:, 0]
    lexicon_texts = [_own_words(pair, side) for pair in rules for side in range(2)]  # owner = 2 * dilemma + side
    parts.update(_distinctive(option_chars, o_owner, o_char, o_weight, distractor, r_owner, r_char, r_weight,
                              char_rows(lexicon_texts), idf, n))
    return _decide(related, order, parts, weights)


def _stance(texts: pa.Array, kind: str) -> np.ndarray:
    """Per text and axis of :func:`option_roles.stance_patterns` (``kind``: ``rule`` or ``option``), ``1`` where
    it holds words of the axis's first pole and none of its second, ``-1`` the reverse, else ``0``."""
    axes = stance_patterns()[kind]
    out = np.zeros((len(texts), len(axes)), np.int8)
    for axis, poles in enumerate(axes):
        first, second = (pc.match_substring_regex(texts, pole).to_numpy(zero_copy_only=False) for pole in poles)
        out[:, axis] = first.astype(np.int8) - second.astype(np.int8)
    return out


def _distractor_prior(related: np.ndarray, weights: Weights) -> np.ndarray:
    """Where the distractor stands in the sure decisions taken without a prior (``(3,)``, per letter)."""
    ordered = np.sort(related, axis=1)
    sure = ordered[:, 1] - ordered[:, 0] >= weights.distractor_margin
    return distractor_letters(np.argmin(related, axis=1), sure)


def _aside(option_array: pa.Array, option_list: list[str], scenes: Sequence[str], n: int) -> np.ndarray:
    """Per option, whether it reads like the generator's distractors (:data:`option_roles._ASIDE`,
    :data:`option_roles._WEATHER`, or opening with a name its scene holds, :data:`option_roles._PERSON`)."""
    found = pc.match_substring_regex(option_array, f"{_ASIDE.pattern}|{_WEATHER.pattern}").to_numpy(
        zero_copy_only=False)
    named = np.flatnonzero(pc.match_substring_regex(option_array, _PERSON.pattern).to_numpy(zero_copy_only=False))
    if len(named):
        s_owner, s_gram = bigram_rows([scenes[i // 3] or "" for i in named.tolist()])
        keys = distinct(pack(s_owner, s_gram, GRAM_BITS))
        head = [option_list[i][:2] for i in named.tolist()]
        gram = pack(np.array([ord(h[0]) for h in head]), np.array([ord(h[1]) for h in head]))
        found[named] |= member(keys, pack(np.arange(len(named)), gram, GRAM_BITS))
    return found.reshape(n, 3)


def _sibling_overlap(option_chars: OptionChars, o_owner: np.ndarray, o_char: np.ndarray, o_weight: np.ndarray,
                     w_option: np.ndarray, n: int) -> np.ndarray:
    """Per option, its larger overlap with the other two: the two rule options answer the same predicament
    (「留着水喝」「用这桶水洗头」), the distractor shares little with either."""
    shared = option_chars.shared(o_owner // 3, o_char, o_weight, o_owner, 3 * n).reshape(n, 3, 3)
    overlap = cosine(shared, w_option[:, :, None], w_option[:, None, :])
    overlap[:, [0, 1, 2], [0, 1, 2]] = 0.0
    return overlap.max(axis=2)


def _scene_hop(scenes: Sequence[str], idf: Idf, option_chars: OptionChars, w_option: np.ndarray,
               r_owner: np.ndarray, r_char: np.ndarray, w_rule: np.ndarray, n: int) -> np.ndarray:
    """Each option's overlap with each clause of its scene, times how much more that clause echoes rule A than
    rule B; half added to rule A's evidence, half taken from rule B's (at weight 1). A clause echoes a rule by
    the rule's own characters only: the value lexicon names situations, and a scene's clauses set out both
    sides' situations, so its words would lean a clause to whichever rule's list is longer."""
    clauses, clause_item = [], []
    for item, scene in enumerate(scenes):
        for clause in _CLAUSE.split(scene or ""):
            clauses.append(clause)
            clause_item.append(item)
    clause_item_array = np.array(clause_item, np.int64)
    c_owner, c_char = char_rows(clauses)
    c_weight = idf_weights(idf, c_char)
    m = len(clauses)
    w_clause = total(c_owner, c_weight, m)
    item_of_row = clause_item_array[c_owner] if len(c_owner) else np.zeros(0, np.int64)
    rule_keys = pack(r_owner, r_char)  # sorted: (2 * item + side, char)
    lean = np.zeros(m)
    for side, sign in ((0, 1.0), (1, -1.0)):
        query = pack(item_of_row * 2 + side, c_char)
        hit = member(rule_keys, query)
        shared = total(c_owner[hit], c_weight[hit], m)
        lean += sign * cosine(shared, w_clause, w_rule[clause_item_array * 2 + side])
    option_shared = option_chars.shared(item_of_row, c_char, c_weight, c_owner, m)  # (clauses, 3)
    overlap = cosine(option_shared, w_option[clause_item_array] if m else np.zeros((0, 3)), w_clause[:, None])
    hop = np.zeros((n, 3))
    for option in range(3):
        hop[:, option] = total(clause_item_array, overlap[:, option] * lean, n)
    hop /= 2
    return np.stack([hop, -hop], axis=2)


def _own_words(pair: tuple, side: int) -> str:
    """The lexicon words of one rule the other rule of its pair does not share, run together."""
    other = set(pair[1 - side].words)
    return "".join(word for word in pair[side].words if word not in other)


def _distinctive(option_chars: OptionChars, o_owner: np.ndarray, o_char: np.ndarray, o_weight: np.ndarray,
                 distractor: np.ndarray, r_owner: np.ndarray, r_char: np.ndarray, r_weight: np.ndarray,
                 lexicon_rows: tuple[np.ndarray, np.ndarray], idf: Idf, n: int) -> dict[str, np.ndarray]:
    """Per option and rule: what the option says that the other rule option does not (the two usually act
    differently on the same object: 「收下土鸡」「把鸡退回去」), against the characters of the rule the other
    rule lacks (``distinct_chars``) and of the rule's own lexicon words (``distinct_lexicon``); cosines as
    :func:`option_roles_text_rows.cosine`. Shared words say nothing about which option follows which rule."""
    item, option = o_owner // 3, o_owner % 3
    sibling = np.where(option == distractor[item], (option + 1) % 3, 3 - option - distractor[item])
    at = np.searchsorted(option_chars.keys, pack(item, o_char))
    own = (option_chars.mask[at] >> sibling) & 1 == 0 if len(at) else np.zeros(0, bool)
    w_own = total(o_owner[own], o_weight[own], 3 * n).reshape(n, 3)
    rule_keys = pack(r_owner, r_char)
    rule_own = ~member(rule_keys, pack(r_owner ^ 1, r_char))
    l_owner, l_char = lexicon_rows
    targets = {"distinct_chars": (r_owner[rule_own], r_char[rule_own], r_weight[rule_own]),
               "distinct_lexicon": (l_owner, l_char, idf_weights(idf, l_char))}
    out = {}
    for name, (owner, char, weight) in targets.items():
        keys = pack(owner, char)  # sorted: (2 * item + side, char)
        w_target = total(owner, weight, 2 * n).reshape(n, 2)
        feature = np.zeros((n, 3, 2))
        for side in range(2):
            query = pack(item * 2 + side, o_char)
            hit = own & member(keys, query)
            shared = total(o_owner[hit], o_weight[hit], 3 * n).reshape(n, 3)
            feature[:, :, side] = cosine(shared, w_own, w_target[:, side][:, None])
        out[name] = feature
    return out


def _decide(related: np.ndarray, order: np.ndarray, parts: dict[str, np.ndarray], weights: Weights) -> RoleScores:
    """The distractor (``order``: each item's options, least related first), then the two rule options
    jointly, each only above its margin. The pair decision is
    a weighted sum of :data:`PAIR_FEATURES`, each the evidence for one assignment minus the other's; its
    margin is the sum's size (log-odds: the weights are a logistic regression's)."""
    n = len(related)
    rows = np.arange(n)
    distractor = order[:, 0]
    distractor_margin = related[rows, order[:, 1]] - related[rows, distractor]
    x, y = np.sort(order[:, 1:], axis=1).T
    features = np.zeros((n, len(PAIR_FEATURES)))
    for k, name in enumerate(PAIR_FEATURES):
        part = parts[name]
        features[:, k] = part[rows, x, 0] + part[rows, y, 1] - part[rows, x, 1] - part[rows, y, 0]
        if name in OVERLAP_FEATURES:
            features[:, k] = np.clip(features[:, k], -weights.overlap_cap, weights.overlap_cap)
    score = features @ np.asarray(weights.pair, float)
    named = distractor_margin >= weights.distractor_margin
    if weights.letter_order:
        prior = rule_a_first(distractor, score > 0, named & (np.abs(score) >= weights.pair_margin))
        score = score + np.log(prior / (1 - prior))[distractor]
    pair_margin = np.abs(score)
    roles = np.full((n, 3), -1, np.int8)
    confidence = np.zeros(n)
    roles[rows[named], distractor[named]] = 2
    pair = named & (pair_margin >= weights.pair_margin) & (pair_margin > 0)
    first = np.where(score > 0, 0, 1)
    roles[rows[pair], x[pair]] = first[pair]
    roles[rows[pair], y[pair]] = 1 - first[pair]
    for i in np.flatnonzero(named).tolist():
        value = calibrated("distractor", float(distractor_margin[i]))
        if pair[i]:
            value = min(value, calibrated("pair", float(pair_margin[i])))
        confidence[i] = value
    return RoleScores(roles, confidence, distractor_margin, np.where(named, pair_margin, 0.0), features, related)
