"""``cvc annotate``: ask a model what the text of the corpus leaves open, and write its answers as raw artifacts.

The build never calls a model: it reads what this step wrote (``annotations/option_roles*.jsonl``),
so a release stays reproducible and hashable. Backends: an OpenAI-compatible endpoint through
``huggingface_hub.InferenceClient`` (:mod:`.endpoint`) and a local ``transformers`` model
(:mod:`.local`, behind the ``models`` extra; nothing here imports torch unless it is used).
"""
