"""The commit plan: the release directory compared with the Hub repo's head.

:func:`check_release` re-validates the release directory before anything is sent;
:func:`make_plan` reads the Hub repo's refs and file hashes and decides what to add, delete
and keep. Files whose content is already on the Hub (same sha256 for LFS files, same git
blob oid for regular ones) are kept, so they are neither committed nor uploaded again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError

from builders.hub.errors import InvalidReleaseError, VersionExistsError, VersionNotNewerError
from builders.release.manifest import MANIFEST, read_manifest, sha256_file
from builders.release.verify import validate_release

REPO_TYPE = "dataset"
KEEP_REMOTE = frozenset({".gitattributes"})
"""Remote files a release never deletes."""
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


@dataclass
class PublishPlan:
    """What a publish changes on the Hub, planned against one head commit."""

    repo_id: str
    version: str
    repo_exists: bool
    parent_commit: str | None
    add: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    upload_bytes: int = 0
    published: list[str] = field(default_factory=list)
    """The ``vX.Y.Z`` tags already on the Hub."""

    @property
    def tag(self) -> str:
        return f"v{self.version}"


def plan_to_text(plan: PublishPlan) -> str:
    """The dry-run report: one line per file, then the totals."""
    head = f"publish {plan.repo_id} {plan.tag}"
    head += f" on top of {plan.parent_commit}" if plan.parent_commit else ""
    head += "" if plan.repo_exists else " (the repo will be created)"
    lines = [head]
    lines += [f"  add       {p}" for p in plan.add]
    lines += [f"  delete    {p}" for p in plan.delete]
    lines += [f"  unchanged {p}" for p in plan.unchanged]
    lines.append(
        f"{len(plan.add)} to upload ({plan.upload_bytes:,} bytes), {len(plan.delete)} to delete, "
        f"{len(plan.unchanged)} unchanged; nothing was sent"
    )
    return "\n".join(lines)


# -- the release directory ------------------------------------------------------------
def _git_blob_oid(data: bytes) -> str:
    """The git object id the Hub reports for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(str(text).strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_release(release_dir: Path) -> dict:
    """Validate a release directory for publishing and return its manifest.

    Runs :func:`builders.release.verify.validate_release` (file hashes, no stray or ``.py`` files,
    card globs against the manifest, every row against its schema) and checks the version.
    Raises :class:`InvalidReleaseError`.
    """
    release_dir = Path(release_dir)
    if not release_dir.is_dir():
        raise InvalidReleaseError(f"{release_dir} is not a directory; nothing was sent")
    errors = list(validate_release(release_dir).errors)
    manifest = read_manifest(release_dir) if (release_dir / MANIFEST).exists() else {}
    if manifest and _parse_version(manifest.get("version", "")) is None:
        errors.append(f"{MANIFEST}: version {manifest.get('version')!r} is not like 1.2.0")
    if errors:
        shown = "\n  ".join(errors[:30]) + (
            f"\n  … and {len(errors) - 30} more" if len(errors) > 30 else ""
        )
        raise InvalidReleaseError(
            f"{release_dir} is not a valid release; nothing was sent:\n  {shown}"
        )
    return manifest


# -- the Hub side ---------------------------------------------------------------------
def _remote_state(api: HfApi, repo_id: str) -> tuple[bool, str | None, list[str]]:
    """Whether the repo exists, the head of ``main``, and its ``vX.Y.Z`` tags."""
    try:
        refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
    except RepositoryNotFoundError:
        return False, None, []
    head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
    return (
        True,
        head,
        [t.name for t in refs.tags if _parse_version(t.name) and t.name.startswith("v")],
    )


def remote_files(api: HfApi, repo_id: str, revision: str) -> dict[str, object]:
    """Every file at ``revision`` (pinned to a commit sha), with its git oid and LFS sha256."""
    tree = api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=revision, recursive=True)
    return {f.path: f for f in tree if hasattr(f, "blob_id")}


def check_version(repo_id: str, version: str, tags: list[str]) -> None:
    """Refuse a version whose tag exists, or that is not newer than the newest ``vX.Y.Z`` tag."""
    tag = f"v{version}"
    versions = {t: _parse_version(t) or (0, 0, 0) for t in tags}
    newest = max(versions, key=versions.__getitem__, default=None)
    if tag in tags or (newest and (_parse_version(version) or (0, 0, 0)) <= versions[newest]):
        major, minor, patch = versions[newest]  # type: ignore[index]
        how = (
            f"Bump the version: rebuild the release with `cvc build --version "
            f"{major}.{minor}.{patch + 1}` (or --previous {repo_id}@{newest} --bump auto) and "
            "publish that."
        )
        if tag in tags:
            raise VersionExistsError(
                f"{repo_id} already has the tag {tag}; a published version is never "
                f"overwritten. {how}"
            )
        raise VersionNotNewerError(
            f"{tag} is not newer than {newest}, the newest version of {repo_id}. {how}"
        )


def same_content(release_dir: Path, rel: str, manifest: dict, remote: object) -> bool:
    """LFS files compare by sha256, regular files by git blob oid."""
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        local = manifest["files"].get(rel, {}).get("sha256") or sha256_file(release_dir / rel)
        return lfs.sha256 == local
    local_oid = _git_blob_oid((release_dir / rel).read_bytes())
    return remote.blob_id == local_oid  # type: ignore[attr-defined]


def make_plan(api: HfApi, release_dir: Path, repo_id: str, manifest: dict) -> PublishPlan:
    """Compare the release with the head of ``main``: what to add, delete and leave alone."""
    exists, head, tags = _remote_state(api, repo_id)
    plan = PublishPlan(repo_id, str(manifest["version"]), exists, head, published=tags)
    remote = remote_files(api, repo_id, head) if head else {}
    local = sorted([MANIFEST, *manifest["files"]])
    for rel in local:
        if rel in remote and same_content(release_dir, rel, manifest, remote[rel]):
            plan.unchanged.append(rel)
        else:
            plan.add.append(rel)
            plan.upload_bytes += (release_dir / rel).stat().st_size
    plan.delete = sorted(p for p in remote if p not in local and p not in KEEP_REMOTE)
    return plan
