"""Keeping tokens out of what a publish prints, logs or raises.

Tokens come from ``token=`` or the usual ``huggingface_hub`` sources (``HF_TOKEN``, the
stored login); every message built from a Hub or child-process error passes through
:func:`redact` first.
"""

from __future__ import annotations


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every non-empty secret replaced by ``hf_***``."""
    for secret in filter(None, secrets):
        text = text.replace(secret, "hf_***")
    return text


def stored_token() -> str | None:
    """The token ``huggingface_hub`` would use, only to redact it from messages."""
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # noqa: BLE001 - redaction must never break a publish
        return None
