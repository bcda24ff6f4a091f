"""The license is an input of the release: read from the raw tree or the command line, never a constant."""

import json
import os
import shutil
from pathlib import Path

import pytest

from builders.build import BuildError, build_release
from builders.cli import main
from builders.release.diff import ReleaseView, diff_releases
from builders.release.verify import read_card_metadata, validate_release
from builders.stages.readers.license import LicenseError, attribution_in, read_license
from tests.conftest import write_raw_tree

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("CVC_REFERENCE_DATA", REPO.parent / "shared/reference/data"))
UPSTREAM_LICENSE = REFERENCE / "upstream-LICENSE"


@pytest.fixture
def release(raw_tree, tmp_path):
    out = tmp_path / "release"
    build_release(raw_tree, out)
    return out


def _bare_tree(root: Path) -> Path:
    root = write_raw_tree(root)
    (root / "LICENSE").unlink()
    return root


def test_a_tree_that_states_no_license_fails_the_build_saying_how_to_give_one(tmp_path):
    root = _bare_tree(tmp_path / "raw")
    with pytest.raises(LicenseError, match="LICENSE at its root.*cvc-raw.yaml.*--license"):
        build_release(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert main(["build", "--raw", str(root), "--out", str(tmp_path / "cli")]) == 1
    assert main(["validate", str(root)]) == 1  # a raw tree is checked for it too


def test_a_hub_id_in_the_raw_manifest_keeps_the_default_layout(tmp_path):
    root = _bare_tree(tmp_path / "raw")
    (root / "cvc-raw.yaml").write_text("license: apache-2.0\n", encoding="utf-8")
    report = build_release(root, tmp_path / "out")
    assert report.counts["rules"]["published"] > 0  # the files were found where the default layout puts them
    card = read_card_metadata(tmp_path / "out")
    assert card["license"] == "apache-2.0" and "license_name" not in card
    manifest = json.loads((tmp_path / "out/manifest.json").read_text(encoding="utf-8"))
    assert (manifest["license"]["id"], manifest["license"]["given_by"]) == ("apache-2.0", "cvc-raw.yaml")
    assert "apache-2.0" in (tmp_path / "out/LICENSE").read_text(encoding="utf-8")


def test_other_needs_a_name_and_a_link_or_the_text(tmp_path):
    root = _bare_tree(tmp_path / "raw")
    (root / "cvc-raw.yaml").write_text("license: {id: other, name: lab-terms-2.0}\n", encoding="utf-8")
    with pytest.raises(LicenseError, match="needs a `link`"):
        read_license(root)
    (root / "cvc-raw.yaml").write_text("license: {id: other, title: Lab Terms 2.0, link: 'https://example.org/t'}\n",
                                       encoding="utf-8")
    stated = read_license(root)
    assert (stated.id, stated.name, stated.link) == ("other", "lab-terms-2.0", "https://example.org/t")
    (root / "cvc-raw.yaml").write_text("license: cc-by-9.9\n", encoding="utf-8")
    with pytest.raises(LicenseError, match="not a Hub license id"):
        read_license(root)


def test_the_command_line_overrides_and_is_recorded(raw_tree, tmp_path):
    out = tmp_path / "out"
    assert main(["build", "--raw", str(raw_tree), "--out", str(out), "--license", "cc0-1.0"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["license"]["id"], manifest["license"]["given_by"]) == ("cc0-1.0", "--license")
    assert read_card_metadata(out)["license"] == "cc0-1.0"
    assert main(["build", "--raw", str(raw_tree), "--out", str(tmp_path / "bad"), "--license", "nope"]) == 1


def test_a_license_file_alone_is_shipped_and_declared_the_hubs_way(release):
    card = read_card_metadata(release)
    assert (card["license"], card["license_link"]) == ("other", "LICENSE") and card["license_name"]
    assert validate_release(release).ok
    text = (release / "README.md").read_text(encoding="utf-8")
    assert '> Citation: "The CVC builder\'s test tree" (2026).' in text  # the attribution the license requires
    card_without_link = text.replace("license_link: LICENSE\n", "", 1)
    (release / "README.md").write_text(card_without_link, encoding="utf-8")
    assert any("license: other needs license_link" in e for e in validate_release(release).errors)


@pytest.mark.skipif(not UPSTREAM_LICENSE.exists(), reason="upstream's LICENSE is kept beside the repository")
def test_upstreams_license_file_gives_its_name_and_required_attribution(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    shutil.copy(UPSTREAM_LICENSE, root / "LICENSE")  # a temporary tree; never into the repository
    stated = read_license(root)
    assert stated.id == "other" and stated.title.startswith("Academic Research License (Non-Commercial), Version 1.1")
    assert stated.attribution.startswith("Citation: *\"Chinese Value Corpus")
    assert "Acknowledgment: \"This research uses data from the Chinese Value Corpus (CVC)" in stated.attribution


def test_attribution_is_the_paragraph_after_each_label():
    text = "Terms\n\nCitation:\n\"A paper\" (2025).\n\nAcknowledgment:\nThanks to\nthe lab.\n\n4. Other\n"
    assert attribution_in(text) == 'Citation: "A paper" (2025).\n\nAcknowledgment: Thanks to the lab.'
    assert attribution_in("no requirement here") is None


def test_a_license_change_shows_in_the_diff_and_needs_a_major_bump(raw_tree, tmp_path):
    v1 = tmp_path / "v1"
    build_release(raw_tree, v1, license_id="cc-by-4.0")
    with pytest.raises(BuildError, match="major"):
        build_release(raw_tree, tmp_path / "v1.1", previous=v1, license_id="cc-by-nc-4.0",
                      settings=_version("1.1.0"))
    report = build_release(raw_tree, tmp_path / "v2", previous=v1, bump="auto", license_id="cc-by-nc-4.0")
    assert report.version == "2.0.0"
    diff = diff_releases(ReleaseView.open(v1), ReleaseView.open(tmp_path / "v2"))
    assert diff.bump() == "major" and [e["id"] for e in diff.license] == ["cc-by-4.0", "cc-by-nc-4.0"]
    assert "license changed: cc-by-4.0 → cc-by-nc-4.0" in diff.to_text()
    assert "- license changed: cc-by-4.0 → cc-by-nc-4.0" in (tmp_path / "v2/CHANGELOG.md").read_text(encoding="utf-8")
    same = build_release(raw_tree, tmp_path / "v2.0.1", previous=tmp_path / "v2", bump="auto",
                         license_id="cc-by-nc-4.0")
    assert same.diff.license is None and same.version == "2.0.1"


def _version(version):
    from builders.context import BuildSettings

    return BuildSettings(version=version)


def test_no_license_is_written_into_the_code():
    for path in ("CVC.py", "builders/release/card.py", "builders/build.py", "dataset_card/sources.md",
                 "dataset_card/template.md", "dataset_card/citation.md"):
        text = (REPO / path).read_text(encoding="utf-8").casefold()
        for stated in ("cc-by-4.0", "cc by 4.0", "license=\"", "released under"):
            assert stated not in text, (path, stated)
