"""The `cvc-validate` pre-commit hook (.pre-commit-hooks.yaml), run the way a dataset repository runs it:
`pre-commit try-repo` installs this repository into its own environment (from PyPI) and runs the hook
on a git repository holding a raw tree. The first run installs the environment (about a minute)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FINAL_ROWS, TEST_LICENSE, write_csv

REPO_ROOT = Path(__file__).resolve().parents[1]
FINAL_HEADER = ["rot", "translate", "level", "core values", "derived values"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci", *args], cwd=cwd, check=True,
                   capture_output=True)


def _try_repo(consumer: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO_ROOT), "cvc-validate",
                           "--all-files"], cwd=consumer, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.skipif(shutil.which("git") is None or not (REPO_ROOT / ".git").exists(),
                    reason="pre-commit try-repo needs git and this repository as a git checkout")
def test_the_hook_passes_a_valid_tree_and_fails_a_bad_row_with_its_line(tmp_path):
    consumer = tmp_path / "dataset-repo"
    consumer.mkdir()
    _git(consumer, "init", "-q", ".")
    write_csv(consumer / "data_control/final.csv", FINAL_HEADER, FINAL_ROWS[:1], encoding="gbk")
    (consumer / "LICENSE").write_text(TEST_LICENSE, encoding="utf-8")
    _git(consumer, "add", "-A")
    _git(consumer, "commit", "-q", "-m", "raw tree")
    home = tmp_path / "pre-commit-home"

    passed = _try_repo(consumer, home)
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-3000:]
    assert "cvc validate (raw tree)" in passed.stdout and "Passed" in passed.stdout

    write_csv(consumer / "data_control/final.csv", FINAL_HEADER, [FINAL_ROWS[0], FINAL_ROWS[4]], encoding="gbk")
    _git(consumer, "add", "-A")
    failed = _try_repo(consumer, home)
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    assert "Failed" in failed.stdout
    assert "invalid: data_control/final.csv:3: derived values: unknown derived value '勤俭节约'" in failed.stdout
