"""The whole rules build of each corner-case tree, pinned: its rows, every ledger entry, the
repairs, the notes, the keys handed to the rule index, the aliases and the near-duplicate
clusters. A rewrite of the build that keeps these keeps every policy in every corner.

A change of output on purpose updates the digests in a commit of its own that says why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from builders.build import collect
from builders.context import BuildContext, BuildSettings
from builders.resources import sample_raw_dir
from builders.stages.near_dedup import NearDupSettings
from tests.configs import rules_trees
from tests.conftest import write_raw_tree

TREES = {
    "raw_tree": write_raw_tree,
    "odd_cells_tree": rules_trees.odd_cells_tree,
    "two_master_tables_tree": rules_trees.two_master_tables_tree,
    "label_mix_tree": rules_trees.label_mix_tree,
}
DIGESTS = {
    "raw_tree/off": "202aba15907140747cdefcafe50bdbef4a411d2c94c7107726b94df7262d6c9a",
    "raw_tree/mark": "682b1821787f50d85eae4dc4c8bed28c3aa62eaa8d1c0e7fae0713129ef8176d",
    "raw_tree/fold": "682b1821787f50d85eae4dc4c8bed28c3aa62eaa8d1c0e7fae0713129ef8176d",
    "odd_cells_tree/off": "cf3b31e050ba1e95e2c903c89756e61ced2ad451dff71929cfccc594d1e505f5",
    "odd_cells_tree/mark": "321c9e570db2ba19b9e533afe0cafd588d8badbd9d6ab11896497983323249ab",
    "odd_cells_tree/fold": "321c9e570db2ba19b9e533afe0cafd588d8badbd9d6ab11896497983323249ab",
    "two_master_tables_tree/off": "d682205a9b0637f2adc7c714e7572024cf916b25d58305c4ee1b3e1cb694a31b",
    "two_master_tables_tree/mark": "8db687afe8a114b843a89e0f88221946777a0dcc6ed84ee968595da2c3ad7911",
    "two_master_tables_tree/fold": "8db687afe8a114b843a89e0f88221946777a0dcc6ed84ee968595da2c3ad7911",
    "label_mix_tree/off": "db866f576420df8f5ea4a443167855005b6a5a6e95859a079b8cc0c2d8de744a",
    "label_mix_tree/mark": "a62de910128d417ef922cf3fecdac1ed1ade5c90c89b90bcf8669e110180559c",
    "label_mix_tree/fold": "819dde8f594769e17c8279ebddebc6075f904ebf3c75ab622e1e7fe258be3070",
    "sample/off": "2761e50f3f9e6d6e5a7507822b8bb8f95e57ea7e0bafce1f9a5ea293c6680ec0",
    "sample/mark": "5bb4302d0f8c5e93774c33b25bb3e81ca5f6e1ffce4830b85d0481d0fb978e0a",
    "sample/fold": "b5294e2cd2f2c6cc00fd5616c78620880804aee50d73e469b08aba28da7145a6",
}


def fingerprint(ctx: BuildContext) -> str:
    """The SHA-256 of everything the rules build hands on, as JSON."""
    state = {
        "rows": ctx.results["rules"].to_pylist(),
        "ledger": [{name: getattr(e, name) for name in e.__slots__} for e in ctx.ledger.entries()],
        "repairs": ctx.repairs, "notes": ctx.notes.get("rules"),
        "keys": ctx.rule_keys(), "aliases": sorted(ctx.rule_aliases.items()),
        "near": ctx.near_duplicates.get("rules"),
    }
    return hashlib.sha256(json.dumps(state, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


@pytest.mark.parametrize("mode", ["off", "mark", "fold"])
@pytest.mark.parametrize("tree", sorted(TREES))
def test_rules_build_of_each_corner_case_tree_is_pinned(tmp_path: Path, tree: str, mode: str):
    root = TREES[tree](tmp_path / "raw")
    ctx = collect(root, BuildSettings(near_dup=NearDupSettings(mode=mode)))
    assert fingerprint(ctx) == DIGESTS[f"{tree}/{mode}"]


@pytest.mark.parametrize("mode", ["off", "mark", "fold"])
def test_rules_build_of_the_sample_is_pinned(mode: str):
    ctx = collect(sample_raw_dir(), BuildSettings(near_dup=NearDupSettings(mode=mode)))
    assert fingerprint(ctx) == DIGESTS[f"sample/{mode}"]
