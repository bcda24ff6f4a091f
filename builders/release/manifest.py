"""The release manifest: what a release contains and how it was made, with hashes.

It lists every file of the release (never itself) with SHA-256, size and row count, each
config's schema hash and splits, the raw inputs' hashes and the build settings, so a
release can be verified and reproduced byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> dict:
    """Hash, size and (for Parquet) row count of one release file."""
    entry = {"sha256": sha256_file(path), "size": path.stat().st_size}
    if path.suffix == ".parquet":
        entry["num_rows"] = pq.ParquetFile(path).metadata.num_rows
    return entry


def release_files(release_dir: Path) -> list[str]:
    """Every file of a release directory except the manifest, as sorted POSIX paths."""
    return sorted(
        p.relative_to(release_dir).as_posix()
        for p in release_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )


def write_manifest(release_dir: Path, manifest: dict, described: dict[str, dict] | None = None) -> None:
    """Add the file table to ``manifest`` and write it (stable key order, UTF-8).

    ``described``: the entries of files described already (as each shard was written, say).
    """
    described = described or {}
    manifest["files"] = {rel: described[rel] if rel in described else describe_file(release_dir / rel)
                         for rel in release_files(release_dir)}
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (release_dir / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(release_dir: Path) -> dict:
    """Load a release's manifest, with an error that says what is missing."""
    path = Path(release_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{release_dir}: no {MANIFEST}; is this a release directory built by `cvc build`?")
    return json.loads(path.read_text(encoding="utf-8"))
