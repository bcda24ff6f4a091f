"""Publish stage: one validated, atomic, tagged release on the Hub, verified by loading it back.

``publish`` re-validates the release directory, reads the Hub repo's refs and file hashes,
plans what to add, delete and keep, then sends the whole release as **one commit** pinned
to the head it planned against (a concurrent change makes the Hub answer HTTP 412 and
nothing changes), and tags it ``vX.Y.Z``. Files whose content is already on the Hub are
neither committed nor uploaded again. Afterwards every config is loaded back at the tag
with ``datasets.load_dataset`` in a fresh process and compared with the manifest.

Tokens come from ``token=`` or the usual ``huggingface_hub`` sources (``HF_TOKEN``, the
stored login) and never appear in output, logs, exceptions or files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from builders.release.manifest import MANIFEST, read_manifest, sha256_file
from builders.release.verify import validate_release

logger = logging.getLogger(__name__)

REPO_TYPE = "dataset"
KEEP_REMOTE = frozenset({".gitattributes"})
"""Remote files a release never deletes."""
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = frozenset(
    {
        "TransportError",
        "NetworkError",
        "RemoteProtocolError",
        "TimeoutException",
        "ConnectionError",
        "ChunkedEncodingError",
        "Timeout",
    }
)
"""Class names (httpx, httpx2, requests, builtins) of a dropped or timed-out connection."""
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_MAX_WAIT = 60.0
_T = TypeVar("_T")


class PublishError(Exception):
    """A publish that did not (fully) happen; the message says what to do next."""


class InvalidReleaseError(PublishError):
    """The release directory fails validation; nothing was sent."""


class VersionExistsError(PublishError):
    """The version's tag already exists on the Hub; tags are never overwritten."""


class VersionNotNewerError(PublishError):
    """The version is not newer than the newest version already published."""


class ConcurrentUpdateError(PublishError):
    """The branch moved after planning (HTTP 412); nothing was committed."""


class PublishVerificationError(PublishError):
    """The published version does not load back as its manifest says."""


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


@dataclass
class PublishResult:
    """What a publish did (or, for a dry run, would do)."""

    repo_id: str
    version: str
    plan: PublishPlan
    commit: str | None = None
    tag: str | None = None
    pr_url: str | None = None
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    uploaded_bytes: int = 0
    """Bytes of the files committed (those already on the Hub are not sent)."""
    dry_run: bool = False
    verified: dict[str, dict[str, int]] = field(default_factory=dict)
    """Rows per split of each config, as ``load_dataset`` loaded them back."""

    @classmethod
    def from_plan(cls, plan: PublishPlan, **kwargs: object) -> PublishResult:
        return cls(
            plan.repo_id,
            plan.version,
            plan,
            added=list(plan.add),
            deleted=list(plan.delete),
            unchanged=list(plan.unchanged),
            uploaded_bytes=plan.upload_bytes,
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def next_steps(self) -> str:
        """What the maintainer does next (after a pull request: merge, then tag)."""
        if self.dry_run:
            return "nothing was sent; run without --dry-run to publish"
        if self.tag:
            return f'load it: load_dataset("{self.repo_id}", "rules", revision="{self.tag}")'
        tag = self.plan.tag
        if self.pr_url:
            return (
                f"review and merge {self.pr_url}, then tag the merged commit: run the same "
                f"`cvc publish … --repo {self.repo_id}` again without --create-pr (nothing is "
                f"uploaded again), or `hf repos tag create {self.repo_id} {tag} "
                "--repo-type dataset`"
            )
        return f"main already holds {tag}; run `cvc publish` without --create-pr to tag it"

    def summary(self) -> str:
        """A few lines for the CLI."""
        lines = [
            f"{self.repo_id} {self.plan.tag}: {len(self.added)} file(s) committed "
            f"({self.uploaded_bytes:,} bytes), {len(self.deleted)} deleted, "
            f"{len(self.unchanged)} unchanged"
        ]
        if self.pr_url:
            lines.append(f"opened {self.pr_url} (commit {self.commit}); no tag was created")
        elif self.tag:
            lines.append(f"commit {self.commit} tagged {self.tag}")
        if self.verified:
            lines.append(
                "verified by load_dataset: "
                + ", ".join(
                    f"{c}/{s}={n:,}"
                    for c, splits in self.verified.items()
                    for s, n in splits.items()
                )
            )
        lines.append(self.next_steps)
        return "\n".join(lines)


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


def _remote_files(api: HfApi, repo_id: str, revision: str) -> dict[str, object]:
    """Every file at ``revision`` (pinned to a commit sha), with its git oid and LFS sha256."""
    tree = api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=revision, recursive=True)
    return {f.path: f for f in tree if hasattr(f, "blob_id")}


