"""Publish stage: one verified, atomic, tagged release on the Hub.

A release directory built by ``cvc build`` goes to a Hub dataset repo as a single commit
(pinned to the parent it was planned against, so a concurrent change makes it fail
cleanly with HTTP 412 instead of mixing two versions), then gets the tag ``vX.Y.Z``.
Files whose content is already on the Hub are not uploaded again. Afterwards every config
is loaded back at the new tag with ``datasets.load_dataset`` in a fresh process and
compared with the manifest. Tokens come from the usual ``huggingface_hub`` sources and are
never printed, logged or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from builders.manifest import read_manifest
from builders.verify import validate_release
from builders.versioning import VersionError, parse_version

REPO_TYPE = "dataset"
_TRANSIENT_STATUS = {412, 429, 500, 502, 503, 504}
_KEEP_REMOTE = {".gitattributes"}


class PublishError(RuntimeError):
    """A publish that did not happen; the message says what to do."""


class InvalidReleaseError(PublishError):
    """The release directory fails validation; nothing was sent."""


class VersionExistsError(PublishError):
    """The version's tag already exists on the Hub; tags are never overwritten."""


class VersionNotNewerError(PublishError):
    """The version is not newer than the newest version already published."""


class PublishVerificationError(PublishError):
    """The published version does not load back as the manifest says."""


@dataclass
class PublishPlan:
    """What a publish will change on the Hub."""

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


@dataclass
class PublishResult:
    """What a publish did."""

    plan: PublishPlan
    commit: str | None = None
    tag: str | None = None
    pr_url: str | None = None
    verified: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        plan = self.plan
        lines = [f"{plan.repo_id}: {len(plan.add)} file(s) uploaded ({plan.upload_bytes:,} bytes), "
                 f"{len(plan.delete)} deleted, {len(plan.unchanged)} unchanged"]
        if self.pr_url:
            lines.append(f"opened {self.pr_url}; merge it, then tag it: cvc publish again after merging, "
                         f"or `hf repo tag create {plan.repo_id} {plan.tag} --repo-type dataset`")
        else:
            lines.append(f"commit {self.commit} tagged {self.tag}")
            lines.append(f'load it: load_dataset("{plan.repo_id}", "rules", revision="{self.tag}")')
        if self.verified:
            lines.append("verified: " + ", ".join(
                f"{c}/{s}={n:,}" for c, splits in self.verified.items() for s, n in splits.items()))
        return "\n".join(lines)


def plan_to_text(plan: PublishPlan) -> str:
    """The dry-run report: one line per file."""
    lines = [f"publish {plan.repo_id} {plan.tag}"
             + ("" if plan.repo_exists else " (the repo will be created)")
             + (f" on top of {plan.parent_commit}" if plan.parent_commit else "")]
    lines += [f"  add       {p}" for p in plan.add]
    lines += [f"  delete    {p}" for p in plan.delete]
    lines += [f"  unchanged {p}" for p in plan.unchanged]
    lines.append(f"{len(plan.add)} to upload ({plan.upload_bytes:,} bytes), {len(plan.delete)} to delete, "
                 f"{len(plan.unchanged)} unchanged; nothing was sent")
    return "\n".join(lines)


