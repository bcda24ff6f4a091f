"""The dataset card as the Hub reads it: every front-matter field within the Hub's documented vocabulary
(pinned in tests/fixtures/hub_card_vocabulary.json, with where each list comes from), the YAML parsed
by huggingface_hub's DatasetCardData, and every Markdown table as wide in each row as its header."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pytest
import yaml
from huggingface_hub import DatasetCard, DatasetCardData
from markdown_it import MarkdownIt

from builders.build import build_release
from builders.resources import sample_raw_dir

VOCABULARY = json.loads((Path(__file__).parents[1] / "fixtures" / "hub_card_vocabulary.json").read_text("utf-8"))
LANGUAGES = json.loads((Path(datasets.__file__).parent / "utils" / "resources" / "languages.json").read_text("utf-8"))
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


@pytest.fixture(scope="module")
def card_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    release = build_release(sample_raw_dir(), tmp_path_factory.mktemp("card") / "release").release_dir
    return (release / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def front(card_text: str) -> dict:
    assert card_text.startswith("---\n")
    return yaml.safe_load(card_text[4:].partition("\n---\n")[0])


def _in(vocabulary: list[str]):
    return lambda values: bool(values) and all(v in vocabulary for v in values)


CHECKS = {
    "license": lambda v: v in VOCABULARY["license"],
    # The Hub's rule for `license: other`: an id-like name and a link (a URL, or a file of the repo).
    "license_name": lambda v: isinstance(v, str) and bool(re.fullmatch(r"[a-z0-9][a-z0-9.-]*", v)),
    "license_link": lambda v: isinstance(v, str) and (v.startswith("https://") or v == "LICENSE"),
    "task_categories": _in(VOCABULARY["task_categories"]),
    "size_categories": _in(VOCABULARY["size_categories"]),
    "multilinguality": _in(VOCABULARY["multilinguality"]),
    "language_creators": _in(VOCABULARY["language_creators"]),
    "annotations_creators": _in(VOCABULARY["annotations_creators"]),
    "source_datasets": lambda values: bool(values) and all(
        v in VOCABULARY["source_datasets"] or v.startswith("extended|") for v in values),
    "language": lambda values: bool(values) and all(v in LANGUAGES for v in values),
    "pretty_name": lambda v: isinstance(v, str) and 0 < len(v) <= 100,
    "tags": lambda values: all(isinstance(v, str) and re.fullmatch(r"[a-z0-9-]+", v) for v in values),
    "version": lambda v: isinstance(v, str) and bool(_SEMVER.match(v)),
    "configs": lambda values: all({"config_name", "data_files"} <= set(c) for c in values),
    "dataset_info": lambda values: all({"config_name", "features", "splits"} <= set(c) for c in values),
}
"""A check for every field the card may carry; a field not listed here fails the test."""


def test_every_front_matter_field_is_in_the_hubs_vocabulary(front):
    unknown = sorted(set(front) - set(CHECKS))
    assert unknown == [], f"fields without a check against the Hub's vocabulary: {unknown}"
    failing = {field: front[field] for field, check in CHECKS.items() if field in front and not check(front[field])}
    assert failing == {}
    if front["license"] == "other":
        assert {"license_name", "license_link"} <= set(front)


def test_both_languages_are_declared_with_a_matching_multilinguality(front):
    assert front["language"] == ["zh", "en"] and LANGUAGES["zh"] == "Chinese" and LANGUAGES["en"] == "English"
    assert front["multilinguality"] == ["multilingual"]


def test_the_size_category_counts_the_rules(front):
    rules = next(info for info in front["dataset_info"] if info["config_name"] == "rules")
    rows = sum(split["num_examples"] for split in rules["splits"])
    assert rows < 1_000 and front["size_categories"] == ["n<1K"]


def test_huggingface_hub_parses_the_front_matter(card_text, front):
    data = DatasetCard(card_text).data
    assert isinstance(data, DatasetCardData)
    assert (data.language, data.license, data.multilinguality) == (["zh", "en"], front["license"], ["multilingual"])
    assert data.task_categories == front["task_categories"] and data.size_categories == front["size_categories"]
    assert [c["config_name"] for c in data.configs] == [c["config_name"] for c in front["configs"]]
    assert yaml.safe_load(data.to_yaml()) == front  # nothing lost or reshaped on the way through


def _cells(line: str) -> int:
    """Cells of a table row as GitHub-flavoured Markdown splits it: on every ``|`` not escaped as ``\\|``,
    the outer pipes excepted. (markdown-it pads or cuts rows to the header's width when it renders, so
    the rendered cells cannot show a row that is too short or too long: the source line can.)"""
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return len(re.split(r"(?<!\\)\|", line))


def test_every_table_row_has_as_many_cells_as_its_header(card_text):
    body = card_text[4:].partition("\n---\n")[2]
    lines = body.splitlines()
    md = MarkdownIt("commonmark").enable("table")
    tables, rows = [], []
    for token in md.parse(body):
        if token.type == "table_open":
            rows = []
            tables.append(rows)
        elif token.type == "tr_open":
            (start, end) = token.map
            assert end - start == 1, f"a table row spread over lines {start + 1}-{end}"
            rows.append((start + 1, _cells(lines[start])))
    assert len(tables) >= 10 and md.render(body).count("<table>") == len(tables)
    for rows in tables:
        (_, header), *body_rows = rows
        wrong = [(line, cells) for line, cells in body_rows if cells != header]
        assert body_rows and wrong == [], f"rows with other than {header} cells (line, cells): {wrong}"


def test_the_cell_count_sees_a_broken_row():
    assert _cells("| a | b \\| c |") == 2 and _cells("| a | b | c |") == 3 and _cells("a | b") == 2
