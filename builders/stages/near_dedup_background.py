"""Near-duplicate clusters found in a second process while the build goes on."""

from __future__ import annotations

from collections.abc import Sequence

from builders.stages.fresh_process import FreshProcessCall
from builders.stages.near_dedup import find_clusters


class BackgroundClusters:
    """:func:`find_clusters` in a worker process, so the build goes on while it runs (same result).

    For a second core that would otherwise sit idle: the caller only waits when it asks for
    the :meth:`result`. If the worker dies (out of memory, say), the clusters are found in
    this process instead. It pays: a full-size build of every config took 0.85 of the wall
    time of the same build finding the clusters in this process (median of four alternated
    pairs, 2026-12-05; benchmarks/README.md).
    """

    def __init__(self, texts: Sequence[str], **kwargs) -> None:
        self._texts, self._kwargs = list(texts), kwargs
        self._worker = FreshProcessCall(find_clusters, self._texts, **kwargs)

    def result(self) -> list[int]:
        try:
            return self._worker.result()
        except Exception:  # noqa: BLE001 - a real error in find_clusters is raised again here
            return find_clusters(self._texts, **self._kwargs)
