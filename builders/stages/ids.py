"""Stable, content-derived ids.

An id hashes the normalized text that identifies a row (for a rule: its original Chinese
text, before any rewrite), so it does not depend on row order, file names or later edits.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


_HASHER = """
import hashlib, sys
read, write = sys.stdin.buffer.read, sys.stdout.buffer.write
n, head = int.from_bytes(read(8), "little"), int.from_bytes(read(8), "little")
prefix = read(head)
copy = hashlib.sha256(prefix).copy
ends = memoryview(read(8 * (n + 1))).cast("q")
data = read()
for at in range(0, n, 8192):
    out = []
    append = out.append
    for start, end in zip(ends[at:at + 8192], ends[at + 1:at + 8193]):
        digest = copy()
        digest.update(data[start:end])
        append(digest.digest()[:8])
    write(b"".join(out))
"""
"""The helper's program: the first 8 bytes of the digest of each key it reads (count, hashed head, offsets,
UTF-8 data), written 8192 at a time; the ids' hex digits are spelled by numpy in this process. Each part
is read once and the offsets are not made a list: every page the helper touches is a new one the kernel
must zero (half as many as reading it all and slicing copies out)."""


class BackgroundIds:
    """:func:`stable_ids` of an Arrow column of keys, hashed by a helper Python process on another core.

    ``hashlib`` holds the GIL for inputs this short, so no thread can hash beside the build;
    the helper is a bare interpreter (it imports nothing of this package) and starts in
    milliseconds. ``background=False``, or a helper that cannot start or fails, hashes in
    this process when :meth:`result` is called: the ids are the same either way.
    """

    def __init__(self, prefix: str, keys: pa.Array, *, background: bool = True,
                 interpreter: str | None = None) -> None:
        if keys.null_count:
            raise ValueError("keys must not be null")
        self._prefix, self._keys = prefix, keys
        self._ids: pa.Array | None = None
        self._numbers: np.ndarray | None = None
        self._reply: list[tuple[np.ndarray, np.ndarray] | None] = [None]
        """The helper's digests (8 bytes a row) and the ids' bytes spelled from them."""
        self._thread: threading.Thread | None = None
        if background and len(keys):
            try:
                helper = subprocess.Popen([interpreter or sys.executable, "-I", "-S", "-c", _HASHER],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except OSError:
                return
            self._thread = threading.Thread(target=self._talk, args=(helper,), daemon=True)
            self._thread.start()

    def _request(self) -> list[bytes | memoryview]:
        """What the helper reads: the count of keys, the hashed head, the keys' offsets and their UTF-8 data."""
        keys = self._keys
        offsets = string_offsets(keys).astype(np.int64)
        data = keys.buffers()[2]
        data = memoryview(data)[offsets[0]:offsets[-1]] if data is not None else b""
        head = f"{self._prefix}\x00".encode()
        return [len(keys).to_bytes(8, "little"), len(head).to_bytes(8, "little"), head,
                (offsets - offsets[0]).astype("<i8").tobytes(), data]

    def _talk(self, helper: subprocess.Popen) -> None:
        # Not ``communicate``: it feeds the pipe 4 KB per turn of a Python loop, thousands of turns
        # that take the GIL from the build; one blocking write and one read take it twice. The helper
        # reads all its input before it answers, so the write cannot wait on the read.
        try:
            with helper.stdin:
                for part in self._request():
                    helper.stdin.write(part)
            with helper.stdout:
                out = helper.stdout.read()
            helper.wait()
        except OSError:
            helper.kill()
            helper.wait()
            return
        if helper.returncode == 0 and len(out) == 8 * len(self._keys):
            digests = np.frombuffer(out, np.uint8).reshape(-1, 8)
            self._reply[0] = digests, _spelled(f"{self._prefix}-".encode(), digests)

    def __len__(self) -> int:
        return len(self._keys)

    def result(self) -> pa.Array:
        """The ids, one per key, as a string array."""
        if self._ids is None:
            n, width = len(self._keys), len(self._prefix) + 17
            if self._thread is not None:
                self._thread.join()
            if self._reply[0] is not None:
                offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
                self._ids = pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(self._reply[0][1])])
            else:
                self._ids = pa.array(stable_ids(self._prefix, self._keys.to_pylist()), pa.string())
        return self._ids

    def numbers(self) -> np.ndarray:
        """:func:`id_numbers` of :meth:`result`, read off the helper's digests instead of the hex digits
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
