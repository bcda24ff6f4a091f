"""Which option follows which rule, from the text when the options paraphrase their rules.

Upstream's generator was asked for one option following each rule and one "entirely unrelated"
distractor, and its options mostly paraphrase a rule rather than repeat it (「熬夜把稿子写完，按时交给
编辑」 for 「言而有信的人更值得他人信任」), so shared bigrams alone rarely decide. Two decisions
are taken here, each with its own margin:

1. **the distractor**, on its own: the option least related to the scene and to both rules
   (character overlap weighted by IDF over the corpus, the rules' value names and the lexicon of
   their derived values in ``schemas/value_lexicon.json``) and to the options of the other scenes of its
   rule pair (:mod:`builders.stages.option_roles_across_scenes`), and written the way the generator writes
   distractors (a ``你…`` aside about weather, tidying, reading, or the same told of the scene's protagonist);
2. **the two rule options, jointly**: of the two ways to give them rule A and rule B, the one whose
   evidence (the same overlaps, each rule's lexicon, polarity: a refusal answers a rule that forbids,
   the stance each takes on the axes of ``schemas/stance_lexicon.json``, strict or lenient, duty or home,
   and what each option says that the other does not against what each rule says that the other does not)
   is larger, by how much; the pieces weighted by a logistic regression fitted on the development sets
   (:data:`PAIR_FEATURES`).

Both decisions also weigh the letter order the build's own sure decisions show
(:mod:`builders.stages.option_roles_letter_order`: upstream's distractor stood at ``C`` in nearly every dilemma).
A decision whose margin is below its threshold is not taken: the distractor may be known while
the two rule options stay unknown (a partial mapping). Each margin is turned into a calibrated
confidence: the precision measured at that margin on the development sets (``benchmarks/dev``,
``dev2`` … ``dev6``; for the pair, out of fold), never on the held-out set it is reported on
(``benchmarks/README.md``).

This module holds the definitions (weights, IDF, each rule's evidence, calibration); the one scorer,
for dilemmas and experiment-2 scenes alike, is :mod:`builders.stages.option_roles_columnar`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from builders.resources import schemas_dir

_STOP = frozenset("的了是在你我他她它们把就要应该会能一个和与也都很这那着过去来上下里到给让对被"
                  "之其而及或为以所有人做该")
"""Characters too common in any option to say which rule it follows (IDF would only shrink them)."""
_REFUSAL = re.compile("不|拒绝|别|婉拒|劝|没|放弃|停|忍|关掉|拦|制止|阻止")
"""An option that holds back, refuses or stops something."""
_PROHIBITION = re.compile("不应|不能|不要|不该|不得|不可|禁止|违法|违反|不道德|不诚实|是错|可耻|作弊|欺骗|伤害"
                          "|保护|爱护|节约|遵守|服从|纪律")
"""A rule that forbids, or asks to hold back (protect, save, obey)."""
_ASIDE = re.compile(r"^(?:你|今天|天气|明天)")
"""How the generator's distractors begin: 「你决定先去整理一下衣服」「今天的天气很好」."""
_WEATHER = re.compile("下起了?.?[雨雪]|刮起?了?.?风|风刮|起了.?风|起大风|起风了|降温|出太阳|打雷"
                      "|天(?:气)?(?:很|真|有点)?(?:晴|阴|热|冷)")
"""The generator's other way to change the topic (its prompt: "time or weather"): 「窗外下起了小雨」. The wind
rises only after 刮 or as 起了风 / 起大风 / 起风了: 「一起风雨同舟」「引起风波」 speak of no weather."""
_PERSON = re.compile("^[小老阿][\u4e00-\u9fff]")
"""How a name opens (小周, 老韩): an option that opens with the scene's own protagonist narrates what they do,
the third-person form of a ``你…`` aside (「老赵把砚台里的墨倒掉了」); the rule options are instructions."""
_CLAUSE = re.compile("[，,。；;！!？?：:、]")
"""Where a scene's clauses end: a dilemma's scene states both sides (「你答应编辑今晚交稿，父亲突然发烧住院」),
and an option repeats the words of its side."""


