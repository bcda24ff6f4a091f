"""What a new version uploads to Xet storage, with and without content-defined chunking of Parquet pages.

Builds a raw tree (``cvc synth`` output) as v1, then v2 from a copy with one change to the master
table, finds the shards that changed, and cuts both versions of each into chunks the way Xet
does: a gear hash over a 64-byte window, a chunk ends where the hash's top 16 bits are zero
(64 KiB on average), no chunk under 8 KiB or over 128 KiB (xet-core's TARGET_CHUNK_SIZE,
MINIMUM_CHUNK_DIVISOR and MAXIMUM_CHUNK_MULTIPLIER). A v2 chunk whose SHA-256 is among v1's chunks
is deduplicated; the others are uploaded. The same is measured for the same tables written without
content-defined chunking (fixed-size pages, no page index: the writer before it). It also times
writing every config's shards both ways and compares their sizes.

    python benchmarks/cdc.py --raw bench-work/raw --work bench-work/cdc --change edit
    python benchmarks/cdc.py --raw bench-work/raw --work bench-work/cdc --change insert

``edit`` rewrites one rule's English translation (same id, same row); ``insert`` adds one rule (its
id sorts among the others, so every row after it moves by one). ``--layout id-prefix`` also measures
shards and row groups cut by id prefix instead of by row count (a layout the build does not use).
Results go to ``<work>/cdc.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders.build import build_release  # noqa: E402
from builders.context import BuildSettings  # noqa: E402
from builders.schema import features  # noqa: E402
from builders.stages.writer import CDC_OPTIONS, dictionary_columns, write_shards  # noqa: E402

TARGET, MIN_CHUNK, MAX_CHUNK = 64 * 1024, 8 * 1024, 128 * 1024
_MASK = np.uint64(0xFFFF << 48)
_GEAR = np.random.default_rng(0x5EED).integers(0, 2**64, size=256, dtype=np.uint64)
"""A fixed random table: one 64-bit value per byte value (the gear)."""


def chunk_boundaries(data: bytes) -> list[int]:
    """End offsets of the content-defined chunks of ``data`` (gear hash, Xet's sizes).

    The gear hash after byte i is sum(gear[data[i-k]] << k for k < 64) mod 2**64 (each step shifts
    the state left by one and adds the next byte's gear value), computed for every i at once; a
    chunk that starts at s ends after the first i >= s + MIN_CHUNK - 1 whose top 16 bits are zero,
    or at s + MAX_CHUNK. The hash depends only on the last 64 bytes, so it does not matter that
    Xet restarts it at each chunk start (chunks are longer than 64 bytes).
    """
    gear = _GEAR[np.frombuffer(data, dtype=np.uint8)]
    state = gear.copy()
    for k in range(1, 64):
        state[k:] += gear[:-k] << np.uint64(k)
    candidates = np.flatnonzero((state & _MASK) == 0)
    ends, start = [], 0
    while start < len(data):
        i = np.searchsorted(candidates, start + MIN_CHUNK - 1)
        end = int(candidates[i]) + 1 if i < len(candidates) else len(data)
        end = min(end, start + MAX_CHUNK, len(data))
        ends.append(end)
        start = end
    return ends


def chunks(data: bytes) -> list[tuple[str, int]]:
    """(SHA-256, size) of each chunk."""
    out, start = [], 0
    for end in chunk_boundaries(data):
        out.append((hashlib.sha256(data[start:end]).hexdigest(), end - start))
        start = end
    return out


def new_bytes(old: bytes, new: bytes) -> tuple[int, int, int]:
    """Bytes of ``new`` in chunks ``old`` does not have, the number of such chunks, and of all chunks."""
    known = {digest for digest, _ in chunks(old)}
    cut = chunks(new)
    missing = [size for digest, size in cut if digest not in known]
    return sum(missing), len(missing), len(cut)


def change_master_table(raw: Path, copy: Path, change: str) -> str:
    """A copy of the raw tree (hard links) whose master table has one rule edited or one rule added."""
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(raw, copy, copy_function=os.link)
    master = copy / "data_control" / "final.csv"
    lines = master.read_bytes().decode("gbk").split("\n")
    if change == "edit":
        row = len(lines) // 2
        fields = lines[row].split(",")
        fields[1] = fields[1] + " (revised)"
        lines[row] = ",".join(fields)
        what = f"line {row + 1}: English translation edited"
    else:
        lines.insert(len(lines) // 2, "一条新加入的规则：应该在图书馆保持安静,A new rule: keep quiet in libraries.,"
                                      "社会,文明,文明礼仪")
        what = f"line {len(lines) // 2 + 1}: one rule added"
    master.unlink()  # a hard link to the original: write a new file instead
    master.write_bytes("\n".join(lines).encode("gbk"))
    return what


def _tables(release: Path) -> dict[str, pa.Table]:
    """Each config's rows as the build wrote them (read back, with the build's Arrow schema: Parquet
    reads lists back with items named ``element``, the build names them ``item``)."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return {name: pa.concat_tables([pq.read_table(release / f) for split in spec["splits"].values()
                                    for f in split["files"]]).cast(features(name).arrow_schema)
            for name, spec in manifest["configs"].items() if "alias_of" not in spec}