def _git_blob_oid(data: bytes) -> str:
    """The git object id the Hub reports for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _published_versions(api: HfApi, repo_id: str) -> tuple[bool, str | None, list[str]]:
    """Whether the repo exists, the head of main, and its ``vX.Y.Z`` tags."""
    try:
        refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
    except RepositoryNotFoundError:
        return False, None, []
    head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
    tags = []
    for tag in refs.tags:
        try:
            parse_version(tag.name)
        except VersionError:
            continue
        tags.append(tag.name)
    return True, head, tags


def _check_version(repo_id: str, version: str, tags: list[str]) -> None:
    tag = f"v{version}"
    if tag in tags:
        raise VersionExistsError(
            f"{repo_id} already has the tag {tag}; published versions are never overwritten. Build a new version "
            f"(cvc build --previous {repo_id}@{tag} --bump auto) and publish that.")
    newest = max(tags, key=parse_version, default=None)
    if newest and parse_version(version) <= parse_version(newest):
        raise VersionNotNewerError(
            f"{tag} is not newer than {newest}, the newest version of {repo_id}. Build a newer version "
            f"(cvc build --previous {repo_id}@{newest} --bump auto) and publish that.")


def make_plan(api: HfApi, release_dir: Path, repo_id: str, manifest: dict) -> PublishPlan:
    """Compare the release with the head of ``main``: what to add, delete and leave alone."""
    exists, head, tags = _published_versions(api, repo_id)
    plan = PublishPlan(repo_id, str(manifest["version"]), exists, head, published=tags)
    remote: dict[str, object] = {}
    if exists and head:
        remote = {f.path: f for f in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=head, recursive=True)
                  if hasattr(f, "blob_id")}
    local = ["manifest.json", *manifest["files"]]
    for rel in sorted(local):
        data_path = release_dir / rel
        entry = remote.get(rel)
        same = False
        if entry is not None:
            lfs = getattr(entry, "lfs", None)
            if lfs is not None:
                expected = manifest["files"].get(rel, {}).get("sha256")
                same = expected is not None and lfs.sha256 == expected
            else:
                same = entry.blob_id == _git_blob_oid(data_path.read_bytes())
        if same:
            plan.unchanged.append(rel)
        else:
            plan.add.append(rel)
            plan.upload_bytes += data_path.stat().st_size
    plan.delete = sorted(p for p in remote if p not in local and p not in _KEEP_REMOTE)
    return plan


def _is_transient(err: Exception) -> bool:
    if isinstance(err, HfHubHTTPError):
        response = getattr(err, "response", None)
        return response is not None and response.status_code in _TRANSIENT_STATUS
    names = {cls.__name__ for cls in type(err).__mro__}
    return bool(names & {"TransportError", "ConnectionError", "RemoteProtocolError", "TimeoutException"})


def _commit_and_tag(api: HfApi, release_dir: Path, plan: PublishPlan, create_pr: bool, private: bool) -> PublishResult:
    if not plan.repo_exists:
        api.create_repo(plan.repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
    result = PublishResult(plan)
    commit = plan.parent_commit
    if plan.add or plan.delete or create_pr:
        operations = [CommitOperationAdd(rel, str(release_dir / rel)) for rel in plan.add]
        operations += [CommitOperationDelete(rel) for rel in plan.delete]
        info = api.create_commit(
            plan.repo_id, operations, repo_type=REPO_TYPE, commit_message=f"Release {plan.tag}",
            commit_description=f"CVC {plan.tag}, built by the CVC dataset builder; see CHANGELOG.md.",
            parent_commit=plan.parent_commit, create_pr=create_pr,
        )
        commit, result.pr_url = info.oid, info.pr_url
    result.commit = commit
    if not create_pr:
        api.create_tag(plan.repo_id, tag=plan.tag, revision=commit, repo_type=REPO_TYPE,
                       tag_message=f"CVC {plan.tag}")
        result.tag = plan.tag
    return result


def verify_published(api: HfApi, release_dir: Path, repo_id: str, tag: str, manifest: dict,
                     endpoint: str | None, token: str | None) -> dict[str, dict[str, int]]:
    """Load every config at ``tag`` in a fresh process and compare rows and file hashes with the manifest."""
    remote = {f.path: f for f in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=tag, recursive=True)
              if hasattr(f, "blob_id")}
    problems = []
    for rel, entry in manifest["files"].items():
        found = remote.get(rel)
        lfs = getattr(found, "lfs", None)
        actual = lfs.sha256 if lfs is not None else None
        if found is None:
            problems.append(f"{rel} is missing at {tag}")
        elif actual is not None and actual != entry["sha256"]:
            problems.append(f"{rel} differs at {tag} (sha256 {actual} != {entry['sha256']})")
        elif actual is None and found.blob_id != _git_blob_oid((release_dir / rel).read_bytes()):
            problems.append(f"{rel} differs at {tag}")
    with tempfile.TemporaryDirectory(prefix="cvc-verify-") as cache:
        env = {**os.environ, "HF_HOME": cache, "HF_DATASETS_CACHE": str(Path(cache) / "datasets"),
               "HF_HUB_CACHE": str(Path(cache) / "hub"), "HF_HUB_OFFLINE": "0"}
        if endpoint:
            env["HF_ENDPOINT"] = endpoint
        if token:
            env["HF_TOKEN"] = token
        args = [sys.executable, "-m", "builders.load_check", repo_id, "--revision", tag]
        for config in manifest["configs"]:
            args += ["--config", config]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise PublishVerificationError(f"load_dataset could not load {repo_id}@{tag}: {last[0]}")
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for config, spec in manifest["configs"].items():
        expected = {split: s["num_rows"] for split, s in spec["splits"].items()}
        if loaded.get(config) != expected:
            problems.append(f"config {config}: loaded {loaded.get(config)}, manifest says {expected}")
    if problems:
        raise PublishVerificationError(f"{repo_id}@{tag} does not match the release: " + "; ".join(problems))
    return loaded


def publish(
    release_dir: Path, repo_id: str, *, endpoint: str | None = None, token: str | None = None,
    create_pr: bool = False, dry_run: bool = False, private: bool = False, verify: bool = True,
    attempts: int = 4, backoff: float = 1.0,
) -> PublishResult:
    """Publish a release directory to ``repo_id`` as one commit plus the tag ``vX.Y.Z``.

    Transient failures (HTTP 412, 429, 5xx, dropped connections) are retried up to
    ``attempts`` times with exponential ``backoff``, re-planning against the new head each
    time; a failed attempt leaves the branch as it was, since the commit is atomic.
    """
    release_dir = Path(release_dir)
    checked = validate_release(release_dir)
    if not checked.ok:
        raise InvalidReleaseError(f"{release_dir} is not a valid release; nothing was sent:\n  "
                                  + "\n  ".join(checked.errors[:20]))
    manifest = read_manifest(release_dir)
    api = HfApi(endpoint=endpoint, token=token)
    for attempt in range(1, attempts + 1):
        try:
            plan = make_plan(api, release_dir, repo_id, manifest)
            _check_version(repo_id, plan.version, plan.published)
            if dry_run:
                return PublishResult(plan)
            result = _commit_and_tag(api, release_dir, plan, create_pr, private)
            break
        except PublishError:
            raise
        except Exception as err:  # noqa: BLE001 - classified right below
            if not _is_transient(err) or attempt == attempts:
                raise PublishError(f"publishing {repo_id} failed ({type(err).__name__}: {err}); nothing "
                                   "was tagged. Fix the cause and run the same command again.") from None
            time.sleep(backoff * 2 ** (attempt - 1))
    if verify and result.tag:
        result.verified = verify_published(api, release_dir, repo_id, result.tag, manifest, endpoint, token)
    return result
