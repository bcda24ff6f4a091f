"""Hand-made release directories and Hub test settings for the publish tests.

``make_release`` writes the layout ``cvc build`` produces (card with ``configs:``,
Parquet shards, schema, manifest with hashes, changelog) without running the build, so
the publish tests control every byte of a release; columns and schema come from ``schemas/``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import constants

from builders.schema import features, schema_bytes

SHARD_ROWS = 3
TOKEN = "hf_TESTSECRETtoken0123456789abcdef"
"""A recognisable fake token: tests assert it never shows up anywhere."""
RULES_SCHEMA = features("rules").arrow_schema
"""The columns of the ``rules`` config, derived from ``schemas/rules.schema.json``."""
_VALUES = [
    (["国家"], ["文明"], ["文明礼仪"]),
    (["个人"], ["诚信"], ["信守承诺"]),
    (["社会"], ["法治"], ["全民守法"]),
    (["个人"], ["友善"], ["关爱他人"]),
]


def rule_row(i: int, text: str) -> dict:
    """One valid ``rules`` row; ``i`` picks the id and the values."""
    dimensions, core, derived = _VALUES[i % len(_VALUES)]
    return {
        "id": f"rule-{i:016x}",
        "rule": text,
        "rule_en": f"Rule {i}.",
        "original_rule": text,
        "rewritten": False,
        "dimensions": dimensions,
        "core_values": core,
        "derived_values": derived,
        "source": "human_curated",
        "label": 1,
        "label_origin": "human",
        "labeler": "human",
        "cluster_id": f"rule-{i:016x}",
    }


def sample_rows(n: int = 5) -> list[dict]:
    """``n`` distinct rules."""
    texts = [
        "不应该在公共场所吸烟。",
        "借钱应该按时归还。",
        "执政者必须依法行使权力。",
        "应该主动帮助迷路的老人。",
        "考试作弊是不诚实的行为。",
        "应该节约粮食。",
        "爱护公共设施是每个公民的责任。",
    ]
    return [
        rule_row(i, texts[i % len(texts)] + ("" if i < len(texts) else str(i))) for i in range(n)
    ]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _card(version: str) -> str:
    return f"""---
license: cc-by-4.0
language:
- zh
pretty_name: Chinese Values Corpus (CVC), test release
version: {version}
configs:
- config_name: default
  data_files:
  - split: cvc
    path: data/rules/train-*.parquet
  default: true
- config_name: rules
  data_files:
  - split: train
    path: data/rules/train-*.parquet
---

# Chinese Values Corpus (test release v{version})

`load_dataset("Beijing-AISI/CVC", "rules", revision="v{version}")`
"""


def make_release(
    root: Path, version: str, rows: list[dict], *, shard_rows: int = SHARD_ROWS
) -> Path:
    """Write a release directory for ``version`` holding ``rows`` as the ``rules`` config.

    ``default`` points at the same shards with the split ``cvc``. The same rows give the
    same bytes, so a shard whose rows did not change is identical across versions.
    """
    root = Path(root)
    table = pa.Table.from_pylist(rows, schema=RULES_SCHEMA)
    count = max(1, math.ceil(len(rows) / shard_rows))
    shards = [f"data/rules/train-{i:05d}-of-{count:05d}.parquet" for i in range(count)]
    for i, rel in enumerate(shards):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(i * shard_rows, shard_rows), root / rel, compression="zstd")
    schema = schema_bytes("rules")
    (root / "schemas").mkdir(exist_ok=True)
    (root / "schemas/rules.schema.json").write_bytes(schema)
    (root / "README.md").write_text(_card(version), encoding="utf-8")
    (root / "CHANGELOG.md").write_text(
        f"# Changelog\n\n## v{version}\n\n- {len(rows)} rules\n", encoding="utf-8"
    )

    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        files[rel] = {"sha256": _sha256(data), "size": len(data)}
        if rel.endswith(".parquet"):
            files[rel]["num_rows"] = pq.ParquetFile(path).metadata.num_rows

    def config(split: str, **extra: str) -> dict:
        return {
            "schema": "schemas/rules.schema.json",
            "schema_sha256": _sha256(schema),
            **extra,
            "splits": {split: {"files": shards, "num_rows": len(rows)}},
        }

    manifest = {
        "name": "CVC",
        "version": version,
        "builder_version": "0.1.0",
        "configs": {"default": config("cvc", alias_of="rules"), "rules": config("train")},
        "files": files,
        "inputs": {},
        "settings": {"shard_rows": shard_rows},
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (root / "manifest.json").write_text(text, encoding="utf-8")
    return root


def shard_hashes(release: Path) -> dict[str, str]:
    """sha256 of every Parquet shard of a release, from its manifest."""
    files = json.loads((Path(release) / "manifest.json").read_text(encoding="utf-8"))["files"]
    return {rel: entry["sha256"] for rel, entry in files.items() if rel.endswith(".parquet")}


def isolate_hub_client(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point the in-process client at nothing but the test Hub.

    LFS rather than Xet uploads (the test Hub speaks LFS), caches and token files under
    ``home``, no ambient ``HF_TOKEN``, no progress bars. ``huggingface_hub`` reads these
    at import time, so the constants are patched too (constants only, never behaviour).
    """
    env = {
        "HF_HOME": home,
        "HF_HUB_CACHE": home / "hub",
        "HF_DATASETS_CACHE": home / "datasets",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    tqdm_module = importlib.import_module("huggingface_hub.utils.tqdm")
    monkeypatch.setattr(tqdm_module, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / ".agent_harnesses.json"))


def point_client_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Make the test Hub the default endpoint, in this process and in child processes.

    Even with ``HfApi(endpoint=...)`` the client sends a few requests to its default
    endpoint (the agent-harness registry, when it builds headers); they must not leave
    127.0.0.1.
    """
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
