"""The test Hub behaves like the Hub where publishing depends on it, driven by the real client.

If the server were wrong (accepting a stale parent, re-requesting stored LFS objects,
ignoring ranges), the publish tests would prove nothing; these tests pin its behaviour.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    HfFileSystem,
)
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.hub_fixtures import TOKEN
from tests.hub_server import HubServer, git_blob_oid

REPO = "org/data"
PARQUET = b"PAR1" + bytes(range(256)) * 40 + b"PAR1"


pytestmark = pytest.mark.usefixtures("hub_isolation")


@pytest.fixture
def api(hub: HubServer) -> HfApi:
    client = HfApi(endpoint=hub.endpoint, token=TOKEN)
    client.create_repo(REPO, repo_type="dataset")
    return client


def _commit(api: HfApi, files: dict[str, bytes], **kwargs) -> str:
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    return api.create_commit(REPO, ops, commit_message="c", repo_type="dataset", **kwargs).oid


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_commit_list_and_download_regular_and_lfs_files(hub, api, tmp_path):
    sha = _commit(api, {"README.md": b"# card\n", "data/rules/train.parquet": PARQUET})
    assert hub.state.head(REPO) == sha == api.dataset_info(REPO).sha
    tree = {f.path: f for f in api.list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    assert set(tree) == {
        ".gitattributes",
        "README.md",
        "data",
        "data/rules",
        "data/rules/train.parquet",
    }
    shard = tree["data/rules/train.parquet"]
    assert shard.lfs.sha256 == hub.state.uploads[0] and shard.size == len(PARQUET)
    assert tree["README.md"].lfs is None and tree["README.md"].blob_id == git_blob_oid(b"# card\n")
    info = api.get_paths_info(REPO, ["README.md", "data/rules"], repo_type="dataset")
    assert [i.path for i in info] == ["README.md", "data/rules"]

    path = api.hf_hub_download(REPO, "data/rules/train.parquet", repo_type="dataset", revision=sha)
    assert Path(path).read_bytes() == PARQUET
    fs = HfFileSystem(endpoint=hub.endpoint, token=TOKEN)
    with fs.open(f"datasets/{REPO}/data/rules/train.parquet", "rb", block_size=64) as fh:
        fh.seek(100)
        assert fh.read(16) == PARQUET[100:116]


def test_range_requests_and_download_headers(hub, api):
    sha = _commit(api, {"data/x.parquet": PARQUET})
    url = f"{hub.endpoint}/datasets/{REPO}/resolve/main/data/x.parquet"
    status, headers, body = _get(url, {"Range": "bytes=4-11"})
    assert (status, body, headers["Content-Range"]) == (
        206,
        PARQUET[4:12],
        f"bytes 4-11/{len(PARQUET)}",
    )
    assert headers["X-Repo-Commit"] == sha and headers["X-Linked-Size"] == str(len(PARQUET))
    assert headers["ETag"] == headers["X-Linked-Etag"] == f'"{hub.state.uploads[0]}"'
    assert _get(url, {"Range": "bytes=-4"})[2] == b"PAR1"
    assert _get(url, {"Range": f"bytes={len(PARQUET)}-"})[0] == 416


def test_stored_lfs_objects_are_not_uploaded_again_and_no_op_commits_are_skipped(hub, api):
    first = _commit(api, {"a/one.parquet": PARQUET})
    second = _commit(api, {"b/copy.parquet": PARQUET})  # same content, new path
    assert len(hub.state.uploads) == 1 and second != first
    assert _commit(api, {"b/copy.parquet": PARQUET}) == second, "unchanged file: no new commit"
    assert hub.state.head(REPO) == second


def test_a_commit_on_a_stale_parent_gets_412_and_changes_nothing(hub, api):
    stale = hub.state.head(REPO)
    moved = _commit(api, {"a.txt": b"a"})
    with pytest.raises(HfHubHTTPError) as err:
        _commit(api, {"b.txt": b"b"}, parent_commit=stale)
    assert err.value.response.status_code == 412
    assert hub.state.head(REPO) == moved and "b.txt" not in hub.state.files(REPO)


def test_deletions_pull_requests_and_tags(hub, api):
    base = _commit(api, {"keep.txt": b"k", "old/x.txt": b"x"})
    ops = [CommitOperationDelete("old/"), CommitOperationAdd("new.txt", b"n")]
    pr = api.create_commit(REPO, ops, commit_message="pr", repo_type="dataset", create_pr=True)
    assert pr.pr_url.endswith("/discussions/1") and hub.state.head(REPO) == base
    refs = api.list_repo_refs(REPO, repo_type="dataset", include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests] == [("refs/pr/1", pr.oid)]
    assert set(hub.state.files(REPO, "refs/pr/1")) == {".gitattributes", "keep.txt", "new.txt"}
    assert api.dataset_info(REPO, revision="refs/pr/1").sha == pr.oid

    api.create_tag(REPO, tag="v1.0.0", revision=pr.oid, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_tag(REPO, tag="v1.0.0", revision=base, repo_type="dataset")
    assert err.value.response.status_code == 409
    tags = api.list_repo_refs(REPO, repo_type="dataset").tags
    assert [(t.name, t.target_commit) for t in tags] == [("v1.0.0", pr.oid)]
    path = api.hf_hub_download(REPO, "new.txt", repo_type="dataset", revision="v1.0.0")
    assert Path(path).read_bytes() == b"n"
    api.delete_tag(REPO, tag="v1.0.0", repo_type="dataset")
    assert hub.state.tags(REPO) == {}


def test_tree_listings_are_paginated_with_link_headers(hub, api):
    _commit(api, {f"data/f{i}.txt": b"%d" % i for i in range(5)})
    hub.state.tree_page_size = 2
    files = [f.path for f in api.list_repo_tree(REPO, "data", repo_type="dataset")]
    assert files == [f"data/f{i}.txt" for i in range(5)]
    assert sum(r.route == "tree" for r in hub.state.requests) == 3


def test_writes_and_private_reads_need_the_token(hub, api):
    anonymous = HfApi(endpoint=hub.endpoint, token=False)
    with pytest.raises(HfHubHTTPError) as err:
        anonymous.create_repo("org/other", repo_type="dataset")
    assert err.value.response.status_code == 401
    assert api.whoami()["name"] == "tester"
    api.create_repo("org/secret", repo_type="dataset", private=True)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.list_repo_refs("org/secret", repo_type="dataset")
    assert api.list_repo_refs("org/secret", repo_type="dataset").branches[0].name == "main"


def test_injected_faults_and_the_request_log(hub, api):
    url = f"{hub.endpoint}/api/datasets/{REPO}/refs"
    hub.state.fail("GET", r"/refs$", 429, times=2, retry_after=7)
    assert [_get(url)[0] for _ in range(3)] == [429, 429, 200]
    assert _get(url)[1].get("Retry-After") is None
    hub.state.fail("GET", r"/refs$", 503)
    assert _get(url)[0] == 503

    hub.state.drop("GET", r"/refs$")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(url, timeout=10)
    assert hub.state.requests[-1].status is None

    hub.state.drop("POST", r"/tag/", after_apply=True)  # applied, but the response is lost
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises for a dropped connection
        api.create_tag(REPO, tag="v9.9.9", repo_type="dataset")
    assert "v9.9.9" in hub.state.tags(REPO)
    assert [r.status for r in hub.state.requests if r.route == "refs"] == [
        429,
        429,
        200,
        200,
        503,
        None,
    ]
    assert [r.route for r in hub.state.mutations()] == ["create_repo", "create_tag"]


def test_load_dataset_reads_a_pull_request_ref_through_known_routes_only(hub, api, tmp_path):
    """The real `load_dataset`, in a fresh process, must find every route it needs here."""
    table = pa.table({"text": ["甲", "乙"], "tags": [["x"], []]})
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    card = b"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
    card += b"    path: data/*\n---\n"
    ops = [
        CommitOperationAdd("README.md", card),
        CommitOperationAdd("data/train.parquet", buffer.getvalue().to_pybytes()),
    ]
    api.create_commit(REPO, ops, commit_message="pr", repo_type="dataset", create_pr=True)
    code = (
        "import datasets, json, sys; datasets.disable_progress_bars(); print(json.dumps("
        "datasets.load_dataset(sys.argv[1], revision='refs/pr/1')['train'].to_list()))"
    )
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "consumer")}
    done = subprocess.run(
        [sys.executable, "-c", code, REPO], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == table.to_pylist()
    reads = [r for r in hub.state.requests if "refs%2Fpr%2F1" in r.path]
    assert reads and all(r.route is not None and r.status in (200, 206) for r in reads)
    assert all(r.route is not None for r in hub.state.requests)
