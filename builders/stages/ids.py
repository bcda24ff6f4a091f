"""Stable, content-derived ids.

An id hashes the normalized text that identifies a row (for a rule: its original Chinese
text, before any rewrite), so it does not depend on row order, file names or later edits.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.fresh_process import FreshProcessCall
from builders.stages.id_digests import digests
from builders.stages.normalizers.text import string_offsets


def stable_id(prefix: str, *parts: str) -> str:
    """``{prefix}-`` + 16 hex digits of SHA-256 over the parts (NUL-separated)."""
    digest = hashlib.sha256("\x00".join((prefix, *parts)).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"


def stable_ids(prefix: str, keys: Iterable[str]) -> list[str]:
    """:func:`stable_id` of each single-part key: the prefix is hashed once, for a quarter of a million ids."""
    base, head = hashlib.sha256(f"{prefix}\x00".encode()), f"{prefix}-"
    ids = []
    for key in keys:
        digest = base.copy()
        digest.update(key.encode("utf-8"))
        ids.append(head + digest.hexdigest()[:16])
    return ids


def stable_ids_under(prefix: str, heads: Sequence[tuple[str, ...]], head_of: Iterable[int],
                     keys: Iterable[str]) -> list[str]:
    """:func:`stable_id` ``(prefix, *heads[h], key)`` of each ``h`` of ``head_of`` and its key.

    Hundreds of thousands of dilemmas share a few tens of thousands of rule pairs: each
    pair's part of the hash is computed once.
    """
    bases = [hashlib.sha256("\x00".join((prefix, *head, "")).encode("utf-8")) for head in heads]
    head = f"{prefix}-"
    ids = []
    for h, key in zip(head_of, keys, strict=True):
        digest = bases[h].copy()
        digest.update(key.encode("utf-8"))
        ids.append(head + digest.hexdigest()[:16])
    return ids


def stable_ids_of_parts(prefix: str, rows: Iterable[tuple[str, ...]]) -> list[str]:
    """:func:`stable_id` of each tuple of one or more parts, the prefix hashed once (an id per model answer)."""
    return stable_ids(prefix, ("\x00".join(parts) for parts in rows))


class BackgroundIds:
    """:func:`stable_ids` of an Arrow column of keys, hashed by :func:`digests` in another Python
    process, on the other core.

    ``hashlib`` holds the GIL for inputs this short, so no thread can hash beside the build;
    that process imports only :mod:`builders.stages.id_digests` and starts in milliseconds.
    ``background=False``, or a process that cannot start or fails, hashes in this process
    when :meth:`result` is called: the ids are the same either way.

    It pays: a full-size rules-only build took 0.90 of the wall time of the same build hashing
    in this process (median of six alternated pairs, 2026-12-05; benchmarks/README.md).
    """

    def __init__(self, prefix: str, keys: pa.Array, *, background: bool = True,
                 interpreter: str | None = None) -> None:
        if keys.null_count:
            raise ValueError("keys must not be null")
        self._prefix, self._keys = prefix, keys
        self._ids: pa.Array | None = None
        self._numbers: np.ndarray | None = None
        self._reply: list[tuple[np.ndarray, np.ndarray] | None] = [None]
        """The digests found in the other process (8 bytes a row) and the ids' bytes spelled from them."""
        self._call: FreshProcessCall | None = None
        if background and len(keys):
            with contextlib.suppress(OSError):  # no interpreter to start: this process hashes the keys itself
                self._call = FreshProcessCall(digests, *self._request(), interpreter=interpreter)

    def _request(self) -> tuple[bytes, bytes, pickle.PickleBuffer | bytes]:
        """What :func:`digests` reads: the hashed head, the keys' boundaries and their UTF-8 data (not copied)."""
        keys = self._keys
        offsets = string_offsets(keys).astype(np.int64)
        data = keys.buffers()[2]
        data = pickle.PickleBuffer(memoryview(data)[offsets[0]:offsets[-1]]) if data is not None else b""
        return f"{self._prefix}\x00".encode(), (offsets - offsets[0]).tobytes(), data

    def _digests(self) -> np.ndarray | None:
        """The digests the other process found (8 bytes a row), or ``None`` if it could not."""
        if self._call is None:
            return None
        try:
            out = self._call.result()
        except Exception:  # noqa: BLE001 - whatever went wrong there, this process hashes the keys itself
            return None
        finally:
            self._call = None
        return np.frombuffer(out, np.uint8).reshape(-1, 8) if len(out) == 8 * len(self._keys) else None

    def __len__(self) -> int:
        return len(self._keys)

    def result(self) -> pa.Array:
        """The ids, one per key, as a string array."""
        if self._ids is None:
            n, width = len(self._keys), len(self._prefix) + 17
            found = self._digests()
            if found is not None:
                self._reply[0] = found, _spelled(f"{self._prefix}-".encode(), found)
                offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
                self._ids = pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(self._reply[0][1])])
            else:
                self._ids = pa.array(stable_ids(self._prefix, self._keys.to_pylist()), pa.string())
        return self._ids

    def numbers(self) -> np.ndarray:
        """:func:`id_numbers` of :meth:`result`, read off the digests instead of the hex digits
        (made once: grouping the keys and sorting the ids both ask)."""
        if self._numbers is None:
            ids = self.result()
            numbers = _digest_numbers(self._reply[0][0]) if self._reply[0] is not None else id_numbers(ids)
            if numbers is None:  # every id here is a prefix and 16 hex digits
                raise AssertionError(f"ids of {self._prefix!r} that are not stable ids")
            self._numbers = numbers
        return self._numbers