def _check_version(repo_id: str, version: str, tags: list[str]) -> None:
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


def _same_content(release_dir: Path, rel: str, manifest: dict, remote: object) -> bool:
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
    remote = _remote_files(api, repo_id, head) if head else {}
    local = sorted([MANIFEST, *manifest["files"]])
    for rel in local:
        if rel in remote and _same_content(release_dir, rel, manifest, remote[rel]):
            plan.unchanged.append(rel)
        else:
            plan.add.append(rel)
            plan.upload_bytes += (release_dir / rel).stat().st_size
    plan.delete = sorted(p for p in remote if p not in local and p not in KEEP_REMOTE)
    return plan


def _commit_and_tag(
    api: HfApi, release_dir: Path, plan: PublishPlan, create_pr: bool
) -> PublishResult:
    """One commit pinned to ``plan.parent_commit``, then the tag.

    No commit when the head already holds the release (a rerun after a lost response, or
    after the pull request was merged): the head itself is tagged.
    """
    result = PublishResult.from_plan(plan, commit=plan.parent_commit)
    operations = [CommitOperationAdd(rel, str(release_dir / rel)) for rel in plan.add]
    operations += [CommitOperationDelete(rel) for rel in plan.delete]
    if operations:
        info = api.create_commit(
            plan.repo_id,
            operations,
            repo_type=REPO_TYPE,
            commit_message=f"Release {plan.tag}",
            commit_description=f"CVC {plan.tag}, built by the CVC builder; see CHANGELOG.md",
            parent_commit=plan.parent_commit,
            create_pr=create_pr,
        )
        result.commit, result.pr_url = info.oid, info.pr_url
    if create_pr:
        return result
    try:
        api.create_tag(
            plan.repo_id,
            tag=plan.tag,
            revision=result.commit,
            repo_type=REPO_TYPE,
            tag_message=f"CVC {plan.tag}",
        )
    except HfHubHTTPError as err:
        if err.response is not None and err.response.status_code == 409:
            raise VersionExistsError(
                f"{plan.repo_id}: {plan.tag} was tagged by someone else meanwhile; "
                "bump the version with `cvc build --version` and publish again"
            ) from None
        raise
    result.tag = plan.tag
    return result


# -- faults ---------------------------------------------------------------------------
def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None) if isinstance(err, HfHubHTTPError) else None
    return getattr(response, "status_code", None)


def _is_transient(err: BaseException) -> bool:
    """429, 5xx, timeouts and dropped connections are worth another attempt; 412 is not."""
    if isinstance(err, HfHubHTTPError):
        return _status(err) in _RETRY_STATUS
    return bool({cls.__name__ for cls in type(err).__mro__} & _NETWORK_ERRORS)


def _retry_after(err: BaseException) -> float:
    response = getattr(err, "response", None)
    value = str(getattr(response, "headers", {}).get("Retry-After", "")).strip()
    return float(value) if value.isdigit() else 0.0


def _redact(text: str, secrets: list[str]) -> str:
    for secret in filter(None, secrets):
        text = text.replace(secret, "hf_***")
    return text


def _describe(err: BaseException, secrets: list[str]) -> str:
    status = _status(err)
    text = " ".join(str(err).split()) or type(err).__name__
    hint = (
        " Check the token (HF_TOKEN or `hf auth login`) and its write access."
        if status in (401, 403)
        else ""
    )
    return _redact(f"{type(err).__name__}: {text}.{hint}", secrets)


