"""cvc publish against the Hub-compatible server on 127.0.0.1, with the real huggingface_hub client
and the real datasets.load_dataset (in a fresh process, as a consumer runs it).

Most releases are hand-made (tests/hub_fixtures.py) so each test controls every byte; the last
test builds the shipped sample twice and publishes both versions end to end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from builders.hub.errors import (
    ConcurrentUpdateError,
    InvalidReleaseError,
    PublishError,
    PublishVerificationError,
    VersionExistsError,
    VersionNotNewerError,
)
from builders.hub.load_back import verify_published
from builders.hub.plan import plan_to_text
from builders.hub.publish import PublishResult, publish
from tests.hub_fixtures import (
    RULES_SCHEMA,
    TOKEN,
    make_release,
    rule_row,
    sample_rows,
    shard_hashes,
)
from tests.hub_server import Blob, HubServer

REPO = "Beijing-AISI/CVC"
ROWS_V1 = sample_rows(5)
ROWS_V2 = [*ROWS_V1[:4], rule_row(4, "考试作弊是不诚实的行为，应该受到批评。")]
"""v1.1.0 rewrites the last rule: the second shard changes, the first does not."""


pytestmark = pytest.mark.usefixtures("hub_isolation")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """v1.0.0 and v1.1.0, built once for the module (publishing never modifies them)."""
    root = tmp_path_factory.mktemp("releases")
    v1 = make_release(root / "v1.0.0", "1.0.0", ROWS_V1)
    return v1, make_release(root / "v1.1.0", "1.1.0", ROWS_V2)


def _publish(hub: HubServer, release: Path, **kwargs: object) -> PublishResult:
    return publish(
        release,
        REPO,
        endpoint=hub.endpoint,
        token=TOKEN,
        **{"verify": False, "backoff": 0.01, **kwargs},
    )


def _create_repo(hub: HubServer) -> str:
    HfApi(endpoint=hub.endpoint, token=TOKEN).create_repo(REPO, repo_type="dataset")
    return hub.state.head(REPO)


def _load_rows(hub: HubServer, loads: list[tuple[str, str]], tmp_path: Path) -> list[dict]:
    """Rows of each (revision, config), loaded by a fresh process with the real load_dataset."""
    code = """
