"""Retrying a publish through Hub faults, and turning HTTP errors into :class:`PublishError`.

429, 5xx, timeouts and dropped connections are retried with exponential backoff (or the
server's Retry-After); 412 means someone else moved the branch and is never retried; any
other failure, or the last attempt's, becomes a :class:`PublishError` whose message says the
commit is atomic and how to resume, with every token redacted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from huggingface_hub.errors import HfHubHTTPError

from builders.hub.errors import ConcurrentUpdateError, PublishError
from builders.hub.redaction import redact

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = frozenset(
    {
        "TransportError",
        "NetworkError",
        "RemoteProtocolError",
        "TimeoutException",
        "ConnectionError",
        "ChunkedEncodingError",
        "Timeout",
    }
)
"""Class names (httpx, httpx2, requests, builtins) of a dropped or timed-out connection."""
_MAX_WAIT = 60.0
_T = TypeVar("_T")


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None) if isinstance(err, HfHubHTTPError) else None
    return getattr(response, "status_code", None)


def _is_transient(err: BaseException) -> bool:
    """429, 5xx, timeouts and dropped connections are worth another attempt; 412 is not."""
    if isinstance(err, HfHubHTTPError):
        return _status(err) in _RETRY_STATUS
    return bool({cls.__name__ for cls in type(err).__mro__} & _NETWORK_ERRORS)


def _retry_after(err: BaseException) -> float:
    response = getattr(err, "response", None)
    value = str(getattr(response, "headers", {}).get("Retry-After", "")).strip()
    return float(value) if value.isdigit() else 0.0


def _describe(err: BaseException, secrets: list[str]) -> str:
    status = _status(err)
    text = " ".join(str(err).split()) or type(err).__name__
    hint = (
        " Check the token (HF_TOKEN or `hf auth login`) and its write access."
        if status in (401, 403)
        else ""
    )
    return redact(f"{type(err).__name__}: {text}.{hint}", secrets)


def with_retries(
    step: Callable[[], _T],
    *,
    repo_id: str,
    tag: str,
    attempts: int,
    backoff: float,
    secrets: list[str],
) -> _T:
    """Run ``step`` up to ``attempts`` times, waiting ``backoff * 2**n`` (or Retry-After) between.

    Each attempt re-reads the Hub and re-plans, so a commit that landed before a failure is
    not made twice. 412 is never retried: someone else changed the branch, and a silent
    re-plan would overwrite what they did.
    """
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except PublishError:
            raise
        except Exception as err:  # noqa: BLE001 - classified right below, re-raised as PublishError
            if _status(err) == 412:
                raise ConcurrentUpdateError(
                    f"{repo_id} changed after the release was planned (HTTP 412: the parent commit "
                    f"is no longer the head of main); nothing was committed and {tag} was not "
                    "tagged. Check what changed, then run the same command again to re-plan "
                    "against the new head."
                ) from None
            if not _is_transient(err) or attempt == attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise PublishError(
                    f"publishing {repo_id} {tag} failed{tries} ({_describe(err, secrets)}) The "
                    "commit is atomic, so main holds either the previous state or the whole "
                    f"release, and {tag} was not tagged. Fix the cause if there is one and run the "
                    "same command again: it uploads only what is missing and tags the release."
                ) from None
            wait = min(_MAX_WAIT, max(backoff * 2 ** (attempt - 1), _retry_after(err)))
            logger.warning(
                "publish %s %s: %s; retrying in %.1fs (attempt %d of %d)",
                repo_id,
                tag,
                _describe(err, secrets),
                wait,
                attempt + 1,
                attempts,
            )
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