def _with_retries(
    step: Callable[[], _T],
    *,
    repo_id: str,
    tag: str,
    attempts: int,
    backoff: float,
    secrets: list[str],
) -> _T:
    """Run ``step`` up to ``attempts`` times, waiting ``backoff * 2**n`` (or Retry-After) between.

    Each attempt re-reads the Hub and re-plans, so a commit that landed before a failure is
    not made twice. 412 is never retried: someone else changed the branch, and a silent
    re-plan would overwrite what they did.
    """
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except PublishError:
            raise
        except Exception as err:  # noqa: BLE001 - classified right below, re-raised as PublishError
            if _status(err) == 412:
                raise ConcurrentUpdateError(
                    f"{repo_id} changed after the release was planned (HTTP 412: the parent commit "
                    f"is no longer the head of main); nothing was committed and {tag} was not "
                    "tagged. Check what changed, then run the same command again to re-plan "
                    "against the new head."
                ) from None
            if not _is_transient(err) or attempt == attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise PublishError(
                    f"publishing {repo_id} {tag} failed{tries} ({_describe(err, secrets)}) The "
                    "commit is atomic, so main holds either the previous state or the whole "
                    f"release, and {tag} was not tagged. Fix the cause if there is one and run the "
                    "same command again: it uploads only what is missing and tags the release."
                ) from None
            wait = min(_MAX_WAIT, max(backoff * 2 ** (attempt - 1), _retry_after(err)))
            logger.warning(
                "publish %s %s: %s; retrying in %.1fs (attempt %d of %d)",
                repo_id,
                tag,
                _describe(err, secrets),
                wait,
                attempt + 1,
                attempts,
            )
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# -- verification ---------------------------------------------------------------------
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
        last = _redact((done.stderr.strip().splitlines() or ["no output"])[-1], [token or ""])
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
    remote = _remote_files(api, repo_id, revision)
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
        if not _same_content(release_dir, info.path, manifest, info):
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


# -- the entry point ------------------------------------------------------------------
def publish(
    release_dir: Path,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    dry_run: bool = False,
    private: bool = False,
    verify: bool = True,
    attempts: int = 4,
    backoff: float = 2.0,
) -> PublishResult:
    """Publish a release directory to the dataset repo ``repo_id``: one commit, then ``vX.Y.Z``.

    Nothing is sent before the release validates. ``dry_run`` only reads the Hub and returns
    the plan. ``create_pr`` opens a pull request and creates no tag. ``token=None`` uses the
    usual ``huggingface_hub`` sources. 429, 5xx and dropped connections are retried up to
    ``attempts`` times with exponential ``backoff`` (on top of the client's own retries of
    uploads), re-planning each time; a 412 raises :class:`ConcurrentUpdateError`. With
    ``verify``, the result is loaded back and compared with the manifest.
    """
    release_dir = Path(release_dir)
    manifest = check_release(release_dir)
    api = HfApi(endpoint=endpoint, token=token)
    secrets = [s for s in (token, _stored_token()) if s]
    tag = f"v{manifest['version']}"

    def step() -> PublishResult:
        plan = make_plan(api, release_dir, repo_id, manifest)
        _check_version(repo_id, plan.version, plan.published)
        if dry_run:
            return PublishResult.from_plan(plan, dry_run=True)
        if not plan.repo_exists:
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
            # plan again, pinned to the new repo's first commit
            plan = make_plan(api, release_dir, repo_id, manifest)
            _check_version(repo_id, plan.version, plan.published)
        return _commit_and_tag(api, release_dir, plan, create_pr)

    result = _with_retries(
        step, repo_id=repo_id, tag=tag, attempts=attempts, backoff=backoff, secrets=secrets
    )
    if verify and not dry_run and result.commit and (result.tag or result.pr_url):
        revision = result.tag or result.commit
        try:
            result.verified = verify_published(
                api, release_dir, repo_id, revision, manifest, token=token
            )
        except PublishVerificationError as err:
            state = (
                f"{tag} is tagged" if result.tag else f"the pull request {result.pr_url} is open"
            )
            raise PublishVerificationError(
                f"{_redact(str(err), secrets)}\n{state} but does not load back as built. Published "
                "versions are immutable: fix the cause and publish a new version."
            ) from None
    return result


def _stored_token() -> str | None:
    """The token ``huggingface_hub`` would use, only to redact it from messages."""
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # noqa: BLE001 - redaction must never break a publish
        return None
