"""Find each raw artifact in a raw tree by its place and its columns.

The default layout is the upstream repository's data folders (raw-formats §2): for
example ``data_control/final.csv`` or ``rule_generation/6_final/*.csv``. A file is given
the kind whose place it sits in and whose required columns it has. A tree laid out
differently carries a ``cvc-raw.yaml`` at its root listing ``{kind, path}`` entries under
``artifacts``; a ``cvc-raw.yaml`` without that list (one that only states the license, say)
keeps the default layout.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from builders.stages.readers.encoding import decode_bytes
from builders.stages.readers.records import (
    ColumnTable,
    RawTable,
    read_csv,
    read_csv_columns,
    read_gbk_csv_columns,
    read_header,
    read_table,
    read_utf8_csv_columns,
)

RAW_MANIFEST = "cvc-raw.yaml"


class LayoutError(ValueError):
    """A raw tree whose files cannot be matched to artifact kinds unambiguously."""


@dataclass(frozen=True)
class LabelSource:
    """Who labelled the rows of a kind: the ``label_origin`` they publish and their ``labeler``."""

    origin: str
    """``human`` or ``llm``."""
    labeler: str | None = None
    """The labeler's name; ``None``: the build's ``llm_labeler`` setting (upstream never recorded it)."""
    every_row: int | None = None
    """A label every row carries without a column for it (annotators kept the file's rules: 1)."""


@dataclass(frozen=True)
class ArtifactKind:
    """One kind of upstream file, declared once: where it lives, which columns identify it, and
    (for a config that reads its rows as observations) what each column means and how it is parsed."""

    name: str
    config: str
    patterns: tuple[str, ...]
    columns: tuple[str, ...] | Mapping[str, str]
    """The columns a file of this kind has; as a mapping, each raw column → the observation field it fills."""
    description: str
    optional: Mapping[str, str] = field(default_factory=dict)
    """Columns read when a file has them (raw column → field)."""
    parse: Mapping[str, Callable[[str], dict]] = field(default_factory=dict)
    """Per field, the function turning each distinct cell into fields (it raises ``ValueError`` for a bad cell)."""
    rank: int = 0
    """Which copy of a row wins: the lowest rank (the most curated kind)."""
    label: LabelSource | None = None
    """Who labelled its rows, when it carries labels."""
    source: str | Callable[[str], str] = "unknown"
    """The ``source`` its rows publish: a name, or a function of the file's path."""

    @property
    def required(self) -> tuple[str, ...]:
        """The raw columns a file of this kind must have."""
        return tuple(self.columns)

    def fields(self, present: list[str]) -> dict[str, str]:
        """Raw column → observation field, for a file with the ``present`` columns."""
        columns = dict(self.columns) if isinstance(self.columns, Mapping) else {}
        return {**columns, **{c: name for c, name in self.optional.items() if c in present}}

    def source_of(self, relpath: str) -> str:
        return self.source(relpath) if callable(self.source) else self.source

    def matches_place(self, relpath: str) -> bool:
        return any(fnmatch.fnmatchcase(relpath, pattern) for pattern in self.patterns)

    def __hash__(self) -> int:
        return hash((self.name, self.config, self.patterns))


@dataclass(frozen=True)
class Artifact:
    """A raw file matched to its kind."""

    kind: ArtifactKind
    path: Path
    relpath: str

    def read(self) -> RawTable:
        """Read the file and check it has the kind's columns."""
        return self._checked(read_table(self.path, self.relpath))

    def read_columns(self) -> ColumnTable | RawTable:
        """A CSV column-wise when its rows can be tied to their lines that way (see
        :func:`read_csv_columns`), else its records; either checked for the kind's columns."""
        if self.path.suffix.lower() == ".jsonl":
            return self.read()
        data = self.path.read_bytes()
        table = read_gbk_csv_columns(data) or read_utf8_csv_columns(data)
        if table is None:
            decoded = decode_bytes(data, self.path)
            table = read_csv_columns(decoded) or read_csv(self.path, self.relpath, decoded)
        return self._checked(table)

    def _checked(self, table: ColumnTable | RawTable) -> ColumnTable | RawTable:
        columns = table.table.column_names if isinstance(table, ColumnTable) else table.columns
        missing = [c for c in self.kind.required if c not in columns]
        if missing:
            raise LayoutError(
                f"{self.relpath}: a {self.kind.name} file needs columns {list(self.kind.required)}; "
                f"missing {missing} (found {columns})"
            )
        return table


def _listed_artifacts(raw_dir: Path) -> list | None:
    """The ``artifacts`` entries of the tree's ``cvc-raw.yaml``; ``None`` without a list (a manifest that
    only states the license keeps the default layout)."""
    if not (raw_dir / RAW_MANIFEST).exists():
        return None
    with open(raw_dir / RAW_MANIFEST, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh) or {}
    return spec.get("artifacts") if isinstance(spec, dict) else None


def _from_manifest(raw_dir: Path, kinds: dict[str, ArtifactKind], listed: list) -> list[Artifact]:
    artifacts = []
    for number, entry in enumerate(listed, start=1):
        kind = kinds.get(entry.get("kind"))
        if kind is None:
            raise LayoutError(
                f"{RAW_MANIFEST}: entry {number} names unknown kind {entry.get('kind')!r}; "
                f"known kinds: {sorted(kinds)}"
            )
        paths = sorted(raw_dir.glob(entry["path"]))
        if not paths:
            raise LayoutError(f"{RAW_MANIFEST}: entry {number}: no file matches {entry['path']!r}")
        artifacts += [Artifact(kind, p, p.relative_to(raw_dir).as_posix()) for p in paths]
    return artifacts


def discover(raw_dir: Path, kinds: list[ArtifactKind]) -> list[Artifact]:
    """Every artifact of the given kinds in ``raw_dir``, sorted by path."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LayoutError(f"{raw_dir}: not a directory; pass --raw a raw data tree")
    by_name = {kind.name: kind for kind in kinds}
    listed = _listed_artifacts(raw_dir)
    if listed is not None:
        return sorted(_from_manifest(raw_dir, by_name, listed), key=lambda a: a.relpath)
    artifacts = []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        relpath = path.relative_to(raw_dir).as_posix()
        placed = [kind for kind in kinds if kind.matches_place(relpath)]
        if not placed:
            continue
        columns = set(read_header(path, relpath)) if len(placed) > 1 else None
        fitting = [k for k in placed if columns is None or set(k.required) <= columns]
        if not fitting:
            wanted = "; ".join(f"{k.name}: {list(k.required)}" for k in placed)
            raise LayoutError(f"{relpath}: columns {sorted(columns or [])} fit no kind for this place ({wanted})")
        artifacts.append(Artifact(fitting[0], path, relpath))
    return artifacts