import datasets, json, sys
datasets.disable_progress_bars()
loads = [datasets.load_dataset(sys.argv[1], c, revision=r) for r, c in json.loads(sys.argv[2])]
print(json.dumps([{s: d.to_list() for s, d in ds.items()} for ds in loads], ensure_ascii=False))
"""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(tmp_path / "consumer"),
        "HF_TOKEN": TOKEN,
    }
    done = subprocess.run(
        [sys.executable, "-c", code, REPO, json.dumps(loads)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_versions_upload_only_the_changed_shard_and_both_load_by_tag(hub, releases, tmp_path):
    """Deterministic shards make a new version cheap, and every tag stays loadable."""
    v1, v2 = releases
    first = _publish(hub, v1)
    assert first.tag == "v1.0.0" and hub.state.tags(REPO) == {"v1.0.0": first.commit}
    assert sorted(hub.state.uploads) == sorted(shard_hashes(v1).values())

    hub.state.uploads.clear()
    second = _publish(hub, v2, verify=True)
    old, new = shard_hashes(v1), shard_hashes(v2)
    changed = [p for p in new if old[p] != new[p]]
    assert changed == ["data/rules/train-00001-of-00002.parquet"]
    assert hub.state.uploads == [new[changed[0]]], "only the changed shard is uploaded again"
    assert "data/rules/train-00000-of-00002.parquet" in second.unchanged
    assert "schemas/rules.schema.json" in second.unchanged
    assert set(second.added) == {*changed, "README.md", "CHANGELOG.md", "manifest.json"}
    assert second.verified == {"default": {"cvc": 5}, "rules": {"train": 5}}
    assert hub.state.repos[REPO].commits[second.commit].parent == first.commit

    old_rules, new_rules, new_default = _load_rows(
        hub, [("v1.0.0", "rules"), ("v1.1.0", "rules"), ("v1.1.0", "default")], tmp_path
    )
    assert old_rules == {"train": ROWS_V1}
    assert new_rules == {"train": ROWS_V2}
    assert new_default == {"cvc": ROWS_V2}


def test_refuses_an_existing_tag_and_an_older_version_without_changing_anything(hub, releases):
    """Published versions are immutable; the error says how to get a publishable version."""
    v1, v2 = releases
    _publish(hub, v2)
    head, sent = hub.state.head(REPO), len(hub.state.mutations())
    with pytest.raises(
        VersionExistsError, match=r"already has the tag v1\.1\.0.*cvc build --version 1\.1\.1"
    ):
        _publish(hub, v2)
    with pytest.raises(
        VersionNotNewerError, match=r"v1\.0\.0 is not newer than v1\.1\.0.*cvc build --version"
    ):
        _publish(hub, v1)
    assert hub.state.head(REPO) == head and hub.state.tags(REPO) == {"v1.1.0": head}
    assert len(hub.state.mutations()) == sent


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: (d / "CVC.py").write_text("import datasets\n"),
            r"CVC\.py: Python files are refused.*datasets>=4",
        ),
        (
            lambda d: (d / "data/rules/loader.py").write_text("x = 1\n"),
            r"loader\.py: Python files are refused",
        ),
        (
            lambda d: pq.write_table(
                pa.Table.from_pylist(sample_rows(2), schema=RULES_SCHEMA),
                d / "data/rules/train-00001-of-00002.parquet",
            ),
            r"train-00001-of-00002\.parquet: size .* in manifest\.json",
        ),
        (
            lambda d: (d / "CHANGELOG.md").write_text("# Changelog\n\n## v1.0.0\n\n- 5 rulez\n"),
            r"CHANGELOG\.md: sha256 differs",
        ),
        (
            lambda d: (d / "notes.txt").write_text("scratch\n"),
            r"notes\.txt: in the release directory but not in",
        ),
    ],
)
def test_refuses_invalid_releases_before_sending_anything(hub, releases, tmp_path, damage, message):
    """A script breaks load_dataset on datasets>=4; an edited or stray file was not built."""
    bad = Path(shutil.copytree(releases[0], tmp_path / "bad"))
    damage(bad)
    with pytest.raises(InvalidReleaseError, match=message):
        _publish(hub, bad)
    assert hub.state.requests == []


def test_refuses_a_card_whose_data_files_match_nothing(hub, releases, tmp_path):
    bad = Path(shutil.copytree(releases[0], tmp_path / "bad"))
    card = (
        (bad / "README.md")
        .read_text()
        .replace("path: data/rules/train-*", "path: data/rules/validation-*")
    )
    (bad / "README.md").write_text(card)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["files"]["README.md"] = {
        "sha256": hashlib.sha256(card.encode()).hexdigest(),
        "size": len(card.encode()),
    }
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        InvalidReleaseError, match=r"config rules split train: \['data/rules/validation-\*"
    ):
        _publish(hub, bad)
    assert hub.state.requests == []


@pytest.mark.parametrize(
    ("method", "route", "status", "times"),
    [
        ("GET", r"/refs$", 429, 2),  # not retried by the client: publish's own retry
        ("POST", r"/commit/", 429, 2),  # the commit POST is not retried by the client either
        ("POST", r"/preupload/", 500, 1),  # retried inside huggingface_hub (http_backoff)
        ("POST", r"/tag/", 503, 1),  # committed, tag failed: the retry tags the same commit
    ],
)
def test_transient_errors_are_retried_and_the_release_lands_once(
    hub, releases, method, route, status, times
):
    initial = _create_repo(hub)
    hub.state.fail(method, route, status, times=times, retry_after=0)
    result = _publish(hub, releases[0])
    assert [r.status for r in hub.state.requests if r.status == status] == [status] * times
    assert hub.state.tags(REPO) == {"v1.0.0": hub.state.head(REPO)} == {"v1.0.0": result.commit}
    assert hub.state.repos[REPO].commits[result.commit].parent == initial, "committed once"


def test_retries_are_bounded(hub, releases):
    initial = _create_repo(hub)
    hub.state.fail("POST", r"/commit/", 500, times=100)
    with pytest.raises(PublishError, match=r"failed after 3 attempts.*run the same command again"):
        _publish(hub, releases[0], attempts=3)
    assert sum(r.route == "commit" for r in hub.state.requests) == 3
    assert hub.state.head(REPO) == initial and hub.state.tags(REPO) == {}


def test_dropped_upload_leaves_main_unchanged_and_a_rerun_uploads_only_what_is_missing(
    hub, releases
):
    v1, _ = releases
    initial = _create_repo(hub)
    first, second = shard_hashes(v1).values()
    # more drops than the client's own 5 retries (about 23 s of its backoff) absorb
    hub.state.drop("PUT", rf"/lfs-upload/{second}$", times=100)
    with pytest.raises(PublishError, match="run the same command again"):
        _publish(hub, v1, attempts=1)
    assert hub.state.head(REPO) == initial and hub.state.tags(REPO) == {}
    assert sum(r.status is None for r in hub.state.requests) == 6, "1 try + the client's 5 retries"
    assert hub.state.uploads == [first]

    hub.state.clear_faults()
    result = _publish(hub, v1)
    assert hub.state.uploads == [first, second], "the shard stored before the failure is not resent"
    assert hub.state.tags(REPO) == {"v1.0.0": result.commit} == {"v1.0.0": hub.state.head(REPO)}


def test_a_lost_commit_response_is_not_committed_twice(hub, releases):
    """The commit lands but the answer is lost: the retry must tag it, not commit again."""
    initial = _create_repo(hub)
    hub.state.drop("POST", r"/commit/", after_apply=True)
    result = _publish(hub, releases[0])
    assert hub.state.repos[REPO].commits[result.commit].parent == initial, "committed once"
    assert hub.state.tags(REPO) == {"v1.0.0": result.commit}
    assert not result.added, "the retry re-planned and found nothing left to add"


def test_412_leaves_nothing_tagged_and_a_rerun_completes(hub, releases):
    v1, _ = releases
    initial = _create_repo(hub)
    hub.state.reject_next_commit()
    with pytest.raises(ConcurrentUpdateError, match=r"HTTP 412.*run the same command again"):
        _publish(hub, v1)
    assert hub.state.head(REPO) == initial and hub.state.tags(REPO) == {}
    uploaded = list(hub.state.uploads)
    assert len(uploaded) == 2
    result = _publish(hub, v1)
    assert hub.state.tags(REPO) == {"v1.0.0": result.commit}
    assert hub.state.uploads == uploaded, "shards uploaded before the 412 are not uploaded again"


def test_a_concurrent_commit_is_not_overwritten_silently(hub, releases):
    """A real 412 from the server's own parent check: someone edited main after the plan."""
    v1, _ = releases
    _create_repo(hub)

    def someone_else_commits(repo) -> None:
        files = {
            **repo.commits[repo.head()].files,
            "notes.txt": Blob(b"edited on the web\n", False),
        }
        repo.branches["main"] = hub.state.new_commit(repo, repo.head(), "Edit notes", files).sha

    hub.state.before_commit = someone_else_commits
    with pytest.raises(ConcurrentUpdateError):
        _publish(hub, v1)
    moved = hub.state.head(REPO)
    assert "notes.txt" in hub.state.files(REPO) and hub.state.tags(REPO) == {}
    plan = _publish(hub, v1, dry_run=True).plan
    assert plan.parent_commit == moved
    assert plan.delete == ["notes.txt"], "a rerun would replace the tree; its plan says so"


