"""What every config builder gets: the raw artifacts, settings, the ledger, earlier results."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import NamedTuple, TypeVar

import pyarrow as pa
from tqdm.auto import tqdm

from builders.stages.ledger import Ledger, Outcomes
from builders.stages.near_dedup import NearDupSettings
from builders.stages.readers.layout import Artifact
from builders.stages.readers.prefetch import Prefetch, Prepare, read_prepared
from builders.stages.readers.records import ColumnTable, RawTable, Record
from builders.stages.rule_links import RuleIndex
from builders.taxonomy import Closure, Taxonomy, load_taxonomy

T = TypeVar("T")


class IntegrityError(ValueError):
    """Rows point at rules (or items) the release does not contain."""


class EnglishRule(NamedTuple):
    """An English row of a Chinese rule file that no Chinese rule translates."""

    file: str
    line: int
    field: str
    """Its text column, named when the row is rejected."""
    text: str
    source: str
    values: Closure | None
    """Its labels, normalized; ``None`` for a row that carries none (a label file's row)."""


@dataclass(frozen=True)
class BuildSettings:
    """Settings that change the output; all of them are recorded in the manifest."""

    version: str = "1.0.0"
    llm_labeler: str = "Qwen/Qwen2.5-72B-Instruct"
    """Upstream labelled with this model (raw-formats §2.4) but never recorded it per row."""
    shard_rows: int = 100_000
    """Rows per Parquet shard."""
    row_group_rows: int = 10_000
    """Rows per Parquet row group (smaller groups make the viewer and streaming snappier)."""
    allow_orphans: bool = False
    """Reject rows that point at a missing rule or item instead of failing the build."""
    near_dup: NearDupSettings = field(default_factory=NearDupSettings)
    """Near-duplicate detection of rules (after exact dedup)."""
    near_dup_en: NearDupSettings = field(default_factory=NearDupSettings)
    """Near-duplicate detection of English rules (``rules_en``): ``shingle`` counts words, not characters."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BuildContext:
    """State shared by the config builders of one build, in the order they run."""

    artifacts: list[Artifact]
    settings: BuildSettings = field(default_factory=BuildSettings)
    ledger: Ledger = field(default_factory=Ledger)
    taxonomy: Taxonomy = field(default_factory=load_taxonomy)
    results: dict[str, list[dict] | pa.Table] = field(default_factory=dict)
    """Each config's rows: dicts, or the Arrow table of a config built column-wise."""
    tables: dict[str, pa.Table] = field(default_factory=dict)
    """Arrow tables of ``results`` that a builder made itself (in the same row order), so the
    writer does not convert those rows again."""
    notes: dict[str, dict] = field(default_factory=dict)
    """Per-config statistics for the report and the card (counts of repairs, conflicts, …)."""
    repairs: list[dict] = field(default_factory=list)
    """Raw rows whose labels were changed by normalization (hierarchy closure, contradictions)."""
    rule_keys: Callable[[], tuple[list[str], list[str]]] | None = None
    """Lists the dedup keys of each published rule's original and published text, in row order (set by ``rules``)."""
    rule_aliases: dict[str, str] = field(default_factory=dict)
    """Dedup key of an original rule text folded into another rule after a rewrite → that rule's id."""
    num_proc: int = 1
    """Worker processes for the steps that parallelise; the output is the same for any value."""
    near_duplicates: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """Per config: the representative id of each near-duplicate cluster → the ids of its other members."""
    orphans: list[str] = field(default_factory=list)
    """``file:line: …`` of rows pointing at something missing, when orphans are not allowed."""
    english_rules: list[EnglishRule] = field(default_factory=list)
    """English rows of Chinese rule files that no Chinese rule translates: ``rules`` hands them to
    ``rules_en``, which publishes them and records their one outcome in ``rules``, where they were read."""

    option_annotations: object | None = None
    """Model answers of which option follows which rule (``OptionAnnotations``), read by ``dilemmas``
    and used by ``scenarios`` too."""
    prefetch: Prefetch | None = None
    """Files of later configs being read in a background process (``num_proc > 1``)."""
    _rule_index: RuleIndex | None = field(default=None, init=False, repr=False)
    _deferred: list[tuple[str, Callable[[], None]]] = field(default_factory=list, init=False, repr=False)

    def defer(self, config: str, step: Callable[[], None]) -> None:
        """Run ``step``, which changes ``config``'s table, once every config is built (work whose
        result no later config reads)."""
        self._deferred.append((config, step))

    def final(self, config: str) -> bool:
        """Whether ``config``'s table is built and no deferred step will change it."""
        return config in self.tables and all(changed != config for changed, _ in self._deferred)

    def finish(self) -> None:
        """Run the deferred steps, in the order they were deferred."""
        while self._deferred:
            self._deferred.pop(0)[1]()

    def rule_index(self) -> RuleIndex:
        """The published rules by text, shared by every config that quotes rules (after ``rules``)."""
        if self._rule_index is None:
            self._rule_index = RuleIndex(self.results["rules"], self.rule_aliases, self.rule_keys)
        return self._rule_index

    def of_kind(self, *kinds: str) -> list[Artifact]:
        """Artifacts of the given kinds, by path."""
        return [a for a in self.artifacts if a.kind.name in kinds]

    def records(self, config: str, *kinds: str) -> Iterator[tuple[Artifact, Record]]:
        """Every readable raw record of the given kinds, registered in the ledger as read.

        Lines that cannot be read (bad encoding, wrong field count, malformed JSON) are
        rejected here, so each config only sees records.
        """
        for artifact in self.reading(config, *kinds):
            for record in self.registered(config, artifact.read()):
                yield artifact, record

    def reading(self, config: str, *kinds: str) -> Iterable[Artifact]:
        """Artifacts of the given kinds, with a progress bar while they are read."""
        return self.progress(config, self.of_kind(*kinds))

    def progress(self, config: str, files: list[T]) -> Iterable[T]:
        """The files (or whatever stands for them) with a progress bar while they are read."""
        return tqdm(files, desc=f"{config}: reading", unit="file", disable=None, leave=False)

    def registered(self, config: str, table: RawTable) -> Iterator[Record]:
        """The records of a raw table, registered in the ledger as read; its bad lines rejected."""
        self.ledger.read(config, table.file, [bad.line for bad in table.bad] + [r.line for r in table.records])
        if table.bad:
            rejected = Outcomes()
            for bad in table.bad:
                rejected.reject(bad.file, bad.line, bad.field, bad.reason)
            self.ledger.record_table(config, rejected.frame())
        yield from table.records

    def column_table(self, config: str, artifact: Artifact, prepare: Prepare | None = None) -> ColumnTable:
        """An artifact column-wise, its rows registered as read. A CSV that can only be read
        row by row is turned into columns once its records are registered (and its bad lines
        rejected).

        ``prepare``: the config's work on the columns that needs no earlier config; the
        :attr:`prefetch` may have done it already, in another process.
        """
        table = self._read_prepared(artifact, prepare)
        if isinstance(table, ColumnTable):
            self.ledger.read(config, artifact.relpath, table.lines)
            return table
        columns = ColumnTable.of_records(table.columns, list(self.registered(config, table)))
        return ColumnTable(prepare(columns.table), columns.lines) if prepare else columns

    def _read_prepared(self, artifact: Artifact, prepare: Prepare | None) -> ColumnTable | RawTable:
        table = self.prefetch.take(artifact) if self.prefetch else None
        return read_prepared(artifact, prepare) if table is None else table

    def orphan(self, outcomes: Outcomes, file: str, line: int, field: str, reason: str) -> None:
        """A row pointing at a missing rule or item: rejected with ``allow_orphans``, else fatal."""
        outcomes.reject(file, line, field, f"orphan: {reason}")
        if not self.settings.allow_orphans:
            self.orphans.append(f"{file}:{line}: {field}: {reason}")
