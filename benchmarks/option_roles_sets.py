"""The option-role sets: dilemmas written in upstream's generator style, with gold roles, as JSONL and as a raw tree.

``python benchmarks/option_roles_sets.py`` rewrites ``option_roles.jsonl`` in ``benchmarks/heldout``,
``benchmarks/dev``, ``benchmarks/dev2``, ``benchmarks/dev3``, ``benchmarks/heldout5`` (a second held-out set,
five scenes per rule pair as upstream's generator writes them), ``benchmarks/dev4``, ``benchmarks/dev5`` (public
life) and ``benchmarks/dev6`` (everyday personal life), development sets with five scenes per rule pair, from the
hand-written ``content.py`` of each folder; ``--tree DIR [--set NAME]`` writes a held-out set's raw tree (to annotate
it with a model), ``--calibrate`` prints the thresholds and the calibration table chosen on the dev sets,
``--check-disjoint`` lists what dev2, dev3, heldout5, dev4, dev5 and dev6 share with the sets written before them.
Every scene gets one of the six letter orders and one of the option formats upstream's generators produce
(``A：`` ``A:`` ``A.`` ``A．`` ``A、`` ``A)`` ``(A)`` ``【A】`` ``选项A：`` ``A选项：``, full-width letters, one line or
several, a leading number or a ``选项：`` header, a trailing note), cycled so that each combination occurs.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import random
from collections.abc import Callable
from itertools import permutations
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETS = {"heldout": HERE / "heldout", "dev": HERE / "dev", "dev2": HERE / "dev2", "dev3": HERE / "dev3",
        "heldout5": HERE / "heldout5", "dev4": HERE / "dev4", "dev5": HERE / "dev5", "dev6": HERE / "dev6"}
TUNING = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6")
"""The sets weights, thresholds and the calibration are chosen on (never the held-out set)."""
HELD_OUT = ("heldout", "heldout5")
"""The sets the figures are reported on and nothing is chosen on: three scenes per rule pair, and five as
upstream's generator writes them."""
ROLES = ("rule_a", "rule_b", "distractor")
ORDERS = tuple(permutations(range(3)))
MARKERS = ("{L}：", "{L}: ", "{L}. ", "{L}．", "{L}、", "{L}) ", "({L}) ", "【{L}】", "选项{L}：", "{L}选项：")
FULL_WIDTH = {"A": "Ａ", "B": "Ｂ", "C": "Ｃ"}
PREFIXES = ("", "{n}. ", "选项：\n")
NOTES = ("", "\n（注：以上选项顺序随机排列）", " 注：选项无固定顺序。")


