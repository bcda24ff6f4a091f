"""cvc publish against a Hub-compatible server on 127.0.0.1, with the real huggingface_hub client
and the real datasets.load_dataset (in a subprocess, as a consumer would run it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from builders.cli import main
from builders.context import BuildSettings
from builders.publish import (
    InvalidReleaseError,
    PublishError,
    VersionExistsError,
    VersionNotNewerError,
    publish,
)
from builders.release import build_release
from builders.resources import sample_raw_dir
from tests.conftest import write_csv
from tests.hub_server import HubServer

TOKEN = "hf_TESTSECRETtoken0123456789abcdef"
REPO = "Beijing-AISI/CVC"
SHARD_ROWS = 40


@pytest.fixture
def hub():
    with HubServer(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """v1.0.0 of the sample, and v1.0.1 where one rule got a human rewrite (one shard changes)."""
    root = tmp_path_factory.mktemp("releases")
    settings = BuildSettings(version="1.0.0", shard_rows=SHARD_ROWS)
    v1 = root / "v1.0.0"
    build_release(sample_raw_dir(), v1, settings)
    raw2 = root / "raw2"
    shutil.copytree(sample_raw_dir(), raw2)
    write_csv(raw2 / "data_control/label_rot_data/human/human_labels_batch2.csv", ["rot", "标签", "重写"],
              [["乘坐公交车时应该主动给老人让座。", "1", "坐公交车应该给老人让座。"]])
    v2 = root / "v1.0.1"
    build_release(raw2, v2, BuildSettings(version="1.0.1", shard_rows=SHARD_ROWS), previous=v1)
    return v1, v2


def _api(hub: HubServer) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=TOKEN)


def _head(hub: HubServer) -> str:
    return hub.state.repos[REPO].branches["main"]


def _load(hub: HubServer, revision: str, config: str, tmp_path: Path) -> list[dict]:
    """Rows of a published config, loaded by a fresh process with the real load_dataset."""
    code = ("import datasets, json, sys; d = datasets.load_dataset(sys.argv[1], sys.argv[2], revision=sys.argv[3]);"
            "print(json.dumps({s: ds.to_list() for s, ds in d.items()}, ensure_ascii=False))")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / f"hf-{revision}-{config}"),
           "HF_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-c", code, REPO, config, revision], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(release: Path, config: str = "rules") -> list[dict]:
    files = json.loads((release / "manifest.json").read_text())["configs"][config]["splits"]["train"]["files"]
    return [row for f in files for row in pq.read_table(release / f).to_pylist()]


def _shards(release: Path) -> dict[str, str]:
    manifest = json.loads((release / "manifest.json").read_text())
    return {p: e["sha256"] for p, e in manifest["files"].items() if p.endswith(".parquet")}


def test_publish_two_versions_and_load_both_by_tag(hub, releases, tmp_path):
    v1, v2 = releases
    first = publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN)
    assert first.tag == "v1.0.0" and first.verified["rules"] == {"train": len(_rows(v1))}
    assert sorted(hub.state.uploads) == sorted(set(_shards(v1).values()))

    hub.state.uploads.clear()
    second = publish(v2, REPO, endpoint=hub.endpoint, token=TOKEN)
    changed = {p for p, sha in _shards(v2).items() if _shards(v1).get(p) != sha}
    assert 0 < len(changed) < len(_shards(v2)), "the edit must change some shards and leave others"
    assert sorted(hub.state.uploads) == sorted(_shards(v2)[p] for p in changed)
    assert set(second.plan.unchanged) >= set(_shards(v2)) - changed

    refs = _api(hub).list_repo_refs(REPO, repo_type="dataset")
    assert {t.name for t in refs.tags} == {"v1.0.0", "v1.0.1"}
    assert _load(hub, "v1.0.0", "rules", tmp_path)["train"] == _rows(v1)
    new_rows = _load(hub, "v1.0.1", "rules", tmp_path)["train"]
    assert new_rows == _rows(v2)
    assert any(r["rule"] == "坐公交车应该给老人让座。" for r in new_rows)
    assert list(_load(hub, "v1.0.1", "default", tmp_path)) == ["cvc"]


def test_refuses_existing_tag_and_older_version(hub, releases, tmp_path):
    v1, v2 = releases
    publish(v2, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    head = _head(hub)
    with pytest.raises(VersionExistsError, match="never overwritten"):
        publish(v2, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    with pytest.raises(VersionNotNewerError, match="not newer than v1.0.1"):
        publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    assert _head(hub) == head
    assert hub.state.repos[REPO].tags.keys() == {"v1.0.1"}


def test_refuses_python_files_and_invalid_releases_before_sending_anything(hub, releases, tmp_path):
    v1, _ = releases
    bad = tmp_path / "with-script"
    shutil.copytree(v1, bad)
    (bad / "CVC.py").write_text("import datasets\n")
    with pytest.raises(InvalidReleaseError, match="Python files"):
        publish(bad, REPO, endpoint=hub.endpoint, token=TOKEN)
    tampered = tmp_path / "tampered"
    shutil.copytree(v1, tampered)
    (tampered / "CHANGELOG.md").write_text("edited after the build\n")
    with pytest.raises(InvalidReleaseError, match="CHANGELOG.md"):
        publish(tampered, REPO, endpoint=hub.endpoint, token=TOKEN)
    assert hub.state.requests == []


@pytest.mark.parametrize(("route", "status", "times"), [
    (r"/commit/", 429, 2),
    (r"/preupload/", 500, 1),
    (r"/info/lfs/objects/batch", 503, 1),
])
def test_transient_errors_are_retried(hub, releases, route, status, times):
    v1, _ = releases
    hub.state.inject("POST", route, status=status, times=times, headers={"Retry-After": "0"})
    result = publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False, backoff=0.01)
    assert result.tag == "v1.0.0"
    assert hub.state.repos[REPO].tags["v1.0.0"] == _head(hub)


@pytest.mark.parametrize(("method", "route", "status", "drop"), [
    # connection dropped mid-upload, more often than the client's own retries (about 20 s of backoff) absorb
    ("PUT", r"/lfs-upload/", None, True),
    ("POST", r"/commit/", 412, False),         # parent moved
    ("POST", r"/commit/", None, True),         # connection dropped on the commit itself
    ("POST", r"/tag/", 500, False),            # committed, but tagging failed
])
def test_failures_leave_nothing_half_published_and_a_rerun_completes(hub, releases, method, route, status, drop):
    v1, _ = releases
    publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False, dry_run=True)  # nothing created
    api = _api(hub)
    api.create_repo(REPO, repo_type="dataset")
    head = _head(hub)
    hub.state.inject(method, route, status=status or 500, drop=drop, times=1000)
    attempts = 1 if method == "PUT" else 2
    with pytest.raises(PublishError, match="run the same command again"):
        publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False, attempts=attempts, backoff=0.01)
    repo = hub.state.repos[REPO]
    assert repo.tags == {}
    if route != r"/tag/":
        assert _head(hub) == head, "a failed commit must not move the branch"
    hub.state.faults.clear()
    result = publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    assert repo.tags == {"v1.0.0": _head(hub)}
    assert result.commit == _head(hub)
    files = {f.path for f in api.list_repo_tree(REPO, repo_type="dataset", revision="v1.0.0", recursive=True)}
    assert set(_shards(v1)) <= files


def test_server_rejects_a_commit_whose_parent_moved(hub, releases):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api = _api(hub)
    api.create_repo(REPO, repo_type="dataset")
    stale = _head(hub)
    api.create_commit(REPO, [CommitOperationAdd("a.txt", b"a")], commit_message="a", repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(REPO, [CommitOperationAdd("b.txt", b"b")], commit_message="b", repo_type="dataset",
                          parent_commit=stale)
    assert err.value.response.status_code == 412


def test_dry_run_sends_no_mutating_request(hub, releases, capsys):
    v1, _ = releases
    assert main(["publish", str(v1), "--repo", REPO, "--endpoint", hub.endpoint, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "add       data/rules/train-00000-of-00003.parquet" in out and "nothing was sent" in out
    assert all(method == "GET" for method, _ in hub.state.requests)
    assert REPO not in hub.state.repos


def test_create_pr_opens_a_pull_request_and_does_not_tag(hub, releases):
    v1, _ = releases
    _api(hub).create_repo(REPO, repo_type="dataset")
    head = _head(hub)
    result = publish(v1, REPO, endpoint=hub.endpoint, token=TOKEN, create_pr=True)
    assert result.pr_url and result.tag is None
    repo = hub.state.repos[REPO]
    assert repo.tags == {} and _head(hub) == head and list(repo.pulls) == [1]


def test_token_never_appears_in_output_or_release(hub, releases, capsys, caplog, monkeypatch):
    v1, _ = releases
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["publish", str(v1), "--repo", REPO, "--endpoint", hub.endpoint]) == 0
    hub.state.inject("POST", r"/commit/", status=500, times=10)
    assert main(["publish", str(v1), "--repo", "org/other", "--endpoint", hub.endpoint]) == 1
    captured = capsys.readouterr()
    assert "tagged v1.0.0" in captured.out
    for text in (captured.out, captured.err, caplog.text):
        assert TOKEN not in text
    for path in v1.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()


def test_diff_of_published_versions_matches_diff_of_directories(hub, releases, tmp_path):
    from builders.diff import ReleaseView, diff_releases, open_release

    v1, v2 = releases
    for release in (v1, v2):
        publish(release, REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    remote = diff_releases(open_release(f"{REPO}@v1.0.0", endpoint=hub.endpoint, cache_dir=tmp_path / "c"),
                           open_release(f"{REPO}@v1.0.1", endpoint=hub.endpoint, cache_dir=tmp_path / "c"))
    local = diff_releases(ReleaseView.open(v1), ReleaseView.open(v2))
    assert remote.to_json() == local.to_json()
    assert remote.bump() == "patch" and len(remote.configs["rules"].changed) == 1
