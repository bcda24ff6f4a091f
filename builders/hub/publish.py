"""Publish stage: one validated, atomic, tagged release on the Hub, verified by loading it back.

``publish`` re-validates the release directory, reads the Hub repo's refs and file hashes,
plans what to add, delete and keep (:mod:`builders.hub.plan`), then sends the whole release
as **one commit** pinned to the head it planned against (a concurrent change makes the Hub
answer HTTP 412 and nothing changes), and tags it ``vX.Y.Z``. Files whose content is already
on the Hub are neither committed nor uploaded again. Faults are retried by
:mod:`builders.hub.retries`. Afterwards every config is loaded back at the tag with
``datasets.load_dataset`` in a fresh process and compared with the manifest
(:mod:`builders.hub.load_back`).

Tokens come from ``token=`` or the usual ``huggingface_hub`` sources (``HF_TOKEN``, the
stored login) and never appear in output, logs, exceptions or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError

from builders.hub.errors import PublishVerificationError, VersionExistsError
from builders.hub.load_back import verify_published
from builders.hub.plan import REPO_TYPE, PublishPlan, check_release, check_version, make_plan
from builders.hub.redaction import redact, stored_token
from builders.hub.retries import with_retries


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
    secrets = [s for s in (token, stored_token()) if s]
    tag = f"v{manifest['version']}"

    def step() -> PublishResult:
        plan = make_plan(api, release_dir, repo_id, manifest)
        check_version(repo_id, plan.version, plan.published)
        if dry_run:
            return PublishResult.from_plan(plan, dry_run=True)
        if not plan.repo_exists:
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
            # plan again, pinned to the new repo's first commit
            plan = make_plan(api, release_dir, repo_id, manifest)
            check_version(repo_id, plan.version, plan.published)
        return _commit_and_tag(api, release_dir, plan, create_pr)

    result = with_retries(
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
                f"{redact(str(err), secrets)}\n{state} but does not load back as built. Published "
                "versions are immutable: fix the cause and publish a new version."
            ) from None
    return result
