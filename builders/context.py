"""What every config builder gets: the raw artifacts, settings, the ledger, earlier results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from builders.ledger import Ledger
from builders.readers.layout import Artifact
from builders.taxonomy import Taxonomy, load_taxonomy


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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BuildContext:
    """State shared by the config builders of one build, in the order they run."""

    artifacts: list[Artifact]
    settings: BuildSettings = field(default_factory=BuildSettings)
    ledger: Ledger = field(default_factory=Ledger)
    taxonomy: Taxonomy = field(default_factory=load_taxonomy)
    results: dict[str, list[dict]] = field(default_factory=dict)
    notes: dict[str, dict] = field(default_factory=dict)
    """Per-config statistics for the report and the card (counts of repairs, conflicts, …)."""
    repairs: list[dict] = field(default_factory=list)
    """Raw rows whose labels were changed by normalization (hierarchy closure, contradictions)."""

    def of_kind(self, *kinds: str) -> list[Artifact]:
        """Artifacts of the given kinds, by path."""
        return [a for a in self.artifacts if a.kind.name in kinds]