@dataclass(frozen=True)
class Weights:
    """How much each piece of evidence counts; chosen on the development sets only (``benchmarks/dev``,
    ``benchmarks/dev2`` … ``benchmarks/dev6``)."""

    scene: float = 2.0
    """Distractor: character overlap with the scene."""
    rules: float = 1.0
    """Distractor: the larger evidence for either rule."""
    aside: float = 0.6
    """Distractor: the option opens like the generator's asides (``你…``, or the scene's protagonist by name) or
    speaks of the weather."""
    bigram: float = 1.5
    """Rule evidence: shared character bigrams, as a share of the option's."""
    lexicon: float = 0.35
    """Rule evidence: each word of the rule's value lexicon (and value names) in the option, up to 3."""
    polarity: float = 0.5
    """Rule evidence: a refusal in the option answers the rule that forbids."""
    scene_hop: float = 1.0
    """Rule evidence: overlap with the scene's clauses, each leaning to the rule it echoes more."""
    sibling: float = 1.0
    """Distractor: the larger overlap with the other two options (the rule options share the predicament)."""
    resemblance: float = 1.0
    """Distractor: the option's largest overlap with an option of another scene of its rule pair (a rule's options
    resemble each other from scene to scene; :mod:`builders.stages.option_roles_across_scenes`)."""
    distractor_margin: float = 0.2
    """The distractor is named when its relatedness is below the next option's by this much."""
    distractor_scale: float = 7.6
    """How many log-odds one unit of relatedness is worth (the temperature of a softmax over the three options,
    fitted on the development sets): the letter-order prior is added to the relatedness in its units."""
    letter_order: bool = True
    """Whether the letter order the build's sure decisions show is a prior of every decision
    (:mod:`builders.stages.option_roles_letter_order`); off where the weights are fitted."""
    pair: tuple[float, ...] = (4.42, 1.43, 0.87, 1.14, 5.64, 2.94, 7.44, 1.18)
    """Rule pair: the weight of each of :data:`PAIR_FEATURES`, a logistic regression fitted on the development
    sets (``python benchmarks/option_roles_fit.py``)."""
    pair_margin: float = 2.6
    """The rule options are named when one assignment's weighted evidence beats the other's by this much."""
    overlap_cap: float = 0.2
    """Rule pair: the most an overlap feature (:data:`OVERLAP_FEATURES`) counts either way. A terse option that
    shares one rare character with a rule (「把狗寄养在宠物店」 and 「养了宠物就要对它负责到底」) gets a cosine as
    large as a sentence that repeats the rule; capped, a shared word is evidence but not a verdict."""


PAIR_FEATURES = ("char", "bigram", "lexicon", "polarity", "scene_hop", "distinct_chars", "distinct_lexicon",
                 "stance")
"""The evidence the rule-pair decision weighs, per option and rule: character overlap, shared bigrams, lexicon
words, polarity, the scene's clauses (as for the distractor), what the option says that the other rule
option does not, against what the rule says that the other rule does not (its characters, its lexicon), and
whether the option takes the rule's stance (on the axes of ``schemas/stance_lexicon.json``)."""

OVERLAP_FEATURES = ("char", "bigram", "distinct_chars", "distinct_lexicon")
"""The pair features that measure shared characters (cosines and shares), capped by ``Weights.overlap_cap``."""

WEIGHTS = Weights()


@lru_cache(maxsize=1)
def value_lexicon() -> dict[str, tuple[str, ...]]:
    """Derived value → words that signal it (the value's own name first)."""
    with open(schemas_dir() / "value_lexicon.json", encoding="utf-8") as fh:
        words = json.load(fh)["derived_values"]
    return {value: tuple(dict.fromkeys([value, *listed])) for value, listed in words.items()}


