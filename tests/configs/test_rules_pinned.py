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
    "raw_tree/off": "5d9b5fe774984467411347f5d9c1f8d3f4eff3f8d93328a90bc0c6315425b955",
    "raw_tree/mark": "3dfc932bb9661a0863fa54ff6d69b39a52f6d68623d675471779ff07c268e99e",
    "raw_tree/fold": "3dfc932bb9661a0863fa54ff6d69b39a52f6d68623d675471779ff07c268e99e",
    "odd_cells_tree/off": "489d2bedc3cbdeac61f10df674a9f8bac6cef277616c2c2640a1ad8e6793c9e3",
    "odd_cells_tree/mark": "444b3ca3159d4f87ce22000207b1d5fee9711765501febd3ad03e642aba8d9ab",
    "odd_cells_tree/fold": "444b3ca3159d4f87ce22000207b1d5fee9711765501febd3ad03e642aba8d9ab",
    "two_master_tables_tree/off": "b668d9e72644acaeec4168b9a9311f1422b3422b0ec6a4d18011097d117e5783",
    "two_master_tables_tree/mark": "5b0f7336a0e5f15c5f296fbd639963d84bb4bc3b51f5705b2994d48e3438f6bf",
    "two_master_tables_tree/fold": "5b0f7336a0e5f15c5f296fbd639963d84bb4bc3b51f5705b2994d48e3438f6bf",
    "label_mix_tree/off": "25c5cda75e388b8d43114b1dc6cd3ba09c7eda15af7057c6e2062e11b86eeb3f",
    "label_mix_tree/mark": "9855871c9a8398a0b6389efb15d428a721bb34e5e6a5b0c46c4630af02f61af6",
    "label_mix_tree/fold": "7270483079d6fc4ed124a43b2e69ef1fc3b6401a1effbd4b50f67f485802d42a",
    "sample/off": "bcbc33005aec24a989fadd4b6e4a10010b38de4a62bba0e153a0f23138c2f895",
    "sample/mark": "2355e0213f656c099e40b0f3d00600bf11f569a7bec461c938a73bbd5d494135",
    "sample/fold": "fe957f9c6c011b7234dccaa1884034c0eeb884471ea5e527cab446c396c49b91",
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
