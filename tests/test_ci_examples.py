"""The CI files this repository ships for dataset repositories: the pre-commit hook definition and the
GitHub Actions workflow in examples/. Every `cvc` command the workflow runs is run here by bash (tag
and branch builds), with `cvc` replaced by a function that parses its arguments with the real parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from builders.cli import parser

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = REPO_ROOT / "examples" / "cvc-release.yml"
_SHIM = """
import json, sys
from builders.cli import parser
try:
    parser().parse_args(sys.argv[2:])
    outcome = "ok"
except SystemExit:
    outcome = "refused"
with open(sys.argv[1], "a", encoding="utf-8") as fh:
    fh.write(json.dumps([outcome, sys.argv[2:]]) + "\\n")
"""


def test_the_hook_definition_runs_cvc_validate_on_the_tree():
    (hook,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "cvc-validate" and hook["language"] == "python" and hook["pass_filenames"] is False
    argv = hook["entry"].split()[1:] + hook["args"]
    assert argv[0] == "validate" and parser().parse_args(argv).path == "."


def _steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert set(workflow[True]) == {"pull_request", "push"}  # YAML 1.1 reads the key `on` as true
    return workflow["jobs"]["release"]["steps"]


@pytest.mark.parametrize("ref_type, last", [("tag", "v1.0.0"), ("branch", "v1.0.0"), ("branch", "")])
def test_every_cvc_command_of_the_workflow_parses(tmp_path, ref_type, last):
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, **{k: str(v) for k, v in yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["env"].items()},
           "LAST": last, "GITHUB_REF_TYPE": ref_type, "GITHUB_REF_NAME": "v1.1.0" if ref_type == "tag" else "main",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "output"),
           "PYTHONPATH": str(REPO_ROOT)}
    shim = f'cvc() {{ "{sys.executable}" -c \'{_SHIM}\' "{log}" "$@"; }}\n'
    ran = 0
    for step in _steps():
        script = step.get("run", "")
        if "cvc " not in script:
            continue
        condition = str(step.get("if", ""))
        if ("ref_type == 'tag'" in condition and ref_type != "tag") or ("tag != ''" in condition and not last):
            continue
        subprocess.run(["bash", "-e", "-o", "pipefail", "-c", shim + script], env=env, cwd=tmp_path, check=True,
                       capture_output=True)
        ran += 1
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert ran >= 4 and len(calls) >= ran
    assert [argv for outcome, argv in calls if outcome != "ok"] == []
    build = next(argv for _, argv in calls if argv[0] == "build")
    if ref_type == "tag":
        assert build[build.index("--version") + 1] == "1.1.0" and "--bump" not in build
    elif last:
        assert "--bump" in build and f"Beijing-AISI/CVC@{last}" in build
    else:
        assert "--previous" not in build and "--bump" not in build
    published = [argv for _, argv in calls if argv[0] == "publish"]
    assert published == ([["publish", "release", "--repo", "Beijing-AISI/CVC"]] if ref_type == "tag" else [])
