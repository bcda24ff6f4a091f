"""What changed between two releases: rows by stable id, fields, splits and configs.

Either side is a release directory or a published ``ORG/NAME@vX.Y.Z`` (downloaded with
``huggingface_hub``). The diff decides the semantic-version bump a release needs: a removed
or retyped field, or a removed config or split, breaks consumers (major); added rows, fields
or configs extend it (minor); changed or removed rows only fix it (patch).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from builders.release.manifest import read_manifest
from builders.schema import resolve_refs, type_label

BUMPS = ("none", "patch", "minor", "major")
_HUB_REF = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)@(?P<revision>[\w./-]+)$")


@dataclass(frozen=True)
class ReleaseView:
    """What the diff reads of a release: its directory, version and per-config splits."""

    path: Path
    version: str
    configs: dict[str, dict]
    license: dict | None = None
    """The release's license as its manifest records it (:func:`license_of` for a release without one)."""

    @classmethod
    def open(cls, path: Path) -> ReleaseView:
        manifest = read_manifest(path)
        return cls(Path(path), str(manifest["version"]), manifest["configs"], license_of(Path(path), manifest))

    def schema_fields(self, config: str) -> dict[str, str]:
        """Field name → type label, read from the release's own schema file."""
        schema = json.loads((self.path / self.configs[config]["schema"]).read_text(encoding="utf-8"))
        return {name: type_label(resolve_refs(prop, schema)) for name, prop in schema["properties"].items()}

    def table(self, config: str) -> pa.Table:
        """All rows of a config (every split), for comparison by id."""
        files = [f for split in self.configs[config]["splits"].values() for f in split["files"]]
        tables = [pq.read_table(self.path / f) for f in files]
        return pa.concat_tables(tables) if tables else pa.table({})


@dataclass
class ConfigDiff:
    """Changes in one config."""

    name: str
    status: str = "same"
    """``added``, ``removed`` or ``same`` (present on both sides)."""
    rows_old: int = 0
    rows_new: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    """Row id → the fields whose value changed."""
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_retyped: dict[str, list[str]] = field(default_factory=dict)
    splits_added: list[str] = field(default_factory=list)
    splits_removed: list[str] = field(default_factory=list)

    def bump(self) -> str:
        if self.status == "removed" or self.fields_removed or self.fields_retyped or self.splits_removed:
            return "major"
        if self.status == "added" or self.added or self.fields_added or self.splits_added:
            return "minor"
        if self.changed or self.removed:
            return "patch"
        return "none"


_LICENSE_IDENTITY = ("id", "name", "link", "sha256")
"""What makes a license the same license: who stated it (``given_by``) does not."""


def license_of(path: Path, manifest: dict) -> dict | None:
    """A release's license: its manifest's entry, or, for a release built before licenses were recorded,
    the ``license`` / ``license_name`` of its card."""
    if "license" in manifest:
        return manifest["license"]
    card = path / "README.md"
    if not card.exists():
        return None
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return None
    front = yaml.safe_load(text[4:].split("\n---", 1)[0]) or {}
    if "license" not in front:
        return None
    return {"id": front["license"], **({"name": front["license_name"]} if "license_name" in front else {})}


def license_change(old: dict | None, new: dict | None) -> list[dict | None] | None:
    """``[old, new]`` when the license differs (on the parts both sides record), else ``None``.
    Consumers may lose rights they had: a change needs a major bump."""
    if old is None and new is None:
        return None
    if old is None or new is None:
        return [old, new]
    shared = [k for k in _LICENSE_IDENTITY if k in old and k in new]
    return None if all(old[k] == new[k] for k in shared) else [old, new]


