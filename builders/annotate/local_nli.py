"""Ask a local NLI model (a sequence-classification model with an entailment label) which option follows which rule.

An NLI cross-encoder is a far cheaper reader than an instruct LM: six short premise–hypothesis pairs per item,
one forward pass, no generation. Each option is the premise and each rule the hypothesis. The entailment
probabilities decide jointly: two different letters, and only if that pair beats the same letters swapped. A rule
gets a letter only where its option is entailed with probability :data:`MIN_ENTAILMENT` or more, so a model that
sees no entailment, or the same for both rules, answers null, never a guess. The reply is the same JSON object
the instruct backends are asked for, with the probabilities beside it, so the artifact and the build read it the
same way.

Needs the ``models`` extra (``pip install -e ".[models]"``, torch installed first).
"""

from __future__ import annotations

import json
from itertools import permutations

from builders.annotate.local import import_models
from builders.annotate.prompt import LETTERS, Item

NLI_VERSION = "option-roles-nli-v1"
"""What the model is asked: premise = one option's text, hypothesis = one rule's text."""
MIN_ENTAILMENT = 0.5
"""The entailment probability below which a rule's option is left unknown."""
MIN_MARGIN = 0.1
"""How much the chosen pair's entailment (summed over both rules) must beat the same two letters swapped: below
it, the model cannot tell which of the two options follows which rule, and both are left unknown."""


def entailment_label(id2label: dict) -> int:
    """The index of the one label whose name says entailment; an error that says what was found otherwise."""
    found = [int(i) for i, name in id2label.items() if "entail" in str(name).lower()]
    if len(found) != 1:
        raise RuntimeError(f"not an NLI model: its labels are {sorted(id2label.values())}, and exactly one must "
                           "name entailment; pass an NLI model, or an instruct model for the chat prompt")
    return found[0]


def decide(entailment: list[list[float]]) -> tuple[str | None, str | None]:
    """From ``entailment[option][rule]`` (options A–C, rules A and B): the two different letters whose entailment
    of their rules is largest together, if it beats the same letters swapped by :data:`MIN_MARGIN`; each kept
    only where its own entailment is :data:`MIN_ENTAILMENT` or more."""
    def joint(pair: tuple[int, int]) -> float:
        return entailment[pair[0]][0] + entailment[pair[1]][1]

    a, b = max(permutations(range(3), 2), key=joint)
    if joint((a, b)) - joint((b, a)) < MIN_MARGIN:
        return None, None
    return (LETTERS[a] if entailment[a][0] >= MIN_ENTAILMENT else None,
            LETTERS[b] if entailment[b][1] >= MIN_ENTAILMENT else None)


class NliBackend:
    """Every option against both rules in one batch, on the CPU or wherever torch puts the model."""

    backend = "transformers-nli"
    prompt_version = NLI_VERSION

    def __init__(self, model: str) -> None:
        self._torch, transformers = import_models()
        self.model = model
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        self.classifier = transformers.AutoModelForSequenceClassification.from_pretrained(model)
        self.classifier.eval()
        self.entailment = entailment_label(self.classifier.config.id2label)

    def ask(self, item: Item) -> str:
        """The reply: ``{"rule_a": …, "rule_b": …, "entailment": {"A": [p(rule A), p(rule B)], …}}``."""
        premises = [option for option in item.options for _ in range(2)]
        hypotheses = [item.rule_a, item.rule_b] * 3
        batch = self.tokenizer(premises, hypotheses, padding=True, truncation=True, return_tensors="pt")
        with self._torch.no_grad():
            probabilities = self.classifier(**batch).logits.softmax(dim=-1)[:, self.entailment]
        entailment = [[round(float(p), 4) for p in probabilities[2 * k:2 * k + 2]] for k in range(3)]
        rule_a, rule_b = decide(entailment)
        return json.dumps({"rule_a": rule_a, "rule_b": rule_b,
                           "entailment": dict(zip(LETTERS, entailment, strict=True))}, ensure_ascii=False)
