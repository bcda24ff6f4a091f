"""The transformers backend with tiny models built inside the test (no download).

A Llama model whose final norm is zeroed gives every token the same logit, so greedy decoding
always picks token 0: what the model "answers" is whatever the test puts at id 0 of the vocabulary.
"""

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from builders.annotate.local import TransformersBackend  # noqa: E402
from builders.annotate.run import ARTIFACT, annotate_option_roles  # noqa: E402
from builders.build import collect  # noqa: E402
from tests.annotate.test_option_roles import SCENES, _open_tree  # noqa: E402


def _tiny_model(path, first_token: str):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {first_token: 0, "<unk>": 1, "<s>": 2, "</s>": 3, "<pad>": 4, **{c: 5 + i for i, c in enumerate("ABC：")}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>",
                                                eos_token="</s>", pad_token="<pad>")
    fast.chat_template = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }}\n{% endfor %}assistant "
    fast.save_pretrained(path)
    config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                                      bos_token_id=2, eos_token_id=3, pad_token_id=4, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    model.save_pretrained(path)
    return str(path)


def test_a_local_model_answers_and_the_build_uses_its_roles(raw_tree, tmp_path):
    raw = _open_tree(raw_tree)
    model = _tiny_model(tmp_path / "tiny", '{"rule_a":"C","rule_b":"A"}')
    backend = TransformersBackend(model, max_new_tokens=3)
    counts = annotate_option_roles(raw, backend)
    assert counts["ok"] == len(SCENES)
    line = json.loads((raw / ARTIFACT).read_text(encoding="utf-8").splitlines()[0])
    assert line["backend"] == "transformers" and line["model"] == model and line["reply"].startswith('{"rule_a"')
    rows = [r for r in collect(raw).tables["dilemmas"].to_pylist() if r["scene"][0] in SCENES]
    assert {r["mapping_source"] for r in rows} == {"model"}
    assert all([o["follows"] for o in r["options"]] == ["rule_b", "distractor", "rule_a"] for r in rows)


def test_a_local_model_that_answers_nonsense_is_recorded_as_unknown(raw_tree, tmp_path):
    raw = _open_tree(raw_tree)
    backend = TransformersBackend(_tiny_model(tmp_path / "tiny", "随便"), max_new_tokens=3)
    counts = annotate_option_roles(raw, backend)
    assert counts["unknown"] == len(SCENES) and counts["ok"] == 0
    rows = [r for r in collect(raw).tables["dilemmas"].to_pylist() if r["scene"][0] in SCENES]
    assert {r["mapping_source"] for r in rows} == {"recovered"}