@dataclass
class ReleaseDiff:
    """Changes between two releases, per config, and of the license."""

    old_version: str
    new_version: str
    configs: dict[str, ConfigDiff]
    license: list[dict | None] | None = None
    """``[old, new]`` when the license changed."""

    def bump(self) -> str:
        """The smallest semantic-version bump that honestly describes the change."""
        if self.license is not None:
            return "major"
        return max((c.bump() for c in self.configs.values()), key=BUMPS.index, default="none")

    def to_json(self) -> dict:
        return {"old_version": self.old_version, "new_version": self.new_version, "bump": self.bump(),
                "license": self.license, "configs": {name: asdict(c) for name, c in self.configs.items()}}

    def to_text(self, max_ids: int = 10) -> str:
        """A human-readable report."""
        lines = [f"v{self.old_version} → v{self.new_version}: {self.bump()} change"]
        if self.license is not None:
            old, new = ((entry or {}).get("name") or (entry or {}).get("id") or "none stated" for entry in self.license)
            lines.append(f"  license changed: {old} → {new}")
        for c in self.configs.values():
            if c.status != "same":
                lines.append(f"  config {c.name}: {c.status} ({c.rows_old:,} → {c.rows_new:,} rows)")
                continue
            lines.append(f"  config {c.name}: {c.rows_old:,} → {c.rows_new:,} rows; +{len(c.added):,} "
                         f"-{len(c.removed):,} ~{len(c.changed):,}")
            for label, items in (("fields added", c.fields_added), ("fields removed", c.fields_removed),
                                 ("splits added", c.splits_added), ("splits removed", c.splits_removed)):
                if items:
                    lines.append(f"    {label}: {', '.join(items)}")
            for name, (old, new) in c.fields_retyped.items():
                lines.append(f"    field retyped: {name}: {old} → {new}")
            for row_id in c.added[:max_ids]:
                lines.append(f"    + {row_id}")
            for row_id in c.removed[:max_ids]:
                lines.append(f"    - {row_id}")
            for row_id, fields in list(c.changed.items())[:max_ids]:
                lines.append(f"    ~ {row_id}: {', '.join(fields)}")
            hidden = max(0, len(c.added) - max_ids) + max(0, len(c.removed) - max_ids) + max(
                0, len(c.changed) - max_ids)
            if hidden:
                lines.append(f"    … {hidden:,} more (use --json for all)")
        return "\n".join(lines)


def _rows_by_id(table: pa.Table) -> dict[str, dict]:
    ids = table.column("id").to_pylist()
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    return {str(row_id): {name: values[i] for name, values in columns.items()} for i, row_id in enumerate(ids)}


def diff_config(name: str, old: ReleaseView, new: ReleaseView) -> ConfigDiff:
    """Compare one config present on both sides."""
    result = ConfigDiff(name)
    old_fields, new_fields = old.schema_fields(name), new.schema_fields(name)
    result.fields_added = [f for f in new_fields if f not in old_fields]
    result.fields_removed = [f for f in old_fields if f not in new_fields]
    result.fields_retyped = {f: [old_fields[f], new_fields[f]] for f in old_fields
                             if f in new_fields and old_fields[f] != new_fields[f]}
    old_splits, new_splits = set(old.configs[name]["splits"]), set(new.configs[name]["splits"])
    result.splits_added, result.splits_removed = sorted(new_splits - old_splits), sorted(old_splits - new_splits)
    if "alias_of" in new.configs[name] or "alias_of" in old.configs[name]:
        result.rows_old = sum(s["num_rows"] for s in old.configs[name]["splits"].values())
        result.rows_new = sum(s["num_rows"] for s in new.configs[name]["splits"].values())
        return result
    old_rows, new_rows = _rows_by_id(old.table(name)), _rows_by_id(new.table(name))
    result.rows_old, result.rows_new = len(old_rows), len(new_rows)
    result.added = sorted(set(new_rows) - set(old_rows))
    result.removed = sorted(set(old_rows) - set(new_rows))
    shared = [f for f in new_fields if f in old_fields and f not in result.fields_retyped]
    for row_id in sorted(set(old_rows) & set(new_rows)):
        before, after = old_rows[row_id], new_rows[row_id]
        fields = [f for f in shared if before.get(f) != after.get(f)]
        if fields:
            result.changed[row_id] = fields
    return result


def diff_releases(old: ReleaseView, new: ReleaseView) -> ReleaseDiff:
    """Compare two releases config by config."""
    configs: dict[str, ConfigDiff] = {}
    for name in sorted(set(old.configs) | set(new.configs)):
        if name not in new.configs:
            configs[name] = ConfigDiff(name, "removed", rows_old=sum(
                s["num_rows"] for s in old.configs[name]["splits"].values()))
        elif name not in old.configs:
            configs[name] = ConfigDiff(name, "added", rows_new=sum(
                s["num_rows"] for s in new.configs[name]["splits"].values()))
        else:
            configs[name] = diff_config(name, old, new)
    return ReleaseDiff(old.version, new.version, configs, license_change(old.license, new.license))


def open_release(ref: str, *, endpoint: str | None = None, cache_dir: Path | None = None) -> ReleaseView:
    """A release directory, or ``ORG/NAME@REVISION`` downloaded from the Hub."""
    path = Path(ref)
    if path.exists():
        return ReleaseView.open(path)
    match = _HUB_REF.match(ref)
    if not match:
        raise FileNotFoundError(f"{ref!r} is neither a release directory nor a Hub ref like ORG/NAME@v1.2.0")
    from huggingface_hub import snapshot_download

    local = snapshot_download(match["repo"], repo_type="dataset", revision=match["revision"],
                              endpoint=endpoint, cache_dir=cache_dir)
    return ReleaseView.open(Path(local))
