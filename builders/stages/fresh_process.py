"""Call one function of this package in a fresh interpreter, beside the build.

``python -m builders.stages.fresh_process`` reads a pickled call (module, function name,
arguments) from its standard input, imports only that module, and writes the pickled result,
or the exception it raised, to its standard output.

Not ``multiprocessing``: ``spawn`` and ``forkserver`` re-run the parent's main module in the
child, and under the ``cvc`` script that is the whole builder (``datasets`` included), a
second of imports the call never uses; ``fork`` copies a process whose Arrow and Polars
thread pools are running.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
"""The directory holding the ``builders`` package: on the child's path, however this one was installed."""


class FreshProcessCall:
    """``function(*args, **kwargs)`` in a new interpreter, started now; :meth:`result` waits for it.

    The call is written in one go from a thread (``Popen.communicate`` feeds a pipe 4 KB per
    turn of a Python loop, thousands of turns that take the GIL from the build); large
    ``bytes`` and :class:`pickle.PickleBuffer` arguments go down the pipe without a copy.
    ``interpreter`` is the Python to run (default: this one).
    """

    def __init__(self, function: Callable, *args, interpreter: str | None = None, **kwargs) -> None:
        self._call = (function.__module__, function.__qualname__, args, kwargs)
        self._reply: bytes | None = None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))}
        self.process = subprocess.Popen([interpreter or sys.executable, "-m", __name__],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        weakref.finalize(self, self.process.kill)  # a result nobody asks for is not computed on after exit
        self._thread = threading.Thread(target=self._exchange, daemon=True)
        self._thread.start()

    def _exchange(self) -> None:
        try:
            with self.process.stdin:
                pickle.dump(self._call, self.process.stdin, protocol=5)
        except OSError:  # the child died before reading its call: said by result()
            pass
        self._call = None
        with self.process.stdout:
            self._reply = self.process.stdout.read()
        self.process.wait()

    def result(self) -> object:
        """The function's return value; its exception is raised here, a dead child is a ``ChildProcessError``."""
        self._thread.join()
        if self.process.returncode != 0 or not self._reply:
            raise ChildProcessError(f"{self.process.args[-1]} exited with status {self.process.returncode}")
        ok, value = pickle.loads(self._reply)
        if not ok:
            raise value
        return value


def _serve() -> None:
    """The child: one call in, its pickled ``(True, result)`` or ``(False, exception)`` out."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the reply
    module, name, args, kwargs = pickle.load(source)
    try:
        reply = (True, getattr(importlib.import_module(module), name)(*args, **kwargs))
    except BaseException as error:  # noqa: BLE001 - handed to the caller, which raises it
        reply = (False, error)
    pickle.dump(reply, sink, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    _serve()
