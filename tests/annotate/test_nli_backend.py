"""The NLI backend: each option against each rule with a sequence-classification model, decided jointly and
never guessed; tiny BERT models built inside the test (no download).

A BERT whose encoder layers add nothing (their output projections zeroed) classifies a pair by its first token,
the premise's first character: what the model "answers" is set by the test through the word embeddings and the
classifier's weights. To give letters the model must read both the option and the rule, so one model is trained in
the test, for a few seconds, on the six pairs of one dilemma.
"""

import json

import pytest

from builders.annotate.local_nli import MIN_ENTAILMENT, decide, entailment_label

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from builders.annotate.local_nli import NliBackend  # noqa: E402
from builders.annotate.run import ARTIFACT, annotate_option_roles  # noqa: E402
from builders.build import collect  # noqa: E402
from tests.annotate.test_option_roles import SCENES, _open_tree  # noqa: E402
from tests.configs.test_dilemmas import HEADER, RULE_A, RULE_A_EN, RULE_B, RULE_B_EN, VALUES_A, VALUES_B  # noqa: E402
from tests.conftest import write_csv  # noqa: E402

LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


@pytest.mark.parametrize(("entailment", "decided"), [
    ([[0.9, 0.1], [0.0, 0.0], [0.2, 0.8]], ("A", "C")),  # A entails rule A, C rule B
    ([[0.2, 0.8], [0.0, 0.0], [0.9, 0.1]], ("C", "A")),
    ([[0.9, 0.3], [0.0, 0.0], [0.2, 0.4]], ("A", None)),  # C is the likelier for rule B, but not entailed
    ([[0.9, 0.9], [0.0, 0.0], [0.9, 0.9]], (None, None)),  # two options entail both rules alike: no orientation
    ([[0.3, 0.1], [0.0, 0.0], [0.1, 0.3]], (None, None)),  # nothing is entailed
])
def test_the_two_letters_are_decided_together_and_never_guessed(entailment, decided):
    assert decide(entailment) == decided


def test_a_model_without_an_entailment_label_is_refused_with_what_it_has():
    assert entailment_label({0: "CONTRADICTION", 1: "neutral", 2: "ENTAILMENT"}) == 2
    with pytest.raises(RuntimeError, match="not an NLI model.*positive"):
        entailment_label({0: "negative", 1: "positive"})


def _tiny_nli(path, entailed_first_chars: str) -> str:
    """A BERT NLI model that says "entailment" exactly for premises whose first character is one of
    ``entailed_first_chars`` (any hypothesis), and "neutral" for any other."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    chars = sorted(set("".join(SCENES) + "去做那件事情你看了天气预报" + entailed_first_chars))
    vocab = {"[UNK]": 0, "[PAD]": 1, **{c: 2 + i for i, c in enumerate(chars)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]") \
        .save_pretrained(path)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, num_labels=3, id2label=LABELS,
                                     label2id={v: k for k, v in LABELS.items()})
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for norm in (m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)):
            norm.weight.fill_(1.0)
        entailed = torch.tensor([1.0, -1.0] + [0.0] * 6)
        for c, i in vocab.items():
            model.bert.embeddings.word_embeddings.weight[i] = entailed if c in entailed_first_chars else -entailed
        model.bert.pooler.dense.weight.copy_(torch.eye(8))
        model.classifier.weight[0, :2] = torch.tensor([6.0, -6.0])  # entailment when the first char says so
    model.save_pretrained(path)
    return str(path)


def _scored(raw):
    return [r for r in collect(raw).tables["dilemmas"].to_pylist() if r["scene"][0] in SCENES]


def test_an_nli_model_that_entails_both_rules_alike_gives_no_role(raw_tree, tmp_path):
    """Options A and C (「去做那件事」「去做那件事情」) open with the same character, so the model entails both rules
    from both: it cannot say which follows which, the reply says so, and the build keeps the text's roles."""
    raw = _open_tree(raw_tree)
    backend = NliBackend(_tiny_nli(tmp_path / "nli", "去"))
    counts = annotate_option_roles(raw, backend)
    assert counts["unknown"] == len(SCENES) and counts["ok"] == 0
    line = json.loads((raw / ARTIFACT).read_text(encoding="utf-8").splitlines()[0])
    assert line["backend"] == "transformers-nli" and line["prompt_version"] == "option-roles-nli-v1"
    reply = json.loads(line["reply"])
    assert reply["rule_a"] is None and reply["rule_b"] is None
    assert all(p > MIN_ENTAILMENT for letter in "AC" for p in reply["entailment"][letter])
    assert all(p < MIN_ENTAILMENT for p in reply["entailment"]["B"])  # 「你看了看天气预报」 entails nothing
    assert {r["mapping_source"] for r in _scored(raw)} == {"recovered"}


