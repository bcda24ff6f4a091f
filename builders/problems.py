"""Problems found by ``cvc validate`` and ``cvc verify``, and the three forms they are printed in.

``text`` is for people; ``json`` is JSON Lines (one object per line: each problem, then one
summary) for CI artifacts and scripts; ``github`` is GitHub Actions workflow commands, so each
problem shows as an annotation on its file and line in a pull request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TextIO

FORMATS = ("text", "json", "github")
EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
"""Exit codes: valid, invalid input, usage or I/O error (argparse also exits 2 on bad usage)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a raw tree or a release, located as precisely as it is known.

    ``path`` is relative to the checked directory (empty for a whole config); a raw file gives
    its 1-based ``line``, a Parquet file the 0-based ``row`` in that file.
    """

    path: str
    reason: str
    line: int | None = None
    row: int | None = None
    config: str | None = None
    field: str | None = None
    severity: str = "error"

    def where(self) -> str:
        """``file:line``, ``file: row N``, ``file``, ``config NAME``, or nothing (the whole tree)."""
        if not self.path:
            return f"config {self.config}" if self.config else ""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        return f"{self.path}: row {self.row}" if self.row is not None else self.path

    def text(self) -> str:
        """The one-line form: where, field, reason."""
        return ": ".join(filter(None, [self.where(), self.field, self.reason]))

    def __str__(self) -> str:
        return self.text()


@dataclass
class Summary:
    """What was checked and how it ended; the last line of every form."""

    target: str
    kind: str
    """``raw`` (a raw tree) or ``release``."""
    ok: bool
    problems: int
    counts: dict[str, int] = field(default_factory=dict)
    """Rows per config of a release, or ``{"read": n}`` raw rows of a raw tree."""
    text: str = ""
    """The closing line of the text form."""


def _joined(root: str, path: str) -> str:
    """``path`` as seen from where the command ran (what an annotation or a script opens)."""
    if not path or root in ("", "."):
        return path
    return f"{root.rstrip('/')}/{path}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(problem: Problem, root: str) -> str:
    """``::error file=…,line=…,title=…::message``: a workflow command GitHub shows on that line."""
    props = []
    if problem.path:
        props.append(f"file={_escape_property(_joined(root, problem.path))}")
    if problem.line is not None:
        props.append(f"line={problem.line}")
    title = " ".join(filter(None, [f"cvc {problem.config}" if problem.config else "cvc", problem.field]))
    props.append(f"title={_escape_property(title)}")
    where = []
    if not problem.path and problem.config:
        where.append(f"config {problem.config}")
    elif problem.line is None and problem.row is not None:
        where.append(f"row {problem.row}")
    message = ": ".join(filter(None, [*where, problem.field, problem.reason]))
    level = "error" if problem.severity == "error" else "warning"
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def json_record(problem: Problem, root: str) -> dict:
    """A problem as one JSON object; ``path`` joined to the checked root."""
    record = {"type": "problem", **asdict(problem)}
    record["path"] = _joined(root, problem.path)
    return record


def report(problems: Iterable[Problem], summary: Summary, fmt: str, out: TextIO, *, root: str,
           max_problems: int | None = None, prefix: str = "invalid") -> None:
    """Print up to ``max_problems`` problems and the summary in ``fmt`` (one of :data:`FORMATS`)."""
    problems = list(problems)
    shown = problems if max_problems is None else problems[:max_problems]
    hidden = len(problems) - len(shown)
    for problem in shown:
        if fmt == "json":
            print(json.dumps(json_record(problem, root), ensure_ascii=False), file=out)
        elif fmt == "github":
            print(github_command(problem, root), file=out)
        else:
            print(f"{prefix}: {problem.text()}", file=out)
    if fmt == "json":
        record = {"type": "summary", "target": summary.target, "kind": summary.kind, "valid": summary.ok,
                  "problems": summary.problems, "shown": len(shown), "counts": summary.counts}
        print(json.dumps(record, ensure_ascii=False), file=out)
        return
    if hidden:
        print(f"… and {hidden:,} more (--max-problems {max_problems})", file=out)
    print(summary.text, file=out)