def _content(folder: Path) -> list:
    spec = importlib.util.spec_from_file_location(f"option_roles_{folder.name}", folder / "content.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.PAIRS


def options_cell(texts: dict[str, str], number: int, i: int) -> tuple[str, str]:
    """The options cell of the ``i``-th scene, and the format it got (for the report)."""
    marker = MARKERS[i % len(MARKERS)]
    full = (i // len(MARKERS)) % 3 == 1
    one_line = (i // 2) % 2 == 0
    prefix = PREFIXES[(i // 3) % len(PREFIXES)]
    note = NOTES[(i // 5) % len(NOTES)]
    parts = []
    for letter in "ABC":
        shown = FULL_WIDTH[letter] if full else letter
        parts.append(marker.replace("{L}", shown) + texts[letter] + ("。" if i % 7 < 3 else ""))
    body = (" " if one_line else "\n").join(parts)
    cell = prefix.replace("{n}", str(number)) + body + note
    name = f"{marker.replace('{L}', 'A').strip()}{' full-width' if full else ''}{' one-line' if one_line else ''}" \
           f"{' prefix=' + prefix.strip()[:2] if prefix else ''}{' note' if note else ''}"
    return cell, name


def rows(folder: Path, order_of: Callable[[int], tuple[int, ...]] | None = None) -> list[dict]:
    """The dilemmas of a set with their options cells and gold roles; ``order_of(i)``: the roles at letters A, B
    and C of the ``i``-th scene (by default the six orders in turn)."""
    out = []
    i = 0
    for pair_no, (rule_a, values_a, rule_b, values_b, scenes) in enumerate(_content(folder)):
        for scene_no, (scene, opt_a, opt_b, distractor) in enumerate(scenes):
            order = order_of(i) if order_of else ORDERS[i % 6]
            by_role = (opt_a, opt_b, distractor)
            texts, gold = {}, {}
            for letter, role in zip("ABC", order, strict=True):
                texts[letter], gold[letter] = by_role[role], ROLES[role]
            cell, name = options_cell(texts, scene_no + 1, i)
            out.append({"id": f"{folder.name}-{i:03d}", "pair": pair_no, "rule_a": rule_a, "derived_a": values_a,
                        "rule_b": rule_b, "derived_b": values_b, "scene": scene, "options": cell,
                        "gold": gold, "format": name})
            i += 1
    return out


def skewed_orders(distractor_at_c: float, rule_a_first: float, seed: int = 0) -> Callable[[int], tuple[int, ...]]:
    """Letter orders drawn at these rates, the same on every run: the distractor at C in share
    ``distractor_at_c`` of the scenes (else at A or B, evenly), rule A's option before rule B's in share
    ``rule_a_first``. Upstream's evaluated models chose C 0.5–2.9% of the time (raw-formats §3.4): its
    distractor stood at C in about 97% of the dilemmas."""
    draw = random.Random(seed)

    def order_of(_: int) -> tuple[int, ...]:
        rules = [0, 1] if draw.random() < rule_a_first else [1, 0]
        rules.insert(2 if draw.random() < distractor_at_c else draw.randrange(2), 2)
        return tuple(rules)

    return order_of


LETTER_ORDERS = ((1 / 3, 0.5), (0.97, 0.5), (0.97, 0.8))
"""The letter orders the report builds every set with: evenly shuffled; the distractor at C as upstream's
evaluations show it, rule options in either order; and rule A's option also first four times in five (an
assumption: upstream's evaluations cannot tell it)."""


def check_disjoint(name: str, others: tuple[str, ...] = ("heldout", "dev")) -> list[str]:
    """The rules of set ``name`` that another set also quotes (printing only these, not the others' content):
    a development set must not share a rule, a rule pair or a scene with the held-out set."""
    mine = {(r["rule_a"], r["rule_b"]) for r in rows(SETS[name])}
    my_rules = {rule for pair in mine for rule in pair}
    my_scenes = {r["scene"] for r in rows(SETS[name])}
    shared: list[str] = []
    for other in others:
        theirs = rows(SETS[other])
        their_rules = {rule for r in theirs for rule in (r["rule_a"], r["rule_b"])}
        shared += [f"{other}: rule {rule}" for rule in sorted(my_rules & their_rules)]
        shared += [f"{other}: scene of {name}" for r in theirs if r["scene"] in my_scenes]
    return shared


def write_sets() -> None:
    for folder in SETS.values():
        with open(folder / "option_roles.jsonl", "w", encoding="utf-8") as fh:
            for row in rows(folder):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_set(name: str) -> list[dict]:
    with open(SETS[name] / "option_roles.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _csv(header: list[str], records: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue()


def write_tree(dilemmas: list[dict], raw: Path) -> None:
    """A raw tree holding the set's rules (master table, GBK) and its dilemmas (one processed file)."""
    from builders.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    parent = {d["zh"]: (d["core_value"], d["dimension"]) for d in taxonomy.derived_values}
    rules: dict[str, list[str]] = {}
    for row in dilemmas:
        rules.setdefault(row["rule_a"], row["derived_a"])
        rules.setdefault(row["rule_b"], row["derived_b"])
    master = [[rule, "", "、".join(dict.fromkeys(parent[v][1] for v in values)),
               "、".join(dict.fromkeys(parent[v][0] for v in values)), "、".join(values)]
              for rule, values in rules.items()]
    (raw / "data_control").mkdir(parents=True, exist_ok=True)
    (raw / "cvc-raw.yaml").write_text("license: cc-by-4.0\n", encoding="utf-8")  # upstream's license
    (raw / "data_control/final.csv").write_bytes(
        _csv(["rot", "translate", "level", "core values", "derived values"], master).encode("gbk"))
    processed = raw / "moral_dilemma/dataset/2_dilemma/2_processed"
    processed.mkdir(parents=True, exist_ok=True)
    (processed / "option_roles.csv").write_text(_csv(
        ["index", "scene", "options", "rot1", "rot2"],
        [[row["pair"], row["scene"], row["options"], row["rule_a"], row["rule_b"]] for row in dilemmas]),
        encoding="utf-8")


def measure(name: str, work: Path, annotations: Path | None = None) -> dict:
    """Build the set's raw tree with a plain ``cvc build`` and score the published roles against gold.

    Coverage: letters given a role / all letters; precision: right roles / letters given one, per
    ``mapping_source``; the dilemmas that failed to parse are listed. ``annotations``: an annotation
    artifact copied into the tree first (the model-assisted figures).
    """
    import shutil

    from builders.build import build_release

    dilemmas = read_set(name)
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "raw"
    write_tree(dilemmas, raw)
    if annotations is not None:
        target = raw / "annotations"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(annotations, target / annotations.name)
    report = build_release(raw, work / "release", report_dir=work / "report")
    return {"set": name, **score_release(dilemmas, work / "release"), "rejected": report.rejected}


def measure_letter_order(work: Path, distractor_at_c: float, rule_a_first: float) -> dict[str, dict]:
    """Every set with its letters drawn by :func:`skewed_orders`, built together in one plain ``cvc build``
    (every set: about a thousand dilemmas, whose sure decisions show the build its letter order), and each set
    scored."""
    import shutil

    from builders.build import build_release

    shutil.rmtree(work, ignore_errors=True)
    order_of = skewed_orders(distractor_at_c, rule_a_first)
    by_set = {name: [{**row, "pair": 1000 * k + row["pair"]} for row in rows(folder, order_of)]
              for k, (name, folder) in enumerate(SETS.items())}
    write_tree([row for dilemmas in by_set.values() for row in dilemmas], work / "raw")
    build_release(work / "raw", work / "release", report_dir=work / "report")
    return {name: {"set": name, **score_release(dilemmas, work / "release")} for name, dilemmas in by_set.items()}


def score_release(dilemmas: list[dict], release: Path) -> dict:
    """Coverage and precision of the roles a release published for these dilemmas (matched by scene)."""
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((release / "data/dilemmas").glob("*.parquet")))
    by_scene = {row["scene"]: row for row in table.to_pylist()}
    per_source: dict[str, dict[str, int]] = {}
    missing, letters, covered, right = [], 0, 0, 0
    for gold_row in dilemmas:
        row = by_scene.get(gold_row["scene"])
        if row is None:
            missing.append(gold_row["id"])
            letters += 3
            continue
        stats = per_source.setdefault(row["mapping_source"], {"dilemmas": 0, "letters": 0, "given": 0, "right": 0})
        stats["dilemmas"] += 1
        for option in row["options"]:
            letters += 1
            stats["letters"] += 1
            if option["follows"] is not None:
                covered += 1
                stats["given"] += 1
                ok = option["follows"] == gold_row["gold"][option["letter"]]
                right += ok
                stats["right"] += ok
    return {"dilemmas": len(dilemmas), "published": len(dilemmas) - len(missing),
            "missing": missing, "letters": letters, "covered": covered,
            "right": right, "coverage": covered / letters if letters else 0.0,
            "precision": right / covered if covered else 0.0, "per_source": per_source}


MARGIN_BINS = {"distractor": (0.0, 0.35, 0.7, 1.0, 1.5), "pair": (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)}
"""Lower edges of the margin bins in which precision is measured, per decision (each threshold is added)."""
FLOOR = 0.98
"""The precision a threshold must show on the tuning sets, as a one-sided 95% lower bound."""
STEP = 0.05
"""The margins a threshold is chosen among: 0, 0.05, 0.1, …"""


def decisions(names: str | tuple[str, ...], cross_validated: bool = False) -> list[tuple[str, float, bool]]:
    """Every decision the text scorer would take on the sets with no threshold: (kind, margin, right), each
    set scored on its own (its own IDF, as a build of its raw tree would).

    The pair decision is counted only where the distractor was right (it is taken after it). Its margin is
    the shipped weights' (``cross_validated=False``: what a build of the set would give) or, on the tuning
    sets, that of a model fitted without the decision's rule pair (``option_roles_fit``): the thresholds and
    the calibration are read off those, not off decisions the weights were fitted on.
    """
    import numpy as np
    from option_roles_fit import cross_validated_scores, pair_rows

    from builders.stages.option_roles import WEIGHTS

    features, labels, groups, dilemmas = pair_rows((names,) if isinstance(names, str) else names)
    scores = cross_validated_scores(features, labels, groups) if cross_validated else \
        features @ np.asarray(WEIGHTS.pair, float)
    out = []
    for _, distractor_margin, distractor_right, at in dilemmas:
        out.append(("distractor", distractor_margin, distractor_right))
        if at is not None:
            out.append(("pair", abs(float(scores[at])), bool(np.sign(scores[at]) == labels[at])))
    return out


def lower_bound(right: int, n: int, z: float = 1.645) -> float:
    """Wilson score lower bound (one-sided 95%) of a precision of ``right`` in ``n``: what a small set can
    promise, not what it happened to show."""
    if not n:
        return 0.0
    p, z2 = right / n, z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


def choose_thresholds(names: tuple[str, ...] = TUNING) -> dict[str, float]:
    """Per decision, the smallest margin (a multiple of :data:`STEP`) at which the letters that decision names
    on the tuning sets have a precision whose lower bound is at least :data:`FLOOR`; the distractor first,
    then the pair among the dilemmas whose distractor is taken. A pair decision names two letters: they are
    counted as two, though one mistake always costs both (the bound is that much kinder than per decision)."""
    found = decisions(names, cross_validated=True)
    dilemmas, pair_at = [], {}
    for kind, margin, right in found:
        if kind == "distractor":
            dilemmas.append([margin, right, None, False])
        else:
            dilemmas[-1][2:] = [margin, right]
            pair_at[len(dilemmas) - 1] = True
    chosen: dict[str, float] = {}
    for kind in ("distractor", "pair"):
        for step in range(int(10 / STEP)):
            low = round(step * STEP, 2)
            if kind == "distractor":
                taken = [right for margin, right, _, _ in dilemmas if margin >= low]
                letters, right = len(taken), sum(taken)
            else:
                taken = [right for margin, _, pm, right in dilemmas
                         if margin >= chosen["distractor"] and pm is not None and pm >= low]
                letters, right = 2 * len(taken), 2 * sum(taken)
            if letters and lower_bound(right, letters) >= FLOOR:
                chosen[kind] = low
                break
        else:
            chosen[kind] = float("inf")
    return chosen


def calibration(names: str | tuple[str, ...], thresholds: dict[str, float] | None = None,
                cross_validated: bool = False) -> dict[str, list[dict]]:
    """Per decision and margin bin: decisions, right ones, and the smoothed precision ``(right+1)/(n+2)``
    (what ``option_roles.CALIBRATION`` holds, from the tuning sets, cross-validated); ``thresholds`` become
    bin edges too."""
    table: dict[str, list[dict]] = {}
    found = decisions(names, cross_validated)
    for kind, listed in MARGIN_BINS.items():
        edges = sorted(set(listed) | ({thresholds[kind]} if thresholds else set()))
        rows = []
        for i, low in enumerate(edges):
            high = edges[i + 1] if i + 1 < len(edges) else float("inf")
            inside = [right for k, margin, right in found if k == kind and low <= margin < high]
            rows.append({"from": low, "to": high, "n": len(inside), "right": sum(inside),
                         "precision": round((sum(inside) + 1) / (len(inside) + 2), 4)})
        for row, value in zip(rows, _isotonic([r["precision"] for r in rows], [r["n"] + 2 for r in rows]),
                              strict=True):
            row["confidence"] = round(value, 4)
        table[kind] = rows
    return table


def _isotonic(values: list[float], weights: list[float]) -> list[float]:
    """The closest non-decreasing sequence (pool adjacent violators): a larger margin never means a lower
    confidence just because a small bin happened to hold a mistake."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return [value for value, _, count in blocks for _ in range(count)]


def report(work: Path, annotations: Path | None = None) -> tuple[str, dict]:
    """The option-role figures of every set as text (for ``benchmarks/run.py --option-roles``) and as data;
    ``annotations``: a model's annotation artifact for a held-out tree, to measure the model's roles too."""
    lines, data = [], {}
    for name in (*HELD_OUT, *TUNING):
        found = measure(name, work / name, annotations if name in HELD_OUT else None)
        data[name] = found
        lines.append(f"{name}: {found['dilemmas']} dilemmas, {found['published']} parsed and published "
                     f"({found['rejected']} raw rows rejected), {found['covered']}/{found['letters']} letters with a "
                     f"role ({found['coverage']:.1%}), {found['right']} right ({found['precision']:.1%} precision)")
        lines.append(f"  {'mapping_source':<16}{'dilemmas':>9}{'letters':>9}{'given':>7}{'right':>7}{'precision':>11}")
        for source, s in sorted(found["per_source"].items()):
            precision = f"{s['right'] / s['given']:.1%}" if s["given"] else "–"
            lines.append(f"  {source:<16}{s['dilemmas']:>9}{s['letters']:>9}{s['given']:>7}{s['right']:>7}"
                         f"{precision:>11}")
    lines.append("letter orders not evenly shuffled: every set in one build, held-out sets reported "
                 "(letters with a role, right)")
    for distractor_at_c, rule_a_first in LETTER_ORDERS:
        key = f"letters: distractor at C {distractor_at_c:.0%}, rule A first {rule_a_first:.0%}"
        found = data[key] = measure_letter_order(work / "letter-order", distractor_at_c, rule_a_first)
        shown = ", ".join(f"{name} {found[name]['covered']}/{found[name]['letters']} ({found[name]['coverage']:.1%}), "
                          f"{found[name]['right']} right ({found[name]['precision']:.1%})" for name in HELD_OUT)
        lines.append(f"  {key}: {shown}")
    from builders.stages.option_roles import WEIGHTS

    thresholds = {"distractor": WEIGHTS.distractor_margin, "pair": WEIGHTS.pair_margin}
    dev_bins = calibration(TUNING, thresholds, cross_validated=True)
    for name in HELD_OUT:
        bins = data[f"{name}_bins"] = calibration(name, thresholds)
        lines.append(f"{name} decisions per margin bin (text evidence; confidence = the dev sets' calibrated "
                     "precision):")
        lines.append(f"  {'decision':<12}{'margin':>14}{'n':>5}{'right':>7}{'held-out':>10}{'confidence':>12}")
        for kind, rows in bins.items():
            for row, dev_row in zip(rows, dev_bins[kind], strict=True):
                margin = f"{row['from']:g}–{row['to']:g}"
                observed = f"{row['right'] / row['n']:.1%}" if row["n"] else "–"
                lines.append(f"  {kind:<12}{margin:>14}{row['n']:>5}{row['right']:>7}{observed:>10}"
                             f"{dev_row['confidence']:>12.4f}")
    return "\n".join(lines), data


def timing(copies: int) -> dict:
    """Seconds of the scorer called one rule pair at a time (the naive way, as a loop over rule pairs would:
    a pair's scenes are decided together) and called once on all items (as the build does), on the dev set
    repeated ``copies`` times with every rule, scene and option made distinct; both must give the same roles.
    The letter-order prior is off in both: it is the whole call's, so one rule pair alone would learn another
    (and counting the sure decisions' letters costs nothing beside the evidence)."""
    import time
    from dataclasses import replace

    import numpy as np

    from builders.stages import option_roles
    from builders.stages.option_roles_columnar import assign_roles_many
    from builders.stages.parsers.blobs import split_options

    base = [(row, [text for _, text in split_options(row["options"])]) for row in read_set("dev")]
    tag = [f"（{j}）" if j else "" for j in range(copies)]
    rows = [({**row, "rule_a": row["rule_a"] + tag[j], "rule_b": row["rule_b"] + tag[j]},
             [text + (f"第{j}次" if j else "") for text in texts], row["scene"] + (str(j) if j else ""))
            for j in range(copies) for row, texts in base]
    idf = option_roles.Idf([scene for *_, scene in rows] + [t for _, texts, _ in rows for t in texts])
    text_only = replace(option_roles.WEIGHTS, letter_order=False)
    by_pair: dict[tuple[str, str], list[int]] = {}
    for at, (row, _, _) in enumerate(rows):
        by_pair.setdefault((row["rule_a"], row["rule_b"]), []).append(at)

    def scored(chosen: list[tuple]) -> np.ndarray:
        return assign_roles_many([scene for *_, scene in chosen], [t for _, texts, _ in chosen for t in texts],
                                 [r["rule_a"] for r, _, _ in chosen], [r["rule_b"] for r, _, _ in chosen],
                                 [r["derived_a"] for r, _, _ in chosen], [r["derived_b"] for r, _, _ in chosen],
                                 idf, text_only)[0]

    start = time.perf_counter()
    one_by_one = np.zeros((len(rows), 3), np.int8)
    for members in by_pair.values():
        one_by_one[members] = scored([rows[at] for at in members])
    single = time.perf_counter() - start
    start = time.perf_counter()
    together = scored(rows)
    batched = time.perf_counter() - start
    return {"dilemmas": len(rows), "rule_pairs": len(by_pair), "one_pair_at_a_time_s": round(single, 2),
            "together_s": round(batched, 2), "ratio": round(single / batched, 2) if batched else None,
            "same_roles": bool(np.array_equal(one_by_one, together))}


if __name__ == "__main__":
    import sys

    if "--tree" in sys.argv:  # a held-out raw tree, to run `cvc annotate option-roles --raw` on
        chosen_set = sys.argv[sys.argv.index("--set") + 1] if "--set" in sys.argv else "heldout"
        write_tree(read_set(chosen_set), Path(sys.argv[sys.argv.index("--tree") + 1]))
    elif "--check-disjoint" in sys.argv:  # each set against every set written before it (SETS is in that order)
        names = list(SETS)
        for k in range(2, len(names)):
            name, others = names[k], tuple(names[:k])
            found = check_disjoint(name, others)
            print("\n".join(found) or f"{name} shares no rule and no scene with {', '.join(others)}")
    elif "--calibrate" in sys.argv:  # the tuning sets only
        chosen = choose_thresholds()
        found = calibration(TUNING, chosen, cross_validated=True)
        print(json.dumps(found, indent=1))
        print("thresholds:", chosen)
        print({kind: tuple((r["from"], r["confidence"]) for r in rows) for kind, rows in found.items()})
    else:
        write_sets()