def test_the_command_line_picks_the_nli_backend_for_a_sequence_classification_model(raw_tree, tmp_path, capsys):
    from builders.cli import main

    raw = _open_tree(raw_tree)
    assert main(["annotate", "option-roles", "--raw", str(raw), "--model", _tiny_nli(tmp_path / "nli", "")]) == 0
    assert f"unknown={len(SCENES)}" in capsys.readouterr().out  # nothing is entailed: no letter given
    lines = [json.loads(line) for line in (raw / ARTIFACT).read_text(encoding="utf-8").splitlines()]
    assert {line["backend"] for line in lines} == {"transformers-nli"}
    assert all(p < MIN_ENTAILMENT for line in lines for ps in json.loads(line["reply"])["entailment"].values()
               for p in ps)


TWO_ERRANDS = ("去做那件事", "你看了看天气预报", "去办这件事")
"""Options the text cannot orient (neither shares a word with either rule) but a reader of both sides can."""


def _trained_nli(path) -> str:
    """A BERT NLI model trained, in the test, to entail rule A from 「去做那件事」 and rule B from 「去办这件事」 and
    nothing else: a [CLS] premise [SEP] hypothesis [SEP] cross-encoder like the real ones."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    pairs = [(option, rule) for option in TWO_ERRANDS for rule in (RULE_A, RULE_B)]
    labels = torch.tensor([0 if pair in {(TWO_ERRANDS[0], RULE_A), (TWO_ERRANDS[2], RULE_B)} else 1 for pair in pairs])
    chars = sorted(set("".join(TWO_ERRANDS) + RULE_A + RULE_B))
    vocab = {"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, **{c: 4 + i for i, c in enumerate(chars)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]")
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, num_labels=3, id2label=LABELS,
                                     label2id={v: k for k, v in LABELS.items()}, hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    batch = fast([p for p, _ in pairs], [h for _, h in pairs], padding=True, return_tensors="pt")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        loss = model(**batch, labels=labels).loss
        if loss.item() < 0.01:
            break
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.01, "the tiny model did not learn its six pairs"
    fast.save_pretrained(path)
    model.save_pretrained(path)
    return str(path)


def test_an_nli_model_that_reads_option_and_rule_gives_the_letters_the_build_publishes(raw_tree, tmp_path):
    options = "A：{} B：{} C：{}".format(*TWO_ERRANDS)
    write_csv(raw_tree / "moral_dilemma/dataset/2_dilemma/2_processed/errands.csv", HEADER,
              [[0, scene, options, RULE_A, RULE_B, RULE_A_EN, *VALUES_A, RULE_B_EN, *VALUES_B]
               for scene in SCENES.values()])
    before = _scored(raw_tree)
    assert [[o["follows"] for o in r["options"]] for r in before] == [[None, "distractor", None]] * len(SCENES)

    model = _trained_nli(tmp_path / "nli")
    counts = annotate_option_roles(raw_tree, NliBackend(model))
    assert counts["ok"] == len(SCENES) and counts["unknown"] == 0
    reply = json.loads(json.loads((raw_tree / ARTIFACT).read_text(encoding="utf-8").splitlines()[0])["reply"])
    assert (reply["rule_a"], reply["rule_b"]) == ("A", "C")
    assert reply["entailment"]["A"][0] > MIN_ENTAILMENT > reply["entailment"]["A"][1]

    after = _scored(raw_tree)
    assert [[o["follows"] for o in r["options"]] for r in after] == [["rule_a", "distractor", "rule_b"]] * len(SCENES)
    assert {(r["mapping_source"], r["mapping_model"]) for r in after} == {("model", model)}
