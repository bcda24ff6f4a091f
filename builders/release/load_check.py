"""Load every config of a published release exactly as a consumer would, and report row counts.

Run as ``python -m builders.release.load_check ORG/NAME --revision vX.Y.Z --config rules …``; it
prints ``{config: {split: rows}}`` as JSON. ``cvc publish`` runs it in a fresh process with
its own empty cache, so the check reads what the Hub serves, not a local copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def load_counts(repo_id: str, revision: str, configs: list[str]) -> dict[str, dict[str, int]]:
    """Rows per split of each config, through ``datasets.load_dataset``."""
    import datasets

    datasets.disable_progress_bars()
    counts = {}
    for config in configs:
        loaded = datasets.load_dataset(repo_id, config, revision=revision)
        counts[config] = {split: ds.num_rows for split, ds in loaded.items()}
    return counts


def load_local_counts(release_dir: Path, configs: list[str]) -> dict[str, dict[str, int] | str]:
    """Rows per split of each config of a release directory, loaded by ``datasets.load_dataset``
    from its card's ``configs`` exactly as the Hub would serve them; a config that fails to load
    gives the error instead (type and message), so one broken config does not hide the others.

    Each load gets its own empty cache, so nothing prepared earlier is reused.
    """
    import datasets

    datasets.disable_progress_bars()
    counts: dict[str, dict[str, int] | str] = {}
    for config in configs:
        with tempfile.TemporaryDirectory(prefix="cvc-load-") as cache:
            try:
                loaded = datasets.load_dataset(str(release_dir), config, cache_dir=cache)
            except Exception as err:  # noqa: BLE001 - any failure to load is the finding itself
                counts[config] = f"{type(err).__name__}: {' '.join(str(err).split())}"
                continue
            counts[config] = {split: ds.num_rows for split, ds in loaded.items()}
            del loaded
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo_id")
    parser.add_argument("--revision", required=True)
    parser.add_argument("--config", action="append", required=True, dest="configs")
    args = parser.parse_args(argv)
    print(json.dumps(load_counts(args.repo_id, args.revision, args.configs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