def _rewrite(release: Path, out: Path, settings: BuildSettings, cdc: bool) -> dict[str, float]:
    """Write every config's rows again (cdc on or off) under ``out``; seconds per config."""
    seconds = {}
    for name, table in _tables(release).items():
        start = time.perf_counter()
        write_shards(table, out, name, "train", shard_rows=settings.shard_rows,
                     row_group_rows=settings.row_group_rows, cdc=cdc)
        seconds[name] = time.perf_counter() - start
    return seconds


def compare(old_root: Path, new_root: Path) -> dict[str, dict]:
    """For each shard whose bytes changed: its size, the bytes of its chunks ``old_root`` lacks, and their
    share of the shard and of all the config's shards (what a consumer of the whole config downloads)."""
    out = {}
    for shard in sorted((new_root / "data").rglob("*.parquet")):
        rel = shard.relative_to(new_root).as_posix()
        old_path = old_root / rel
        new = shard.read_bytes()
        if old_path.exists() and old_path.read_bytes() == new:
            continue
        missing, missing_chunks, all_chunks = new_bytes(old_path.read_bytes() if old_path.exists() else b"", new)
        config_size = sum(p.stat().st_size for p in shard.parent.glob("*.parquet"))
        out[rel] = {"size": len(new), "upload": missing, "share": round(missing / len(new), 4),
                    "config_size": config_size, "config_share": round(missing / config_size, 4),
                    "chunks_uploaded": missing_chunks, "chunks": all_chunks}
    return out


def write_by_id_prefix(table: pa.Table, out: Path, config: str, row_group_rows: int, *, cdc: bool) -> None:
    """A layout whose boundaries do not count rows: one shard per first hex digit of the id (``rule-3…``),
    row groups cut where the first two digits change (rows are sorted by id). An added row then changes one
    shard and one row group. Configs whose ids are not hex digests keep the build's layout."""
    string_ids = pa.types.is_string(table.schema.field("id").type)
    heads = [i.rsplit("-", 1)[-1] for i in table.column("id").to_pylist()] if string_ids else []
    if not heads or not all(len(h) >= 8 and all(c in "0123456789abcdef" for c in h) for h in heads):
        write_shards(table, out, config, "train", shard_rows=10**9, row_group_rows=row_group_rows, cdc=cdc)
        return
    digits = sorted({h[0] for h in heads})
    for n, digit in enumerate(digits):
        rows = sorted((i for i, h in enumerate(heads) if h[0] == digit), key=heads.__getitem__)
        part = table.take(pa.array(rows))
        keys = [heads[i][:2] for i in rows]
        cuts = [0, *[k for k in range(1, len(keys)) if keys[k] != keys[k - 1]], len(keys)]
        target = out / "data" / config / f"train-{n:05d}-of-{len(digits):05d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        options = {"use_content_defined_chunking": CDC_OPTIONS if cdc else False, "write_page_index": cdc}
        with pq.ParquetWriter(target, part.schema, compression="zstd", write_statistics=True,
                              use_dictionary=dictionary_columns(part, row_group_rows), **options) as writer:
            for a, b in zip(cuts, cuts[1:], strict=False):
                writer.write_table(part.slice(a, b - a), row_group_size=b - a)