@lru_cache(maxsize=1)
def stance_patterns() -> dict[str, list[tuple[str, str]]]:
    """For rules and for options, per axis of ``schemas/stance_lexicon.json``, a regex of each of its two poles."""
    with open(schemas_dir() / "stance_lexicon.json", encoding="utf-8") as fh:
        axes = json.load(fh)["axes"]
    return {kind: [tuple("|".join(map(re.escape, words)) for words in axis[kind]) for axis in axes.values()]
            for kind in ("rule", "option")}


def _chars(text: str) -> frozenset[str]:
    """The distinct CJK characters of a text, without :data:`_STOP`."""
    return frozenset(c for c in set(text) if ("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff")
                     and c not in _STOP)


class Idf:
    """Inverse document frequency of each character over a corpus of texts (scenes and options)."""

    def __init__(self, texts: Sequence[str]) -> None:
        documents = max(1, len(texts))
        self.unseen = math.log((documents + 1) / 0.5)
        self.weights = {char: math.log((documents + 1) / (n + 0.5))
                        for char, n in _document_frequency(texts).items()}

    def __call__(self, char: str) -> float:
        return self.weights.get(char, self.unseen)


def _document_frequency(texts: Sequence[str]) -> dict[str, int]:
    """How many texts hold each character, counted in numpy (a full corpus has over a million texts)."""
    joined = "".join(texts)
    if not joined:
        return {}
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32).astype(np.uint64)
    owner = np.repeat(np.arange(len(texts), dtype=np.uint64), [len(t) for t in texts])
    keys = np.sort((owner << np.uint64(21)) | points)  # sorted, not np.unique: it hashes, slower here
    chars = np.sort(keys[np.concatenate(([True], keys[1:] != keys[:-1]))] & np.uint64(0x1FFFFF))
    starts = np.flatnonzero(np.concatenate(([True], chars[1:] != chars[:-1])))
    counts = np.diff(np.append(starts, len(chars)))
    return {chr(int(c)): int(n) for c, n in zip(chars[starts].tolist(), counts.tolist(), strict=True)}


@dataclass(frozen=True)
class _Rule:
    chars: frozenset[str]
    words: tuple[str, ...]
    forbids: bool


@lru_cache(maxsize=65536)
def _rule(text: str, values: tuple[str, ...]) -> _Rule:
    """A rule's evidence, once per rule (every scene of a pair quotes the same two)."""
    lexicon = value_lexicon()
    words = tuple(dict.fromkeys(w for v in values for w in lexicon.get(v, (v,))))
    return _Rule(_chars(text), words, _PROHIBITION.search(text) is not None)


CALIBRATION: dict[str, tuple[tuple[float, float], ...]] = {
    "distractor": ((0.0, 0.6889), (0.2, 0.8378), (0.35, 0.9847), (0.7, 0.9866), (1.0, 0.9945), (1.5, 0.9945)),
    "pair": ((0.0, 0.6561), (1.0, 0.7557), (2.0, 0.8795), (2.6, 0.9697), (3.0, 0.9697), (4.0, 0.984), (6.0, 0.984)),
}
"""Per decision: ``(lowest margin of a bin, precision of the decisions in that bin on the development sets)``,
ascending; for the pair, at the margins of models fitted without the decision's rule pair (cross-validated).
Precision is smoothed (``(right + 1) / (n + 2)``: a few hundred dilemmas cannot show 100%) and made
non-decreasing (pool adjacent violators); written by ``python benchmarks/option_roles_sets.py --calibrate``,
which also chooses the thresholds (:class:`Weights`): per decision, the smallest margin whose letters are right
on the development sets with a one-sided 95% lower bound of at least 98%."""


def calibrated(decision: str, margin: float) -> float:
    """The precision the development set showed for decisions of this kind at this margin."""
    confidence = 0.0
    for lowest, precision in CALIBRATION[decision]:
        if margin >= lowest:
            confidence = precision
    return round(confidence, 4)
