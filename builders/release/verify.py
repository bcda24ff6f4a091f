"""Check a built release directory: files against the manifest, card against files, rows against schemas.

Used by ``cvc validate`` and before every publish, so nothing unverified reaches the Hub.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from builders.problems import Problem
from builders.release.manifest import MANIFEST, read_manifest, release_files, sha256_file
from builders.schema import features, load_schema
from builders.stages.validate import SchemaError, TableValidator

_MAX_ROW_ERRORS = 20


@dataclass
class ReleaseValidation:
    """The outcome of :func:`validate_release`."""

    release_dir: Path
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def errors(self) -> list[str]:
        """Each problem as one line of text."""
        return [problem.text() for problem in self.problems]

    def add(self, path: str, reason: str, **where: object) -> None:
        """Record a problem in ``path`` (relative to the release; empty for a whole config)."""
        self.problems.append(Problem(path, reason, **where))  # type: ignore[arg-type]


def read_card_metadata(release_dir: Path) -> dict:
    """The YAML front matter of a release's README.md."""
    text = (Path(release_dir) / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError("README.md has no YAML front matter")
    front, _, _ = text[4:].partition("\n---")
    return yaml.safe_load(front) or {}


def _check_files(release_dir: Path, manifest: dict, result: ReleaseValidation) -> None:
    listed = manifest.get("files", {})
    for rel in release_files(release_dir):
        if rel.endswith(".py"):
            result.add(
                rel, "Python files are refused in a release: a loading script (such as a root CVC.py) "
                "makes load_dataset fail on datasets>=4 ('Dataset scripts are no longer supported'); "
                "remove it and publish Parquet + card only")
        elif rel not in listed:
            result.add(rel, f"in the release directory but not in {MANIFEST}")
    for rel, entry in listed.items():
        path = release_dir / rel
        if not path.exists():
            result.add(rel, f"listed in {MANIFEST} but missing")
        elif path.stat().st_size != entry.get("size"):
            result.add(rel, f"size {path.stat().st_size} != {entry.get('size')} in {MANIFEST}")
        elif sha256_file(path) != entry.get("sha256"):
            result.add(rel, f"sha256 differs from {MANIFEST} (edited after the build?)")


def _check_license(card: dict, present: list[str], manifest: dict, result: ReleaseValidation) -> None:
    """The Hub's rules for a card's license (``other`` needs ``license_name`` and ``license_link``; a link
    inside the repo names a file of the release), and agreement with the manifest's license."""
    license_id = card.get("license")
    if license_id is None:
        result.add("README.md", "no license in the front matter", field="license")
    elif license_id == "other":
        for key in ("license_name", "license_link"):
            if not card.get(key):
                result.add("README.md", f"license: other needs {key}", field=key)
        link = card.get("license_link")
        if link and "://" not in str(link) and link not in present:
            result.add("README.md", f"license_link {link} is not a file of the release", field="license_link")
    stated = manifest.get("license")
    if stated and (stated.get("id"), stated.get("name")) != (license_id, card.get("license_name")):
        result.add("README.md", f"license {license_id} ({card.get('license_name')}) != manifest "
                   f"{stated.get('id')} ({stated.get('name')})", field="license")


def _check_card(release_dir: Path, manifest: dict, result: ReleaseValidation) -> None:
    try:
        card = read_card_metadata(release_dir)
    except (OSError, ValueError, yaml.YAMLError) as err:
        result.add("README.md", str(err))
        return
    if str(card.get("version")) != str(manifest.get("version")):
        result.add("README.md", f"version {card.get('version')} != manifest {manifest.get('version')}",
                   field="version")
    present = release_files(release_dir)
    _check_license(card, present, manifest, result)
    card_configs = {c["config_name"]: c for c in card.get("configs", [])}
    if set(card_configs) != set(manifest.get("configs", {})):
        listed = sorted(manifest.get("configs", {}))
        result.add("README.md", f"configs {sorted(card_configs)} != manifest {listed}", field="configs")
    for name, config in card_configs.items():
        expected = manifest.get("configs", {}).get(name, {}).get("splits", {})
        for data_files in config.get("data_files", []):
            patterns = data_files["path"]
            patterns = [patterns] if isinstance(patterns, str) else list(patterns)
            matched = sorted({p for p in present for pat in patterns if fnmatch.fnmatchcase(p, pat)})
            files = expected.get(data_files.get("split", "train"), {}).get("files")
            if matched != sorted(files or []):
                result.add("README.md", f"config {name} split {data_files.get('split', 'train')}: {patterns} "
                           f"match {matched}, {MANIFEST} lists {files}", config=name, field="configs")


def _check_rows(release_dir: Path, manifest: dict, result: ReleaseValidation) -> None:
    for config in manifest.get("configs", {}).values():
        if "alias_of" in config:
            continue
        schema_config = Path(config["schema"]).name.removesuffix(".schema.json")
        name = schema_config
        validator = TableValidator(load_schema(schema_config))
        expected = features(schema_config).arrow_schema
        for split in config["splits"].values():
            for rel in split["files"]:
                if not (release_dir / rel).exists():
                    continue
                table = pq.read_table(release_dir / rel)
                if table.schema.remove_metadata() != expected.remove_metadata():
                    result.add(rel, f"columns/types differ from schemas/{schema_config}.schema.json", config=name)
                    continue
                try:
                    errors = validator.validate(table)
                except SchemaError as err:
                    result.add(rel, str(err), config=name)
                    continue
                for e in errors[:_MAX_ROW_ERRORS]:
                    result.add(rel, e.message, row=e.row, field=e.field, config=name)
                if len(errors) > _MAX_ROW_ERRORS:
                    result.add(rel, f"… and {len(errors) - _MAX_ROW_ERRORS} more row errors", config=name)


def _check_counts(release_dir: Path, manifest: dict, result: ReleaseValidation) -> None:
    for name, config in manifest.get("configs", {}).items():
        total = 0
        for split_name, split in config["splits"].items():
            rows = sum(pq.ParquetFile(release_dir / f).metadata.num_rows for f in split["files"]
                       if (release_dir / f).exists())
            total += rows
            if rows != split["num_rows"]:
                declared = split["num_rows"]
                result.add("", f"split {split_name}: {rows} rows, {MANIFEST} says {declared}", config=name)
        result.rows[name] = total


def _check_loads(release_dir: Path, manifest: dict, result: ReleaseValidation) -> None:
    """Every config loads with the real ``datasets`` reader and gives the manifest's rows per split:
    what validates, loads (an empty shard, say, passes every other check and fails here)."""
    from builders.release.load_check import load_local_counts

    for config, loaded in load_local_counts(release_dir, list(manifest.get("configs", {}))).items():
        want = {split: s["num_rows"] for split, s in manifest["configs"][config]["splits"].items()}
        if isinstance(loaded, str):
            result.add("", f"load_dataset fails: {loaded}", config=config)
        elif loaded != want:
            result.add("", f"load_dataset gives {loaded}, {MANIFEST} says {want}", config=config)


def verify_release(release_dir: Path) -> ReleaseValidation:
    """Re-derive every file hash and row count and compare them with the manifest (fast)."""
    release_dir = Path(release_dir)
    result = ReleaseValidation(release_dir)
    try:
        manifest = read_manifest(release_dir)
    except (OSError, ValueError) as err:
        result.add(MANIFEST, str(err))
        return result
    _check_files(release_dir, manifest, result)
    _check_counts(release_dir, manifest, result)
    return result


def validate_release(release_dir: Path) -> ReleaseValidation:
    """Every check a release must pass before it is published or trusted."""
    result = verify_release(release_dir)
    if result.errors and not (Path(release_dir) / MANIFEST).exists():
        return result
    manifest = read_manifest(release_dir)
    _check_card(result.release_dir, manifest, result)
    _check_rows(result.release_dir, manifest, result)
    if not result.errors:
        _check_loads(result.release_dir, manifest, result)
    return result
