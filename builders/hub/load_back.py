"""The load-back check after a push: the published revision against the release it came from.

Every file's hash is compared with the release directory, and every config is loaded at the
revision with ``datasets.load_dataset`` in a fresh process (an empty cache, so it reads what
the Hub serves, as a consumer would) and its rows per split compared with the manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from huggingface_hub import HfApi

from builders.hub.errors import PublishVerificationError
from builders.hub.plan import KEEP_REMOTE, REPO_TYPE, remote_files, same_content
from builders.hub.redaction import redact
from builders.release.manifest import MANIFEST


def load_counts(
    repo_id: str, revision: str, configs: list[str], *, endpoint: str, token: str | None = None
) -> dict[str, dict[str, int]]:
    """Rows per split of each config, loaded by ``datasets.load_dataset`` in a fresh process.

    The child gets ``HF_ENDPOINT`` and an empty cache, so it reads what the Hub serves,
    exactly as a consumer would; the token (if given) travels in its environment only.
    """
    with tempfile.TemporaryDirectory(prefix="cvc-verify-") as cache:
        env = {
            **os.environ,
            "HF_ENDPOINT": endpoint,
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_HUB_CACHE": str(Path(cache) / "hub"),
            "HF_DATASETS_CACHE": str(Path(cache) / "datasets"),
            "HF_XET_CACHE": str(Path(cache) / "xet"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",  # a check is not a download
        }
        if token:
            env["HF_TOKEN"] = token
        done = subprocess.run(
            [sys.executable, "-m", "builders.release.load_check", repo_id, "--revision", revision,
             *(arg for config in configs for arg in ("--config", config))],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
    if done.returncode != 0:
        last = redact((done.stderr.strip().splitlines() or ["no output"])[-1], [token or ""])
        raise PublishVerificationError(f"load_dataset could not load {repo_id}@{revision}: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verify_published(
    api: HfApi,
    release_dir: Path,
    repo_id: str,
    revision: str,
    manifest: dict,
    *,
    token: str | None = None,
) -> dict[str, dict[str, int]]:
    """Check ``repo_id@revision`` against the release: files, hashes and rows per split.

    File hashes come from paths-info (sha256 for LFS files, git oid for regular ones); rows
    from :func:`load_counts`. Raises :class:`PublishVerificationError` listing every mismatch.
    """
    release_dir = Path(release_dir)
    expected = sorted([MANIFEST, *manifest["files"]])
    remote = remote_files(api, repo_id, revision)
    problems = [f"{rel} is missing" for rel in expected if rel not in remote]
    problems += [
        f"{rel} is not part of the release"
        for rel in sorted(remote)
        if rel not in expected and rel not in KEEP_REMOTE
    ]
    present = [rel for rel in expected if rel in remote]
    infos = [
        info
        for start in range(0, len(present), 100)
        for info in api.get_paths_info(
            repo_id, present[start : start + 100], repo_type=REPO_TYPE, revision=revision
        )
    ]
    for info in infos:
        if not same_content(release_dir, info.path, manifest, info):
            problems.append(f"{info.path} differs from the release (hash mismatch)")
    loaded = load_counts(
        repo_id, revision, list(manifest["configs"]), endpoint=api.endpoint, token=token
    )
    for config, spec in manifest["configs"].items():
        want = {split: s["num_rows"] for split, s in spec["splits"].items()}
        if loaded.get(config) != want:
            got = loaded.get(config)
            problems.append(f"config {config}: load_dataset gives {got}, the manifest says {want}")
    if problems:
        raise PublishVerificationError(
            f"{repo_id}@{revision} does not match the release:\n  " + "\n  ".join(problems)
        )
    return loaded
