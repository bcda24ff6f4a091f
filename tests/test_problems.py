"""`cvc validate` / `cvc verify` output forms: text, JSON Lines and GitHub workflow commands name the
same problems; --max-problems shortens the list, not the count; exit codes say what happened."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from builders.build import build_release
from builders.cli import main

_TEXT = re.compile(r"^invalid: (?P<path>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<reason>.*)$")
_GITHUB = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),title=(?P<title>[^:]*)::(?P<message>.*)$")


def _run(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def _unescape(text: str) -> str:
    return text.replace("%2C", ",").replace("%3A", ":").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def test_the_three_forms_agree_on_the_problems_of_a_bad_raw_tree(raw_tree, capsys):
    root = str(raw_tree)
    code, text = _run(capsys, "validate", root)
    assert code == 1
    from_text = {(m["path"], int(m["line"]), m["field"], m["reason"]) for m in map(_TEXT.match, text[:-1])}
    assert len(from_text) == len(text) - 1 >= 3, text

    code, lines = _run(capsys, "validate", root, "--format", "json")
    assert code == 1
    records = [json.loads(line) for line in lines]  # JSON Lines: every line is one document
    *problems, summary = records
    assert {r["type"] for r in problems} == {"problem"} and summary["type"] == "summary"
    assert summary["valid"] is False and summary["problems"] == len(problems) == len(from_text)
    assert all(r["severity"] == "error" and r["config"] and r["row"] is None for r in problems)
    assert {(str(Path(r["path"]).relative_to(root)), r["line"], r["field"], r["reason"]) for r in problems} == from_text

    code, lines = _run(capsys, "validate", root, "--format", "github")
    assert code == 1
    commands = [m for m in map(_GITHUB.match, lines) if m]
    assert len(commands) == len(from_text) == len(lines) - 1  # one command per problem, then the summary line
    from_github = set()
    for m in commands:
        field, _, reason = _unescape(m["message"]).partition(": ")
        from_github.add((str(Path(_unescape(m["file"])).relative_to(root)), int(m["line"]), field, reason))
    assert from_github == from_text
    assert all((raw_tree / path).is_file() for path, *_ in from_github)


def test_max_problems_lists_fewer_and_still_counts_all(raw_tree, capsys):
    _, everything = _run(capsys, "validate", str(raw_tree), "--format", "json")
    total = len(everything) - 1
    code, lines = _run(capsys, "validate", str(raw_tree), "--format", "json", "--max-problems", "2")
    assert code == 1 and len(lines) == 3
    assert json.loads(lines[-1])["problems"] == total and json.loads(lines[-1])["shown"] == 2
    code, lines = _run(capsys, "validate", str(raw_tree), "--max-problems", "1")
    assert code == 1 and len(lines) == 3 and lines[1] == f"… and {total - 1:,} more (--max-problems 1)"


def test_exit_codes(raw_tree, tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing")]) == 2
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert main(["validate", str(raw_tree / "data_control/final.csv")]) == 2  # a file, not a tree
    assert "error:" in capsys.readouterr().err
    for usage in (["validate", str(raw_tree), "--format", "xml"], ["validate", str(raw_tree), "--max-problems", "0"]):
        with pytest.raises(SystemExit) as exited:
            main(usage)
        assert exited.value.code == 2


@pytest.fixture
def tampered(raw_tree, tmp_path) -> Path:
    """A built release with one shard's bytes changed after the build."""
    release = build_release(raw_tree, tmp_path / "release").release_dir
    assert main(["validate", str(release)]) == 0 and main(["verify", str(release)]) == 0
    shard = release / "data/taxonomy/train-00000-of-00001.parquet"
    shutil.copy(release / "data/rules/train-00000-of-00001.parquet", shard)
    return release


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_release_problems_in_every_form(tampered, capsys, command):
    root = str(tampered)
    code, text = _run(capsys, command, root)
    assert code == 1
    prefix = "invalid: " if command == "validate" else "mismatch: "
    shard = "data/taxonomy/train-00000-of-00001.parquet"
    from_text = sorted(line.removeprefix(prefix) for line in text[:-1])
    assert any(line.startswith(f"{shard}: ") for line in from_text), text

    code, lines = _run(capsys, command, root, "--format", "json")
    *problems, summary = map(json.loads, lines)
    assert code == 1 and summary["problems"] == len(problems) == len(from_text)
    rebuilt = []
    for r in problems:
        where = str(Path(r["path"]).relative_to(root)) if r["path"] else f"config {r['config']}"
        where += f": row {r['row']}" if r["row"] is not None else ""
        rebuilt.append(": ".join(filter(None, [where, r["field"], r["reason"]])))
    assert sorted(rebuilt) == from_text

    code, lines = _run(capsys, command, root, "--format", "github")
    commands = [line for line in lines if line.startswith("::error ")]
    assert code == 1 and len(commands) == len(from_text)
    assert any(line.startswith(f"::error file={root}/{shard},title=") for line in commands), commands


def test_workflow_commands_escape_what_github_would_misread():
    from builders.problems import Problem, github_command

    problem = Problem("a,b:c.csv", "50% bad\nsecond line", line=3, config="rules", field="rot")
    assert github_command(problem, "raw") == (
        "::error file=raw/a%2Cb%3Ac.csv,line=3,title=cvc rules rot::rot: 50%25 bad%0Asecond line")
    whole = Problem("", "load_dataset fails: ArrowInvalid: x", config="scenarios")
    assert github_command(whole, "release") == (
        "::error title=cvc scenarios::config scenarios: load_dataset fails: ArrowInvalid: x")
