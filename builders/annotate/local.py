"""Ask a local instruct causal LM (a path or a Hub id) with its chat template and the same prompt.

Needs the ``models`` extra (``pip install -e ".[models]"``, torch installed first); torch and
transformers are imported only when this backend is built.
"""

from __future__ import annotations

from types import ModuleType

from builders.annotate.prompt import PROMPT_VERSION, Item, messages


def import_models() -> tuple[ModuleType, ModuleType]:
    """torch and transformers, or an error that says how to install them (the ``models`` extra)."""
    try:
        import torch
        import transformers
    except ImportError as err:  # pragma: no cover - depends on the install
        raise RuntimeError('the transformers backend needs the models extra: pip install -e ".[models]" '
                           "(install torch first)") from err
    return torch, transformers


class TransformersBackend:
    """Greedy decoding (the local counterpart of temperature 0), one item at a time."""

    backend = "transformers"
    prompt_version = PROMPT_VERSION

    def __init__(self, model: str, *, max_new_tokens: int = 48) -> None:
        self._torch, transformers = import_models()
        self.model = model
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        self.lm = transformers.AutoModelForCausalLM.from_pretrained(model)
        self.lm.eval()
        self.max_new_tokens = max_new_tokens

    def ask(self, item: Item) -> str:
        """The raw reply (the generated text after the prompt)."""
        prompt = self.tokenizer.apply_chat_template(messages(item), add_generation_prompt=True, return_tensors="pt",
                                                    return_dict=True)
        with self._torch.no_grad():
            out = self.lm.generate(**prompt, max_new_tokens=self.max_new_tokens, do_sample=False,
                                   pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        new = out[0, prompt["input_ids"].shape[1]:]
        return self.tokenizer.decode(new, skip_special_tokens=True)
