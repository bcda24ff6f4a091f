"""Read the big files of later configs in a background process while earlier configs build.

The ``rules`` build keeps one core busy for a quarter of a minute; meanwhile a second
process reads the dilemma and answer files column-wise (and runs a config's own
preparation of them, such as splitting options) and leaves each result as an Arrow IPC
file. Taking a result maps that file: nothing is unpickled, so the build's main thread
does not wait on the worker for the GIL. A file the worker cannot read column-wise, or
fails on, is read again in the build as if there had been no prefetch, so errors and
their messages are the same.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from builders.stages.readers.layout import Artifact
from builders.stages.readers.records import ColumnTable, RawTable

Prepare = Callable[[pa.Table], pa.Table]
"""A config's work on a file's columns that needs nothing from earlier configs (adds columns). It
works row by row (the rows of a slice come out as the whole file's would), so the worker may
prepare a large file a slice at a time."""
SLICE_ROWS = 65_536
"""Rows the worker prepares and writes at a time: preparing the full dilemma file (404,000 rows) whole
held its intermediate columns all at once, 0.45 GB on top of the file's own."""


def read_prepared(artifact: Artifact, prepare: Prepare | None) -> ColumnTable | RawTable:
    """The artifact column-wise with ``prepare`` applied, or its records if it must be read row by row."""
    read = artifact.read_columns()
    if not isinstance(read, ColumnTable) or prepare is None:
        return read
    return ColumnTable(prepare(read.table), read.lines)


def _read_to_file(artifact: Artifact, prepare: Prepare | None, path: str, slice_rows: int = SLICE_ROWS) -> bool:
    """In the worker: :func:`read_prepared`, written to ``path`` (``False``: read it in the build).

    Arrow's allocator keeps what a file's columns freed for reuse; it is handed back to the system
    after each file, or the worker holds the largest file's columns (about 0.7 GB of the full
    dilemma file) while the rules build beside it reaches its own peak.
    """
    try:
        return _write_prepared(artifact, prepare, path, slice_rows)
    except Exception:  # noqa: BLE001 - the build reads the file again and reports the error itself
        return False
    finally:
        pa.default_memory_pool().release_unused()


def _write_prepared(artifact: Artifact, prepare: Prepare | None, path: str, slice_rows: int) -> bool:
    """:func:`read_prepared` written to ``path``, prepared ``slice_rows`` rows at a time (a slice whose
    columns come out of another type than the first's fails the write: the build reads the file)."""
    read = artifact.read_columns()
    if not isinstance(read, ColumnTable):
        return False
    np.save(path + ".lines.npy", read.lines)
    table, writer = read.table, None
    with pa.OSFile(path + ".arrow", "wb") as sink:
        for start in range(0, max(table.num_rows, 1), slice_rows):
            part = table.slice(start, slice_rows)
            part = prepare(part) if prepare else part
            if writer is None:
                writer = pa.ipc.new_file(sink, part.schema)
            writer.write_table(part)
            del part
            pa.default_memory_pool().release_unused()
        writer.close()
    return True


class Prefetch:
    """Artifacts being read in one background process, in the order they will be asked for."""

    def __init__(self, artifacts: list[tuple[Artifact, Prepare | None]], slice_rows: int = SLICE_ROWS) -> None:
        self._dir = tempfile.mkdtemp(prefix="cvc-prefetch-")
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._pending: dict[str, tuple[Future[bool], str]] = {}
        for n, (artifact, prepare) in enumerate(artifacts):
            path = str(Path(self._dir) / str(n))
            future = self._pool.submit(_read_to_file, artifact, prepare, path, slice_rows)
            self._pending[artifact.relpath] = (future, path)
        self._pool.shutdown(wait=False)

    def take(self, artifact: Artifact) -> ColumnTable | None:
        """The artifact as prefetched (waiting for it if need be), or ``None``: read it in the build."""
        pending = self._pending.pop(artifact.relpath, None)
        if pending is None:
            return None
        future, path = pending
        try:
            done = future.result()
        except Exception:  # noqa: BLE001 - e.g. the worker was killed: the build reads the file itself
            return None
        if not done:
            return None
        table = pa.ipc.open_file(pa.memory_map(path + ".arrow")).read_all()  # the table keeps the map open
        return ColumnTable(table, np.load(path + ".lines.npy"))

    def close(self) -> None:
        """Stop reading what nobody took and remove the files (a taken table keeps its mapping)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)