_HEX_DIGIT = np.frombuffer(b"0123456789abcdef", np.uint8)


def _spelled(head: bytes, digests: np.ndarray) -> np.ndarray:
    """The ids' bytes, one row each: ``head`` and the hex digits of the digest's bytes (a row each)."""
    cells = np.empty((len(digests), len(head) + 2 * digests.shape[1]), np.uint8)
    cells[:, :len(head)] = np.frombuffer(head, np.uint8)
    cells[:, len(head)::2] = _HEX_DIGIT[digests >> 4]
    cells[:, len(head) + 1::2] = _HEX_DIGIT[digests & 15]
    return cells


_HEX_VALUE = np.full(256, 16, np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def id_numbers(ids: pa.Array) -> np.ndarray | None:
    """The integers the 16 hex digits of :func:`stable_id` s of one prefix spell (``uint64``, in the ids'
    order), or ``None`` when ``ids`` are not all such ids. Equal numbers are equal ids."""
    n = len(ids)
    if not n or ids.null_count or not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        return None
    offsets = string_offsets(ids)
    width = int(offsets[1] - offsets[0])
    if width < 17 or int(offsets[-1] - offsets[0]) != n * width or (np.diff(offsets) != width).any():
        return None
    cells = np.frombuffer(ids.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    digits = _HEX_VALUE[cells[:, width - 16:]]
    if (cells[:, :width - 16] != cells[0, :width - 16]).any() or (digits > 15).any():
        return None
    return _digest_numbers((digits[:, 0::2] << 4) | digits[:, 1::2])


def _digest_numbers(digests: np.ndarray) -> np.ndarray:
    """The integers that rows of 8 digest bytes spell, most significant first, as their hex digits do."""
    return np.ascontiguousarray(digests, np.uint8).view(">u8").ravel().astype(np.uint64)


def sort_indices(ids: pa.Array) -> np.ndarray:
    """``pyarrow.compute.sort_indices`` of a column of ids, a few times faster when they are
    :func:`stable_id` s of one prefix: those sort as the integers their 16 hex digits spell."""
    number = id_numbers(ids)
    if number is None:
        return pc.sort_indices(ids).to_numpy()
    return number_order(number)


def number_order(number: np.ndarray) -> np.ndarray:
    """The order of ids by their :func:`id_numbers`: the order of the ids themselves."""
    order = np.argsort(number)  # four times faster than a stable sort, and the same order when the ids are distinct
    ordered = number[order]
    return np.argsort(number, kind="stable") if (ordered[1:] == ordered[:-1]).any() else order