def _sizes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "data").rglob("*.parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="raw tree (cvc synth output)")
    parser.add_argument("--work", type=Path, required=True, help="work directory (wiped first)")
    parser.add_argument("--change", choices=["edit", "insert"], default="edit")
    parser.add_argument("--repeat", type=int, default=3, help="times each rewrite is timed (median)")
    parser.add_argument("--layout", choices=["rows", "id-prefix"], default="rows",
                        help="id-prefix: also measure shards and row groups cut by id prefix (exploratory)")
    parser.add_argument("--row-group-rows", type=int, default=BuildSettings.row_group_rows,
                        help="rows per Parquet row group of both builds (default: the build's)")
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    settings = BuildSettings(version="1.0.0", row_group_rows=args.row_group_rows)

    start = time.perf_counter()
    v1 = build_release(args.raw, args.work / "v1", settings).release_dir
    build_seconds = time.perf_counter() - start
    what = change_master_table(args.raw, args.work / "raw2", args.change)
    v2 = build_release(args.work / "raw2", args.work / "v2", replace(settings, version="1.0.1")).release_dir

    results: dict = {"change": what, "row_group_rows": settings.row_group_rows,
                     "build_seconds_v1": round(build_seconds, 2)}
    variants = {"cdc": (v1, v2)}
    fixed = {}
    for name, release in (("v1", v1), ("v2", v2)):
        fixed[name] = args.work / f"{name}-fixed-pages"
        _rewrite(release, fixed[name], settings, cdc=False)
        again = args.work / f"{name}-again"
        _rewrite(release, again, settings, cdc=True)
        same = all((again / p.relative_to(release)).read_bytes() == p.read_bytes()
                   for p in (release / "data").rglob("*.parquet"))
        results[f"{name}_rewrite_reproduces_the_build"] = same
        shutil.rmtree(again)
    variants["fixed"] = (fixed["v1"], fixed["v2"])
    if args.layout == "id-prefix":
        for mode in ("cdc", "fixed"):
            roots = tuple(args.work / f"{name}-id-prefix-{mode}" for name in ("v1", "v2"))
            for release, root in zip((v1, v2), roots, strict=True):
                for config, table in _tables(release).items():
                    write_by_id_prefix(table, root, config, settings.row_group_rows, cdc=mode == "cdc")
            variants[f"id-prefix {mode}"] = roots
    results["variants"] = {name: compare(*roots) for name, roots in variants.items()}
    for name, shards in results["variants"].items():
        for rel, entry in shards.items():
            print(f"{name:>16}  {rel}: {entry['upload']:,} of {entry['size']:,} bytes ({entry['share']:.1%} of the "
                  f"shard, {entry['config_share']:.2%} of the config's {entry['config_size']:,})")

    timings: dict[str, list[float]] = {"cdc": [], "fixed": []}
    for _ in range(args.repeat):
        for mode in ("fixed", "cdc"):
            out = args.work / f"timing-{mode}"
            timings[mode].append(sum(_rewrite(v1, out, settings, cdc=mode == "cdc").values()))
            size = _sizes(out)
            results[f"size_{mode}"] = size
            shutil.rmtree(out)
    results["write_seconds"] = {mode: [round(t, 3) for t in ts] for mode, ts in timings.items()}
    results["write_seconds_median"] = {mode: round(statistics.median(ts), 3) for mode, ts in timings.items()}
    (args.work / "cdc.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "variants"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
