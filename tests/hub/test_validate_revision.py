"""`cvc validate ORG/NAME@REV`: download a published revision with huggingface_hub (HF_ENDPOINT and the
token from the environment) and run the release checks on it, against the local Hub server."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from builders.cli import main
from builders.hub.publish import publish
from tests.hub_fixtures import RULES_SCHEMA, TOKEN, make_release, sample_rows

REPO = "Beijing-AISI/CVC"


@pytest.fixture
def published(hub, tmp_path, monkeypatch):
    """v1.0.0 of a private repo on the local Hub; HF_TOKEN carries the token, as in CI."""
    release = make_release(tmp_path / "v1.0.0", "1.0.0", sample_rows(5))
    publish(release, REPO, endpoint=hub.endpoint, token=TOKEN, private=True, verify=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return release


def test_a_published_revision_validates(published, hub, capsys):
    assert main(["validate", f"{REPO}@v1.0.0"]) == 0  # endpoint from HF_ENDPOINT, no --endpoint
    out = capsys.readouterr().out
    assert f"{REPO}@v1.0.0: valid release (default=5, rules=5)" in out
    assert TOKEN not in out


def test_the_token_is_what_opens_a_private_revision(published, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")
    assert main(["validate", f"{REPO}@v1.0.0"]) == 2
    err = capsys.readouterr().err
    assert f"error: {REPO}@v1.0.0:" in err and TOKEN not in err


def test_a_tampered_revision_fails_with_the_file_named(published, hub, capsys):
    """Someone commits other rows into a shard after the release: the manifest hash no longer holds."""
    shard = "data/rules/train-00001-of-00002.parquet"
    other = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(sample_rows(1), schema=RULES_SCHEMA), other)
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    commit = api.create_commit(REPO, [CommitOperationAdd(shard, other.getvalue().to_pybytes())],
                               commit_message="edit a shard by hand", repo_type="dataset")
    assert main(["validate", f"{REPO}@{commit.oid}", "--format", "json"]) == 1
    *problems, summary = map(json.loads, capsys.readouterr().out.splitlines())
    assert summary["valid"] is False and summary["target"] == f"{REPO}@{commit.oid}"
    size = json.loads((published / "manifest.json").read_text(encoding="utf-8"))["files"][shard]["size"]
    found = {(p["path"], p["config"], p["reason"]) for p in problems}
    assert (shard, None, f"size {len(other.getvalue())} != {size} in manifest.json") in found
    assert ("", "rules", "split train: 4 rows, manifest.json says 5") in found
    assert main(["validate", f"{REPO}@v1.0.0"]) == 0, "the tag still points at the release as built"


def test_an_unknown_revision_is_an_error_not_a_finding(published, capsys):
    assert main(["validate", f"{REPO}@v9.9.9"]) == 2
    assert "error: Beijing-AISI/CVC@v9.9.9: RevisionNotFoundError" in capsys.readouterr().err
