"""The real v1 English file (``C-VARC(EN).jsonl``, 10,000 rows) builds, where it is kept beside the repository.

Upstream's license forbids redistributing the file, so it is never copied into the repository:
it lives in ``../shared/reference/data/`` (CI has it there), read in place through links in a
temporary raw tree (``CVC_REFERENCE_DATA`` names another place).
"""

import json
import os
from pathlib import Path

import pytest

from builders.build import build_release

DATA = Path(os.environ.get("CVC_REFERENCE_DATA", Path(__file__).resolve().parents[2].parent / "shared/reference/data"))
ENGLISH = DATA / "C-VARC-EN.jsonl"

pytestmark = pytest.mark.skipif(not ENGLISH.exists(), reason=f"the real v1 English file is not at {ENGLISH}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("v1")
    raw = root / "raw"
    raw.mkdir()
    (raw / "C-VARC(EN).jsonl").symlink_to(ENGLISH)  # the name v1 published it under
    (raw / "LICENSE").symlink_to(DATA / "upstream-LICENSE")
    report = build_release(raw, root / "out", report_dir=root / "report")
    return root, report


def test_every_row_is_published_or_folded_and_none_is_rejected(built):
    root, report = built
    counts = report.counts["rules_en"]
    assert counts["read"] == 10_000 == counts["published"] + counts["folded"] + counts["rejected"]
    assert (counts["published"], counts["folded"], counts["rejected"]) == (9_787, 213, 0)
    assert sum(c["read"] for name, c in report.counts.items() if name != "rules_en") == 0
    folds = [json.loads(line) for line in (root / "report/folds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {f["reason"] for f in folds} == {"same rule text"}


def test_every_label_maps_and_the_hierarchy_repairs_are_recorded(built):
    root, report = built
    notes = report.notes["rules_en"]
    assert (notes["rows_hierarchy_closed"], notes["rows_hierarchy_contradicted"]) == (1_624, 2_273)
    repairs = (root / "report/repairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(repairs) == len({(r["file"], r["line"]) for r in map(json.loads, repairs)})
    import pyarrow.parquet as pq

    table = pq.read_table(root / "out/data/rules_en")
    derived = {v for values in table.column("derived_values_en").to_pylist() for v in values}
    assert "Maintaining national unity" in derived and len(derived) == 50


def test_the_release_states_upstreams_license(built):
    root, _ = built
    manifest = json.loads((root / "out/manifest.json").read_text(encoding="utf-8"))
    assert manifest["license"]["id"] == "other" and manifest["license"]["given_by"] == "LICENSE"
    assert (root / "out/LICENSE").read_text(encoding="utf-8") == (DATA / "upstream-LICENSE").read_text(encoding="utf-8")
