"""Ask an OpenAI-compatible chat endpoint (TGI, vLLM, a hosted gateway) through ``huggingface_hub``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from builders.annotate.prompt import PROMPT_VERSION, Item, messages

try:  # the HTTP library huggingface_hub is built on
    from httpx2 import TransportError
except ImportError:  # pragma: no cover - older huggingface_hub releases
    from httpx import TransportError

RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})


class GiveUp(RuntimeError):
    """An item the endpoint did not answer after every retry (it is not recorded; a rerun asks again)."""


def _retry_after(error: HfHubHTTPError) -> float | None:
    value = error.response.headers.get("Retry-After") if error.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class EndpointBackend:
    """Chat completions at temperature 0, with retries and exponential backoff on 429, 5xx and timeouts."""

    backend = "endpoint"
    prompt_version = PROMPT_VERSION

    def __init__(self, base_url: str, model: str, *, token: str | None = None, timeout: float = 60.0,
                 attempts: int = 5, backoff: float = 1.0, max_tokens: int = 64,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.model, self.attempts, self.backoff, self.max_tokens, self._sleep = (
            model, attempts, backoff, max_tokens, sleep)
        self.client = InferenceClient(base_url=base_url, api_key=token, timeout=timeout)

    def ask(self, item: Item) -> str:
        """The raw reply to one item; :class:`GiveUp` after the last retry."""
        last = ""
        for attempt in range(self.attempts):
            try:
                out = self.client.chat_completion(messages(item), model=self.model, temperature=0.0,
                                                  max_tokens=self.max_tokens, seed=0)
                return out.choices[0].message.content or ""
            except InferenceTimeoutError:
                wait, last = None, "timed out"
            except HfHubHTTPError as error:
                status = error.response.status_code if error.response is not None else None
                if status not in RETRIED_STATUS:
                    raise GiveUp(f"HTTP {status} (not retried)") from None
                wait, last = _retry_after(error), f"HTTP {status}"
            except (TransportError, ConnectionError) as error:
                wait, last = None, type(error).__name__
            if attempt + 1 < self.attempts:
                jittered = self.backoff * 2 ** attempt * random.uniform(1, 1.5)
                self._sleep(wait if wait is not None else min(30.0, jittered))
        raise GiveUp(f"no answer after {self.attempts} attempts ({last})")
