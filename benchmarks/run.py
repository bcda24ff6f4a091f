"""Time the CVC build beside the naive pipeline and the floor, in one run on one synthetic tree.

    python benchmarks/run.py --rules 257609 --dilemmas 404000

Each step runs in its own process (so peak memory is its own) and prints one JSON line;
this script prints a table with times, peak memory and ratios. The tree is flushed to disk
before any step is timed, and the two short steps whose ratio is the target, ours (rules) and
the floor, run ``--repeat`` times in turn: their median is reported, with every run. Steps:

- ours (rules):  ``cvc build --near-dup off`` of a tree holding only the master table (read,
  parse, normalize, validate every row, exact dedup, ids, Parquet, card, manifest);
- ours (rules+near-dup): the same with near-duplicate clusters marked (the default build);
- naive (rules): pandas ``read_csv``, a dict per row checked with ``jsonschema``,
  ``datasets.Dataset.from_list``, ``to_parquet``;
- floor (rules): pyarrow reads the same CSV and writes Parquet, no checks;
- ours (all):    ``cvc build`` (near-duplicates marked) of every config from the whole tree;
- validate:      the columnar validator against per-row ``jsonschema`` on the built rules
  with corrupted rows (they must reject exactly the same rows);
- near-dup:      ours against ``datasketch.MinHashLSH`` on the rule texts, with pairwise
  precision and recall against the planted groups.

``--v1 DIR`` instead builds the real v1 English file kept in ``DIR`` (``C-VARC-EN.jsonl`` or
``C-VARC(EN).jsonl``, with upstream's LICENSE as ``upstream-LICENSE`` or ``LICENSE``), linked into
a raw tree, never copied, and prints rows read / published / folded / rejected and the repairs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from itertools import combinations
from pathlib import Path


class _TreeMemory:
    """The resident memory of a step's process and all its descendants together, sampled every 20 ms
    (Linux) from this process, not the step's: a sampling thread in the step would take the GIL from
    the step's main thread (it slowed the full build by a quarter).

    A build's worker processes (prefetch, near-duplicates) run beside it, so the memory a machine
    needs is their sum, which no single process's peak shows. A child that has not run its own
    program yet (``subprocess`` starts one with ``vfork``: until ``exec`` it *is* its parent's memory,
    and reports its parent's resident size) is not counted: a sample taken in that instant counted
    the build twice (3.5 GB for a build of 2.1 GB plus its workers).
    """

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop sampling; the peak in kB."""
        self._done.set()
        self._thread.join()
        return self.peak_kb

    @staticmethod
    def _tree(pid: int) -> list[int]:
        """``pid`` and its descendants, from each thread's ``/proc/<pid>/task/<tid>/children``."""
        tree, todo = [], [pid]
        while todo:
            tree.append(todo.pop())
            with contextlib.suppress(OSError):  # a process that just ended
                for task in Path(f"/proc/{tree[-1]}/task").iterdir():
                    todo += map(int, (task / "children").read_text().split())
        return tree

    @staticmethod
    def _rss_kb(pid: int) -> int:
        """Resident kB of ``pid``; 0 for a child still running its parent's program (not exec'd yet)."""
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        parent = int(status["PPid"])
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() == Path(f"/proc/{parent}/cmdline").read_bytes():
                return 0
        return int(status.get("VmRSS", "0 kB").split()[0])

    def _sample(self) -> None:
        if not Path("/proc/self/status").exists():
            return
        while not self._done.wait(0.02):
            total = 0
            for pid in self._tree(self.pid):
                with contextlib.suppress(OSError, KeyError, ValueError):  # the process just ended
                    total += self._rss_kb(pid)
            self.peak_kb = max(self.peak_kb, total)


def _peak_mb() -> float:
    """Peak resident memory of the largest single process of this step so far (itself or a worker);
    :func:`_run_step` takes the larger of this and the sampled sum of them all."""
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def step_ours(tree: Path, work: Path, near_dup: str = "mark", num_proc: int = 1, previous: str = "") -> dict:
    """``build_release`` of ``tree``; with ``previous`` (a release directory) a versioned build, ``--bump auto``."""
    from builders.build import build_release
    from builders.context import BuildSettings
    from builders.stages.near_dedup import NearDupSettings

    name = f"{tree.name}-{near_dup}" + ("-versioned" if previous else "")
    out = work / f"release-{name}"
    shutil.rmtree(out, ignore_errors=True)
    settings = BuildSettings(near_dup=NearDupSettings(mode=near_dup))
    start, cpu = time.perf_counter(), _cpu_seconds()
    report = build_release(tree, out, settings, report_dir=work / f"report-{name}", num_proc=num_proc,
                           previous=previous or None, bump="auto" if previous else None)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu_seconds() - cpu,
            "rows": {c: v["published"] for c, v in report.counts.items()},
            "near_duplicates": report.notes.get("rules", {}).get("near_duplicate_members", 0),
            **({"version": report.version, "bump": report.diff.bump()} if report.diff else {})}


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (the build's worker processes)."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                        resource.RUSAGE_CHILDREN)))


def edited_tree(tree: Path, out: Path) -> Path:
    """``tree`` (hard-linked) with three rules of the master table edited (one's translation, one's
    values, one's text) and one rule added: the next version of a corpus, for the versioned build."""
    import csv
    import io

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(tree, out, copy_function=os.link)
    master = out / "data_control/final.csv"
    rows = list(csv.reader(io.StringIO(master.read_bytes().decode("gbk"), newline="")))
    master.unlink()  # a new file: the hard link still is tree's
    rows[1][1] += " (revised)"
    rows[2][2:] = next(r[2:] for r in rows[3:] if r[2:] != rows[2][2:] and all(r[2:]))
    rows[3][0] = rows[3][0][:2] + "认真" + rows[3][0][2:]
    rows.append(["在社区里主动帮助邻居搬运重物是值得称赞的", "Helping neighbours carry heavy things is praiseworthy.",
                 *rows[1][2:]])
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\n").writerows(rows)
    master.write_bytes(text.getvalue().encode("gbk"))
    return out


def _naive_row(rot: str, translate: str, level: str, core: str, derived: str) -> dict:
    import hashlib

    split = lambda cell: [v for v in str(cell).split("、") if v and v != "nan"]  # noqa: E731
    row_id = "rule-" + hashlib.sha256(str(rot).encode()).hexdigest()[:16]
    return {"id": row_id, "rule": str(rot),
            "rule_en": translate if isinstance(translate, str) else None, "original_rule": str(rot),
            "rewritten": False, "dimensions": split(level), "core_values": split(core),
            "derived_values": split(derived), "source": "master_table", "label": None, "label_origin": "none",
            "labeler": None, "cluster_id": row_id}


def step_naive(tree: Path, work: Path) -> dict:
    import datasets
    import jsonschema
    import pandas as pd

    from builders.schema import load_schema

    start = time.perf_counter()
    frame = pd.read_csv(tree / "data_control/final.csv", encoding="gbk")
    validator = jsonschema.Draft202012Validator(load_schema("rules"))
    rows, invalid = [], 0
    for rot, translate, level, core, derived in frame.itertuples(index=False):
        row = _naive_row(rot, translate, level, core, derived)
        if validator.is_valid(row):
            rows.append(row)
        else:
            invalid += 1
    datasets.Dataset.from_list(rows).to_parquet(str(work / "naive.parquet"))
    return {"seconds": time.perf_counter() - start, "rows": len(rows), "invalid": invalid}


def step_floor(tree: Path, work: Path) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pacsv.read_csv(tree / "data_control/final.csv", read_options=pacsv.ReadOptions(encoding="gbk"))
    pq.write_table(table, work / "floor.parquet")
    return {"seconds": time.perf_counter() - start, "rows": table.num_rows}


def step_validate(tree: Path, work: Path) -> dict:
    import jsonschema
    import pyarrow as pa
    import pyarrow.parquet as pq

    from builders.schema import features, load_schema
    from builders.stages.validate import TableValidator

    release = work / f"release-{tree.name}-off"
    rows = [r for f in sorted((release / "data/rules").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    for i in range(0, len(rows), 997):  # corrupt about 0.1% of rows, in rotating ways
        rows[i] = {**rows[i], **[{"derived_values": ["勤俭节约"]}, {"id": "bad"}, {"rule": ""},
                                 {"label": 0}][(i // 997) % 4]}
    table = pa.Table.from_pylist(rows, schema=features("rules").arrow_schema)
    schema = load_schema("rules")
    start = time.perf_counter()
    ours = {e.row for e in TableValidator(schema).validate(table)}
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    validator = jsonschema.Draft202012Validator(schema)
    reference = {i for i, row in enumerate(table.to_pylist()) if not validator.is_valid(row)}
    return {"seconds": ours_seconds, "jsonschema_seconds": time.perf_counter() - start, "rows": len(rows),
            "rejected": len(ours), "same_rows": ours == reference}


def _pairs(labels: list[int]) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return {p for members in groups.values() if len(members) > 1 for p in combinations(members, 2)}


def step_synth(tree: Path, work: Path, sizes: str = "{}", seed: int = 0) -> dict:
    """Write the synthetic tree (in its own process, so no later step inherits its memory)."""
    from builders.synth import SynthSizes, synthesize

    start = time.perf_counter()
    truth = synthesize(tree, SynthSizes(**json.loads(sizes)), seed=seed)
    return {"seconds": time.perf_counter() - start, "rows": sum(truth["files"].values())}


def step_neardup(tree: Path, work: Path, num_proc: int = 1) -> dict:
    import csv

    from builders.stages.near_dedup import NearDupSettings, find_clusters
    from builders.stages.normalizers.text import dedup_key

    with open(tree / "data_control/final.csv", encoding="gbk", newline="") as fh:
        rows = [r[0] for r in list(csv.reader(fh))[1:] if r[0]]
    texts = list({dedup_key(t): t for t in reversed(rows)}.values())[::-1]  # after exact dedup, as in the build
    truth = json.loads((tree / "synth_truth.json").read_text(encoding="utf-8"))
    position = {dedup_key(t): i for i, t in enumerate(texts)}
    expected: set[tuple[int, int]] = set()
    for group in truth["near_duplicate_groups"]:  # groups collapsed by exact dedup (same_key) add no pair
        expected |= set(combinations(sorted({position[dedup_key(t)] for t in group["texts"]}), 2))
    settings = NearDupSettings()

    def score(found: set[tuple[int, int]]) -> dict:
        hit = len(found & expected)
        return {"precision": round(hit / len(found), 4) if found else 0.0,
                "recall": round(hit / len(expected), 4) if expected else 1.0, "pairs": len(found)}

    start = time.perf_counter()
    ours = _pairs(find_clusters(texts, **settings.kwargs(), num_proc=num_proc))
    result = {"seconds": time.perf_counter() - start, "texts": len(texts), "planted_pairs": len(expected),
              "num_proc": num_proc, **score(ours), "ours_peak_mb": round(_peak_mb())}  # before datasketch runs
    if num_proc > 1:
        return result  # datasketch ran in the num_proc=1 step
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        result["datasketch"] = "not installed (pip install -e '.[bench]')"
        return result
    start = time.perf_counter()
    # same shingles (bigrams of dedup_key), permutations, bands and threshold; datasketch's own hashing (sha1)
    lsh = MinHashLSH(num_perm=settings.num_perm, params=(settings.bands, settings.num_perm // settings.bands))
    sketches = []
    for i, text in enumerate(texts):
        key = dedup_key(text)
        m = MinHash(num_perm=settings.num_perm, seed=settings.seed)
        m.update_batch([key[j:j + settings.shingle].encode() for j in range(max(1, len(key) - settings.shingle + 1))])
        lsh.insert(i, m)
        sketches.append(m)
    candidates = {tuple(sorted((i, j))) for i, m in enumerate(sketches) for j in lsh.query(m) if j != i}
    found = {(i, j) for i, j in candidates if sketches[i].jaccard(sketches[j]) >= settings.threshold}
    result["datasketch_seconds"] = time.perf_counter() - start
    result["datasketch"] = {**score(found), "candidates": len(candidates)}
    return result


STEPS = {"synth": step_synth, "ours": step_ours, "naive": step_naive, "floor": step_floor, "validate": step_validate,
         "neardup": step_neardup}


def _run_step(name: str, tree: Path, work: Path, *extra: str) -> dict:
    step = subprocess.Popen([sys.executable, __file__, "--step", name, "--tree", str(tree), "--work", str(work),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = _TreeMemory(step.pid)
    stdout, stderr = step.communicate()
    tree_mb = memory.stop() / 1024
    if step.returncode != 0:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else "failed"}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_mb"] = round(max(result["peak_mb"], tree_mb))
    return result


def _median(runs: list[dict]) -> dict:
    """The run of median time among a step's repeated runs, with all their times and the largest peak."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**middle, "runs": [round(r["seconds"], 3) for r in runs], "peak_mb": max(r["peak_mb"] for r in runs)}


def _first(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).exists()), None)


def v1_check(data: Path, work: Path) -> int:
    """Build the real v1 English file and print how every row ended; 1 when it did not build cleanly."""
    from builders.build import build_release

    english = _first(data, ("C-VARC(EN).jsonl", "C-VARC-EN.jsonl"))
    license_file = _first(data, ("LICENSE", "upstream-LICENSE"))
    if english is None:
        print(f"{data}: no C-VARC(EN).jsonl or C-VARC-EN.jsonl", file=sys.stderr)
        return 1
    raw = work / "v1-raw"
    shutil.rmtree(work / "v1-release", ignore_errors=True)
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    (raw / "C-VARC(EN).jsonl").symlink_to(english.resolve())  # the name v1 published it under
    if license_file is not None:
        (raw / "LICENSE").symlink_to(license_file.resolve())
    start = time.perf_counter()
    report = build_release(raw, work / "v1-release", report_dir=work / "v1-report")
    seconds = time.perf_counter() - start
    c, notes = report.counts["rules_en"], report.notes["rules_en"]
    print(f"v1 English file {english.name}: read {c['read']:,}, published {c['published']:,}, folded {c['folded']:,}, "
          f"excluded {c['excluded']:,}, rejected {c['rejected']:,} ({seconds:.2f} s)")
    print(f"repairs: hierarchy closed {notes['rows_hierarchy_closed']:,} rows, contradicted dimension dropped "
          f"{notes['rows_hierarchy_contradicted']:,} rows; near-duplicates (word bigrams) marked: "
          f"{notes['near_duplicate_members']:,} rows in {notes['near_duplicate_clusters']:,} clusters")
    adds_up = c["read"] == c["published"] + c["folded"] + c["excluded"] + c["rejected"]
    return 0 if adds_up and c["read"] and not c["rejected"] else 1


def _option_roles(work: Path, annotations: Path | None = None, copies: int = 0) -> int:
    """Build the option-role sets with a plain build and score the roles against their gold (option_roles_sets)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import option_roles_sets

    work = work.resolve() / "option-roles"
    shutil.rmtree(work, ignore_errors=True)
    text, data = option_roles_sets.report(work, annotations.resolve() if annotations else None)
    print(text)
    if copies:
        timed = data["timing"] = option_roles_sets.timing(copies)
        print(f"text evidence on {timed['dilemmas']:,} paraphrasing dilemmas (dev set copies, "
              f"{timed['rule_pairs']:,} rule pairs): one rule pair at a time {timed['one_pair_at_a_time_s']} s, "
              f"all together (the build's) {timed['together_s']} s, {timed['ratio']}x, "
              f"same roles: {timed['same_roles']}")
    (work / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")
    return 0


CURVE_SCALES = (0.25, 0.5, 1, 2, 4)
"""Multiples of the full corpus the cost curve builds (``--rules`` and the rest give 1×)."""


def _available_mb() -> float:
    """Memory the kernel could still hand out (``MemAvailable``), or infinity where unknown."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def cost_curve(work: Path, sizes: dict[str, int], seed: int, num_proc: int) -> list[dict]:
    """Seconds and peak memory of the rules-only and the all-configs build at each of :data:`CURVE_SCALES`.

    Each scale gets its own synthetic tree (written, built, then deleted). Memory grows about in
    proportion to the corpus, so a scale whose predicted peak (the last one's, scaled) would not fit
    in the memory available now is not started: the curve stops there and says so.
    """
    points: list[dict] = []
    for scale in CURVE_SCALES:
        scaled = {k: max(1, round(v * scale)) for k, v in sizes.items() if k != "models"} | {"models": sizes["models"]}
        if points and "ours (all configs)" in points[-1]:
            last = points[-1]
            predicted = last["ours (all configs)"]["peak_mb"] * scale / last["scale"]
            available = _available_mb()
            if predicted > 0.9 * available:
                points.append({"scale": scale, "sizes": scaled, "stopped": f"predicted peak {predicted:,.0f} MB, "
                               f"{available:,.0f} MB available"})
                break
        tree, rules_only = work / f"curve-{scale}x", work / f"curve-{scale}x-rules"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(rules_only, ignore_errors=True)
        synth = _run_step("synth", tree, work, "--sizes", json.dumps(scaled), "--seed", str(seed))
        point: dict = {"scale": scale, "sizes": scaled, "raw_rows": synth.get("rows")}
        if "error" in synth:
            points.append({**point, "stopped": f"synth failed: {synth['error']}"})
            break
        (rules_only / "data_control").mkdir(parents=True)
        shutil.copy(tree / "data_control/final.csv", rules_only / "data_control/final.csv")
        os.sync()
        procs = ("--num-proc", str(num_proc))
        point["ours (rules)"] = _run_step("ours", rules_only, work, "--near-dup", "off", *procs)
        point["ours (all configs)"] = _run_step("ours", tree, work, "--near-dup", "mark", *procs)
        for built in (tree, rules_only):
            shutil.rmtree(built, ignore_errors=True)
            for suffix in ("off", "mark"):
                shutil.rmtree(work / f"release-{built.name}-{suffix}", ignore_errors=True)
                shutil.rmtree(work / f"report-{built.name}-{suffix}", ignore_errors=True)
        points.append(point)
        print(_curve_line(point), flush=True)
        if any("error" in point[k] for k in ("ours (rules)", "ours (all configs)")):
            break
    return points


def _curve_line(point: dict) -> str:
    if "stopped" in point:
        return f"{point['scale']:>5}×  stopped: {point['stopped']}"
    cells = []
    for step in ("ours (rules)", "ours (all configs)"):
        r = point[step]
        cells.append(f"{r['error']:>20}" if "error" in r else f"{r['seconds']:>9.2f} s {r['peak_mb']:>7,} MB")
    sizes = point["sizes"]
    return f"{point['scale']:>5}×  {sizes['rules']:>10,}  {sizes['dilemmas']:>10,}  " + "  ".join(cells)


def print_curve(work: Path, sizes: dict[str, int], seed: int, num_proc: int) -> list[dict]:
    """Run :func:`cost_curve`, printing a line per scale as it is measured."""
    print(f"\ncost curve (synthetic trees, near-duplicates marked, num_proc={num_proc}):")
    print(f"{'scale':>6}  {'rules':>10}  {'dilemmas':>10}  {'ours (rules)':>22}  {'ours (all configs)':>22}")
    points = cost_curve(work, sizes, seed, num_proc)
    if points and "stopped" in points[-1]:
        print(_curve_line(points[-1]))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=257_609)
    parser.add_argument("--dilemmas", type=int, default=404_000)
    parser.add_argument("--models", type=int, default=17)
    parser.add_argument("--evaluated", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-proc", type=int, default=2,
                        help="processes for our builds and the near-duplicate step (which also runs with 1)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of ours (rules) and the floor, in turn; the median is reported")
    parser.add_argument("--work", type=Path, default=Path("bench-work"))
    parser.add_argument("--versioned-repeat", type=int, default=None, metavar="N",
                        help="runs of the next version's build, plain and versioned in turn (default: --repeat)")
    parser.add_argument("--v1", type=Path, metavar="DIR",
                        help="build the real v1 English file kept in DIR instead, and print how every row ended")
    curve = parser.add_mutually_exclusive_group()
    curve.add_argument("--curve-only", action="store_true",
                       help="only the cost curve: the builds at ¼×, ½×, 1×, 2× and 4× the sizes given")
    curve.add_argument("--no-curve", action="store_true", help="skip the cost curve")
    parser.add_argument("--near-dup", default="mark", help=argparse.SUPPRESS)
    parser.add_argument("--previous", default="", help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--option-roles", action="store_true",
                        help="only measure option roles on the held-out and dev dilemma sets (coverage and "
                             "precision per mapping_source, precision per margin bin) and exit")
    parser.add_argument("--option-roles-copies", type=int, default=100, metavar="K",
                        help="with --option-roles: time the role scorer called one item at a time and on all "
                             "items together, on the dev set repeated K times (default 100; 0 skips)")
    parser.add_argument("--annotations", type=Path, default=None,
                        help="with --option-roles: a model's annotation artifact for the held-out tree "
                             "(python benchmarks/option_roles_sets.py --tree DIR, then cvc annotate option-roles "
                             "--raw DIR ...), to measure the model's roles as well")
    args = parser.parse_args()
    if args.option_roles:
        return _option_roles(args.work, args.annotations, args.option_roles_copies)
    if args.step:
        extra = {"num_proc": args.num_proc} if args.step in ("neardup", "ours") else {}
        if args.step == "ours":
            extra.update(near_dup=args.near_dup, previous=args.previous)
        if args.step == "synth":
            extra = {"sizes": args.sizes, "seed": args.seed}
        result = STEPS[args.step](args.tree, args.work, **extra)
        print(json.dumps({**result, "peak_mb": round(_peak_mb())}))
        return 0

    if args.v1:
        args.work.mkdir(parents=True, exist_ok=True)
        return v1_check(args.v1, args.work.resolve())

    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tree, rules_only = work / "tree", work / "rules-only"
    start = time.perf_counter()
    sizes = {"rules": args.rules, "dilemmas": args.dilemmas, "models": args.models, "evaluated": args.evaluated}
    if args.curve_only:
        points = print_curve(work, sizes, args.seed, args.num_proc)
        (work / "results.json").write_text(json.dumps({"cost curve": points}, indent=2), encoding="utf-8")
        return 1 if not points or any("error" in p.get(k, {}) for p in points
                                      for k in ("ours (rules)", "ours (all configs)")) else 0
    synth = _run_step("synth", tree, work, "--sizes", json.dumps(sizes), "--seed", str(args.seed))
    if "error" in synth:
        print(f"synth failed: {synth['error']}", file=sys.stderr)
        return 1
    (rules_only / "data_control").mkdir(parents=True)
    shutil.copy(tree / "data_control/final.csv", rules_only / "data_control/final.csv")
    shutil.copy(tree / "synth_truth.json", rules_only / "synth_truth.json")
    shutil.copy(tree / "LICENSE", rules_only / "LICENSE")  # a build needs the tree's license statement
    os.sync()  # the tree's gigabyte written back now, not while the first steps are timed
    print(f"synthetic tree: {args.rules:,} rules, {args.dilemmas:,} dilemmas, {args.models} models × "
          f"{args.evaluated:,} answers, {synth['rows']:,} raw rows ({time.perf_counter() - start:.1f} s to write, "
          f"peak {synth['peak_mb']} MB)")

    procs = ("--num-proc", str(args.num_proc))
    ours_runs, floor_runs, plain_runs, versioned_runs = [], [], [], []
    for _ in range(max(1, args.repeat)):
        ours_runs.append(_run_step("ours", rules_only, work, "--near-dup", "off", *procs))
        floor_runs.append(_run_step("floor", rules_only, work))
    results = {
        "ours (rules)": _median(ours_runs),
        "naive (rules)": _run_step("naive", rules_only, work),
        "floor (rules)": _median(floor_runs),
        "ours (rules+near-dup)": _run_step("ours", rules_only, work, "--near-dup", "mark", *procs),
        "ours (all configs)": _run_step("ours", tree, work, "--near-dup", "mark", *procs),
    }
    # The next version (three rules edited, one added), built plain and against the release above, in turn.
    tree2 = edited_tree(tree, work / "tree2")
    for _ in range(max(1, args.repeat) if args.versioned_repeat is None else args.versioned_repeat):
        plain_runs.append(_run_step("ours", tree2, work, "--near-dup", "mark", *procs))
        versioned_runs.append(_run_step("ours", tree2, work, "--near-dup", "mark", *procs,
                                        "--previous", str(work / "release-tree-mark")))
    results |= {
        "ours (next version)": _median(plain_runs),
        "ours (versioned)": _median(versioned_runs),
        "validate": _run_step("validate", rules_only, work),
        "near-dup": _run_step("neardup", rules_only, work, "--num-proc", "1"),
    }
    if args.num_proc > 1:
        results[f"near-dup ×{args.num_proc}"] = _run_step("neardup", rules_only, work, "--num-proc", str(args.num_proc))
    print(f"\n{'step':<24}{'seconds':>10}{'peak MB':>10}")
    for name, r in results.items():
        print(f"{name:<24}{r.get('seconds', float('nan')):>10.2f}{r.get('peak_mb', 0):>10}  "
              + (r.get("error", "") or ""))
    ours, naive, floor = (results[k].get("seconds") for k in ("ours (rules)", "naive (rules)", "floor (rules)"))
    if ours and naive and floor:
        print(f"\nrules build: {naive / ours:.1f}x faster than naive, {ours / floor:.1f}x the floor")
        if len(ours_runs) > 1:
            print(f"  (medians of {len(ours_runs)} runs in turn: ours {results['ours (rules)']['runs']} s, "
                  f"floor {results['floor (rules)']['runs']} s)")
    plain, versioned = results["ours (next version)"], results["ours (versioned)"]
    if "seconds" in plain and "seconds" in versioned:
        print(f"versioned build (--previous, --bump auto: {versioned['bump']}, v{versioned['version']}): "
              f"{versioned['seconds'] / plain['seconds']:.2f}x the wall time of the plain build of the same tree, "
              f"{versioned['cpu_seconds'] / plain['cpu_seconds']:.2f}x its CPU time ({versioned['cpu_seconds']:.1f} "
              f"against {plain['cpu_seconds']:.1f} s); medians of {len(versioned_runs)} runs in turn: "
              f"{versioned['runs']} s against {plain['runs']} s")
    v = results["validate"]
    if "jsonschema_seconds" in v:
        print(f"validation of {v['rows']:,} rows: {v['jsonschema_seconds'] / v['seconds']:.1f}x faster than "
              f"per-row jsonschema; same rejected rows: {v['same_rows']} ({v['rejected']} rejected)")
    n = results["near-dup"]
    if "precision" in n:
        print(f"near-dup on {n['texts']:,} texts, {n['planted_pairs']} planted pairs: ours {n['seconds']:.1f} s "
              f"(precision {n['precision']:.3f}, recall {n['recall']:.3f}, peak {n['ours_peak_mb']} MB); datasketch: "
              + (f"{n['datasketch_seconds']:.1f} s (precision {n['datasketch']['precision']:.3f}, recall "
                 f"{n['datasketch']['recall']:.3f})" if "datasketch_seconds" in n else str(n.get("datasketch"))))
    parallel = results.get(f"near-dup ×{args.num_proc}", {})
    if "seconds" in parallel and "seconds" in n:
        same = (parallel["pairs"], parallel["precision"], parallel["recall"]) == (n["pairs"], n["precision"],
                                                                                n["recall"])
        print(f"near-dup with num_proc={args.num_proc}: {parallel['seconds']:.1f} s (same result: {same})")
    if not args.no_curve:
        shutil.rmtree(tree, ignore_errors=True)  # the curve writes its own trees, up to four times this one
        shutil.rmtree(tree2, ignore_errors=True)
        results["cost curve"] = print_curve(work, sizes, args.seed, args.num_proc)
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    failed = [name for name, r in results.items() if name != "cost curve" and "error" in r]
    failed += [f"cost curve at {p['scale']}×: {k}" for p in results.get("cost curve", [])
               for k in ("ours (rules)", "ours (all configs)") if "error" in p.get(k, {})]
    if v.get("same_rows") is False:
        failed.append("validate: the columnar validator and jsonschema rejected different rows")
    for name in failed:
        print(f"FAILED: {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