def test_dry_run_reads_but_sends_nothing(hub, releases, capsys):
    v1, v2 = releases
    result = _publish(hub, v1, dry_run=True)
    assert REPO not in hub.state.repos and hub.state.mutations() == []
    assert not result.plan.repo_exists and result.commit is None and result.tag is None
    _publish(hub, v1)
    sent = len(hub.state.mutations())
    plan = _publish(hub, v2, dry_run=True).plan
    print(plan_to_text(plan))
    out = capsys.readouterr().out
    assert "  add       data/rules/train-00001-of-00002.parquet" in out
    assert "  unchanged data/rules/train-00000-of-00002.parquet" in out
    assert "nothing was sent" in out
    assert len(hub.state.mutations()) == sent and hub.state.tags(REPO).keys() == {"v1.0.0"}


def test_create_pr_opens_a_pull_request_and_tags_only_after_the_merge(hub, releases):
    v1, _ = releases
    initial = _create_repo(hub)
    result = _publish(hub, v1, create_pr=True, verify=True)
    repo = hub.state.repos[REPO]
    assert result.pr_url.endswith("/discussions/1") and result.tag is None and repo.tags == {}
    assert repo.head() == initial and repo.pulls == {1: result.commit}
    assert result.verified["rules"] == {"train": 5}, "the pull request's commit loads back"
    assert "merge" in result.next_steps and "again without --create-pr" in result.next_steps

    repo.branches["main"] = repo.pulls[1]  # a maintainer merges the pull request
    uploads = len(hub.state.uploads)
    tagged = _publish(hub, v1)
    assert tagged.tag == "v1.0.0" and tagged.commit == result.commit and not tagged.added
    assert len(hub.state.uploads) == uploads


def test_verification_catches_a_release_that_does_not_load_back_as_built(hub, releases):
    v1, _ = releases
    published = _publish(hub, v1)
    repo = hub.state.repos[REPO]
    shard = "data/rules/train-00001-of-00002.parquet"
    other = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(sample_rows(1), schema=RULES_SCHEMA), other)
    served = Blob(other.getvalue().to_pybytes(), True)  # the Hub serves something else
    repo.commits[published.commit].files[shard] = served
    manifest = json.loads((v1 / "manifest.json").read_text())
    with pytest.raises(PublishVerificationError) as err:
        verify_published(
            HfApi(endpoint=hub.endpoint, token=TOKEN), v1, REPO, "v1.0.0", manifest, token=TOKEN
        )
    assert f"{shard} differs" in str(err.value)
    wrong_rows = "config rules: load_dataset gives {'train': 4}, the manifest says {'train': 5}"
    assert wrong_rows in str(err.value)


def test_the_token_never_appears_in_output_logs_errors_or_files(
    hub, releases, monkeypatch, capsys, caplog
):
    """A token in a CI log or a release file is a leaked credential."""
    v1, v2 = releases
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # the usual source: publish gets token=None, and the
    # test Hub refuses writes without it, so a successful publish proves it was used
    caplog.set_level(logging.DEBUG)
    result = publish(v1, REPO, endpoint=hub.endpoint, verify=False)
    print(result.summary())
    print(plan_to_text(publish(v2, REPO, endpoint=hub.endpoint, dry_run=True).plan))
    hub.state.fail("POST", r"/commit/", 500, times=10, retry_after=0)
    with pytest.raises(PublishError) as failed:
        publish(v2, REPO, endpoint=hub.endpoint, attempts=2, backoff=0.01)
    with HubServer(token="hf_someOtherToken") as other, pytest.raises(PublishError) as refused:
        publish(v2, REPO, endpoint=other.endpoint)
    assert "401" in str(refused.value) and "Check the token" in str(refused.value)

    captured = capsys.readouterr()
    texts = [captured.out, captured.err, caplog.text, str(failed.value), repr(failed.value)]
    texts.append(str(refused.value))
    assert "tagged v1.0.0" in captured.out and "retrying" in caplog.text
    assert all(TOKEN not in text for text in texts)
    stored = [
        blob.content
        for repo in hub.state.repos.values()
        for c in repo.commits.values()
        for blob in c.files.values()
    ]
    local = [p.read_bytes() for p in v1.rglob("*") if p.is_file()]
    assert stored and all(TOKEN.encode() not in data for data in stored + local)


def test_diff_of_published_versions_matches_diff_of_directories(hub, releases, tmp_path):
    """`cvc diff ORG/NAME@vX ORG/NAME@vY` reads what publish wrote (kept from the lead's suite)."""
    from builders.release.diff import ReleaseView, diff_releases, open_release

    v1, v2 = releases
    for release in (v1, v2):
        _publish(hub, release)
    cache = tmp_path / "c"
    remote = diff_releases(
        open_release(f"{REPO}@v1.0.0", endpoint=hub.endpoint, cache_dir=cache),
        open_release(f"{REPO}@v1.1.0", endpoint=hub.endpoint, cache_dir=cache),
    )
    local = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2))
    assert remote.to_json() == local.to_json()
    assert remote.bump() == "patch" and list(remote.configs["rules"].changed) == [
        "rule-0000000000000004"
    ]


def test_the_built_sample_publishes_twice_and_both_versions_load_by_tag(hub, tmp_path):
    """End to end: build the shipped sample, publish, edit one rule, publish the next version."""
    from builders.build import build_release
    from builders.context import BuildSettings
    from builders.resources import sample_raw_dir

    settings = BuildSettings(version="1.0.0", shard_rows=100)
    v1 = build_release(sample_raw_dir(), tmp_path / "v1", settings).release_dir
    raw = Path(shutil.copytree(sample_raw_dir(), tmp_path / "raw"))
    master = raw / "data_control/final.csv"
    text = master.read_bytes().decode("gbk")
    old = "Companies should pursue high-quality development rather than blind expansion."
    assert old in text
    new = "Firms should seek high-quality growth and avoid blind expansion."
    master.write_bytes(text.replace(old, new).encode("gbk"))
    report = build_release(raw, tmp_path / "v2", settings, previous=v1, bump="auto")
    v2 = report.release_dir

    first = _publish(hub, v1, verify=True)
    assert first.tag == "v1.0.0"
    hub.state.uploads.clear()
    second = _publish(hub, v2, verify=True)
    assert second.tag == f"v{report.version}" != "v1.0.0"
    old_shards, new_shards = shard_hashes(v1), shard_hashes(v2)
    changed = sorted(p for p in new_shards if old_shards.get(p) != new_shards[p])
    assert changed and len(changed) < len(new_shards)
    assert sorted(hub.state.uploads) == sorted(new_shards[p] for p in changed), "unchanged shards are not re-sent"
    manifest = json.loads((v2 / "manifest.json").read_text(encoding="utf-8"))
    assert second.verified == {c: {s: v["num_rows"] for s, v in spec["splits"].items()}
                               for c, spec in manifest["configs"].items()}

    old_rules, new_rules = _load_rows(hub, [("v1.0.0", "rules"), (second.tag, "rules")], tmp_path)
    built = [pq.read_table(f).to_pylist() for f in sorted((v1 / "data/rules").glob("*.parquet"))]
    assert old_rules["train"] == [row for shard in built for row in shard]
    edited = {r["id"]: r["rule_en"] for r in new_rules["train"]}
    assert new in edited.values()
    assert old not in edited.values() and len(edited) == len(old_rules["train"])
