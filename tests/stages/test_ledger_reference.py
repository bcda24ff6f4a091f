"""The column-wise ledger against a straightforward one (the ledger as it was, one entry object
per row): random sequences of calls must give the same results, the same errors at the same
calls, the same entries, counts and written bytes."""

import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from builders.stages.ledger import OUTCOMES, Entry, Ledger


class _LineWriter:
    def __init__(self) -> None:
        self._encoded: dict[str, str] = {}

    def _string(self, value: str) -> str:
        encoded = self._encoded.get(value)
        if encoded is None:
            encoded = self._encoded[value] = json.encoder.encode_basestring(value)
        return encoded

    def line(self, entry: Entry) -> str:
        string = self._string
        line = (f'{{"config": {string(entry.config)}, "file": {string(entry.file)}, "line": {entry.line:d}, '
                f'"outcome": {string(entry.outcome)}')
        if entry.id is not None:
            line += f', "id": {json.encoder.encode_basestring(entry.id)}'
        if entry.field is not None:
            line += f', "field": {string(entry.field)}'
        if entry.reason is not None:
            line += f', "reason": {string(entry.reason)}'
        return line + "}\n"


class ReferenceLedger:
    """The ledger keyed by (config, file, line), one Entry per row."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str, int], None] = {}
        self._entries: dict[tuple[str, str, int], Entry] = {}

    def read(self, config: str, file: str, line: int) -> None:
        """Register a raw row as read; it must later get exactly one outcome."""
        self._read[(config, file, line)] = None

    def read_lines(self, config: str, file: str, lines: Iterable[int]) -> None:
        """Register many raw rows of one file as read (a file read column-wise)."""
        self._read.update(dict.fromkeys((config, file, line) for line in lines))

    def _record(self, entry: Entry) -> None:
        key = (entry.config, entry.file, entry.line)
        if key not in self._read:
            raise RuntimeError(f"{entry.file}:{entry.line} was given an outcome but never read")
        if key in self._entries:
            previous = self._entries[key]
            raise RuntimeError(
                f"{entry.file}:{entry.line} already {previous.outcome}; cannot also be {entry.outcome}"
            )
        self._entries[key] = entry

    def publish(self, config: str, file: str, line: int, row_id: str, note: str | None = None) -> None:
        """``note``: e.g. how many rows one raw row became (a blob of scenes)."""
        self._record(Entry(config, file, line, "published", id=row_id, reason=note))

    def publish_many(self, config: str, published: Iterable[tuple[str, int, str]]) -> None:
        """Record many ``(file, line, row id)`` as published: a rules build publishes a quarter of a million."""
        self._record_many(config, "published", ((file, line, row_id, None) for file, line, row_id in published))

    def fold(self, config: str, file: str, line: int, into: str, reason: str) -> None:
        self._record(Entry(config, file, line, "folded", id=into, reason=reason))

    def fold_many(self, config: str, folded: Iterable[tuple[str, int, str, str]]) -> None:
        """Record many ``(file, line, id folded into, reason)`` as folded (hundreds of thousands of copies)."""
        self._record_many(config, "folded", folded)

    def _record_many(self, config: str, outcome: str, rows: Iterable[tuple[str, int, str, str | None]]) -> None:
        read, entries = self._read, self._entries
        for file, line, row_id, reason in rows:
            key = (config, file, line)
            entry = Entry(config, file, line, outcome, row_id, None, reason)
            if key not in read or key in entries:
                self._record(entry)  # raises the same error as one by one
            entries[key] = entry

    def exclude(self, config: str, file: str, line: int, reason: str, row_id: str | None = None) -> None:
        self._record(Entry(config, file, line, "excluded", id=row_id, reason=reason))

    def reject(self, config: str, file: str, line: int, field: str, reason: str, row_id: str | None = None) -> None:
        """``row_id``: the id the row would have had, when known, so a removal can be explained."""
        self._record(Entry(config, file, line, "rejected", id=row_id, field=field, reason=reason))

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        """Entries sorted by file and line, optionally of one outcome and config."""
        return sorted(
            (e for e in self._entries.values()
             if (outcome is None or e.outcome == outcome) and (config is None or e.config == config)),
            key=lambda e: (e.config, e.file, e.line),
        )

    def counts(self, config: str | None = None) -> dict[str, int]:
        """Rows read and rows per outcome, of one config or of all."""
        if config is not None:
            return self.counts_by_config([config])[config]
        tally = Counter(entry.outcome for entry in self._entries.values())
        return {"read": len(self._read), **{outcome: tally.get(outcome, 0) for outcome in OUTCOMES}}

    def counts_by_config(self, configs: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`counts` of each config, in one pass over the rows (every outcome is of a row read)."""
        read = Counter(config for config, _, _ in self._read)
        tally = Counter((entry.config, entry.outcome) for entry in self._entries.values())
        return {c: {"read": read[c], **{outcome: tally[(c, outcome)] for outcome in OUTCOMES}} for c in configs}

    def check_complete(self) -> None:
        """Raise if any row read has no outcome (a row would be lost without trace)."""
        lost = [k for k in self._read if k not in self._entries]
        if lost:
            sample = ", ".join(f"{f}:{n}" for _, f, n in sorted(lost)[:5])
            raise RuntimeError(f"{len(lost)} raw rows have no outcome (e.g. {sample})")

    def write(self, report_dir: Path) -> None:
        """Write ``rejects.jsonl`` and ``folds.jsonl`` (one JSON object per raw row)."""
        report_dir.mkdir(parents=True, exist_ok=True)
        for name, outcomes in (("rejects", ("rejected",)), ("folds", ("folded", "excluded"))):
            entries = self._entries
            chosen = sorted(key for key, entry in entries.items() if entry.outcome in outcomes)
            line = _LineWriter().line
            with open(report_dir / f"{name}.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(line(entries[key]) for key in chosen)


CONFIGS = ("rules", "dilemmas", "evaluations")
FILES = ("b.csv", "a.csv", "dir/中文.csv", "a.csv.gz")
TEXTS = ("same rule text", "", 'quote " backslash \\ newline \n tab \t 中文 \u2028 \x01 \x7f', "label: 否", None)
OUTCOME_CALLS = ("publish", "fold", "exclude", "reject")


def _line(rng: random.Random) -> int:
    """Mostly lines close together; a few far apart or negative, which the ledger keeps aside."""
    kind = rng.random()
    if kind < 0.9:
        return rng.randrange(0, 60)
    return rng.choice((-3, -1, 10**7 + rng.randrange(3), 2**40, 70_000))


def _text(rng: random.Random, none: bool = True) -> str | None:
    text = rng.choice(TEXTS if none else TEXTS[:-1])
    return text if text is None or rng.random() < 0.7 else f"{text}-{rng.randrange(5)}"


def _call(rng: random.Random, reference: ReferenceLedger) -> tuple[str, tuple]:
    """A random ledger call, as (method, arguments); often of rows never read or already recorded."""
    config, file = rng.choice(CONFIGS), rng.choice(FILES)
    kind = rng.random()
    if kind < 0.2:
        return "read", (config, file, _line(rng))
    if kind < 0.3:
        lines = [_line(rng) for _ in range(rng.randrange(0, 40))]
        shape = rng.choice((list, tuple, np.array, iter))
        return "read_lines", (config, file, shape(lines) if shape is not np.array else np.array(lines, np.int64))
    if kind < 0.6:
        method = rng.choice(OUTCOME_CALLS)
        line, row_id = _line(rng), f"id-{rng.randrange(8)}"
        if method == "publish":
            return method, (config, file, line, row_id, _text(rng))
        if method == "fold":
            return method, (config, file, line, row_id, _text(rng, none=False))
        optional = row_id if rng.random() < 0.5 else None
        if method == "exclude":
            return method, (config, file, line, _text(rng, none=False), optional)
        return method, (config, file, line, rng.choice(("rot", "标签", "scene")), _text(rng, none=False), optional)
    open_rows = [(f, n) for c, f, n in reference._read if c == config and (c, f, n) not in reference._entries]
    picked = rng.sample(open_rows, min(len(open_rows), rng.randrange(0, 30)))
    if rng.random() < 0.4:  # a row never read, or twice in the batch
        picked.insert(rng.randrange(len(picked) + 1),
                      rng.choice(picked) if picked and rng.random() < 0.5 else (file, _line(rng)))
    rows = [(f, n, f"id-{rng.randrange(8)}", _text(rng, none=False)) for f, n in picked]
    if kind < 0.8:
        return "fold_many", (config, rows if rng.random() < 0.5 else iter(rows))
    return "publish_many", (config, [row[:3] for row in rows])


def _outcome(ledger, method: str, args: tuple):
    try:
        return "ok", getattr(ledger, method)(*args)
    except RuntimeError as err:
        return "error", str(err), err  # the error kept alive, its traceback too


def _same_results(ledger: Ledger, reference: ReferenceLedger, tmp_path: Path) -> None:
    assert ledger.entries() == reference.entries()
    for outcome in (*OUTCOMES, "unknown"):
        for config in (*CONFIGS, None, "unknown"):
            assert ledger.entries(outcome, config) == reference.entries(outcome, config)
            assert ledger.entries(None, config) == reference.entries(None, config)
    assert ledger.counts() == reference.counts()
    counted = [ledger.counts(), *ledger.counts_by_config([*CONFIGS, "unknown"]).values()]
    assert all(type(n) is int for counts in counted for n in counts.values())  # counts go into report.json
    assert all(type(e.line) is int for e in ledger.entries())
    assert ledger.counts_by_config([*CONFIGS, "unknown"]) == reference.counts_by_config([*CONFIGS, "unknown"])
    assert all(ledger.counts(c) == reference.counts(c) for c in (*CONFIGS, "unknown"))
    assert _outcome(ledger, "check_complete", ())[:2] == _outcome(reference, "check_complete", ())[:2]
    ledger.write(tmp_path / "new")
    reference.write(tmp_path / "reference")
    for name in ("rejects.jsonl", "folds.jsonl"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()


def _copies(args: tuple) -> tuple[tuple, tuple]:
    """The same arguments twice, an iterator made twice."""
    first, second = [], []
    for arg in args:
        if isinstance(arg, Iterable) and not isinstance(arg, (str, list, tuple, np.ndarray)):
            arg = list(arg)
            first.append(iter(arg))
            second.append(iter(arg))
        else:
            first.append(arg)
            second.append(arg)
    return tuple(first), tuple(second)


@pytest.mark.parametrize("seed", range(12))
def test_random_calls_give_what_the_reference_ledger_gives(seed, tmp_path):
    rng = random.Random(seed)
    ledger, reference = Ledger(), ReferenceLedger()
    errors, kept, batches = Counter(), [], 0
    for step in range(600):
        method, args = _call(rng, reference)
        new_args, reference_args = _copies(args)
        got, expected = _outcome(ledger, method, new_args), _outcome(reference, method, reference_args)
        assert got[:2] == expected[:2], (step, method, args)
        batches += method.endswith("_many") and got[0] == "ok" and isinstance(args[1], list) and len(args[1]) > 3
        if got[0] == "error":
            errors[got[1].split(" ", 1)[1].split(";")[0].split(" ")[0]] += 1
            kept.append(got)
        if step % 150 == 149:
            _same_results(ledger, reference, tmp_path / str(step))
    for config in CONFIGS:  # give every row read an outcome, then compare once more
        for entry_config, file, line in list(reference._read):
            if entry_config == config and (entry_config, file, line) not in reference._entries:
                for one in (ledger, reference):
                    one.exclude(config, file, line, "rest")
    _same_results(ledger, reference, tmp_path / "complete")
    assert errors["was"] and errors["already"] and batches  # both errors were met, and batches recorded whole


def test_a_line_read_far_away_is_found_once_closer_lines_fill_the_gap(tmp_path):
    ledger, reference = Ledger(), ReferenceLedger()
    for one in (ledger, reference):
        one.read("rules", "a.csv", 70_000)
        one.read("rules", "a.csv", -5)
        one.read_lines("rules", "a.csv", range(2, 150_000, 3))
        one.read_lines("rules", "a.csv", np.array([70_000, 2**40, -5]))
        one.publish_many("rules", [("a.csv", line, f"rule-{line}") for line in range(2, 150_000, 6)])
        one.fold("rules", "a.csv", 70_000, "rule-2", "same rule text")
    with pytest.raises(RuntimeError, match="a.csv:70000 already folded; cannot also be published"):
        ledger.publish("rules", "a.csv", 70_000, "rule-3")
    with pytest.raises(RuntimeError, match=r"raw rows have no outcome \(e.g. a.csv:-5, a.csv:5, a.csv:11, "):
        ledger.check_complete()
    assert _outcome(ledger, "check_complete", ())[:2] == _outcome(reference, "check_complete", ())[:2]
    _same_results(ledger, reference, tmp_path)


@pytest.mark.parametrize("method", ["publish_lines", "fold_lines"])
def test_rows_given_as_columns_are_recorded_like_rows_given_as_tuples(method, tmp_path):
    rng = random.Random(method)
    ledger, reference = Ledger(), ReferenceLedger()
    for one in (ledger, reference):
        one.read_lines("rules", "a.csv", range(0, 50))
        one.read_lines("rules", "b.csv", range(0, 50))
    for _ in range(40):
        file = rng.choice(("a.csv", "b.csv", "never.csv"))
        lines = [rng.randrange(0, 55) for _ in range(rng.randrange(0, 6))]
        ids = [f"id-{line}" for line in lines]
        if method == "publish_lines":
            got = _outcome(ledger, method, ("rules", file, np.array(lines, np.int64), ids))
            rows = [(file, n, i) for n, i in zip(lines, ids, strict=True)]
            expected = _outcome(reference, "publish_many", ("rules", rows))
        else:
            reasons = rng.choice(("same rule text", [f"near {line}" for line in lines]))
            got = _outcome(ledger, method, ("rules", file, lines, ids, reasons))
            each = [reasons] * len(lines) if isinstance(reasons, str) else reasons
            rows = list(zip([file] * len(lines), lines, ids, each, strict=True))
            expected = _outcome(reference, "fold_many", ("rules", rows))
        assert got[:2] == expected[:2]
    _same_results(ledger, reference, tmp_path)
    with pytest.raises(ValueError, match="2 lines but 1 ids"):
        ledger.publish_lines("rules", "a.csv", [1, 2], ["id-1"])


def test_a_batch_refused_half_way_records_the_rows_before_the_refused_one(tmp_path):
    ledger, reference = Ledger(), ReferenceLedger()
    rows = [("a.csv", 2, "x", "r"), ("b.csv", 3, "y", "r"), ("a.csv", 4, "z", "r"), ("a.csv", 2, "w", "r"),
            ("b.csv", 5, "v", "r")]
    for one in (ledger, reference):
        one.read_lines("rules", "a.csv", [2, 3, 4, 5])
        one.read_lines("rules", "b.csv", [2, 3, 4, 5])
        with pytest.raises(RuntimeError, match="a.csv:2 already folded; cannot also be folded"):
            one.fold_many("rules", rows)
    assert [(e.file, e.line) for e in ledger.entries()] == [("a.csv", 2), ("a.csv", 4), ("b.csv", 3)]
    _same_results(ledger, reference, tmp_path)


def test_a_row_twice_in_a_batch_of_lines_far_apart_is_refused_at_its_second_time(tmp_path):
    ledger, reference = Ledger(), ReferenceLedger()
    for one in (ledger, reference):
        one.read_lines("rules", "a.csv", range(10_000))
        with pytest.raises(RuntimeError, match="a.csv:2 already published; cannot also be published"):
            one.publish_many("rules", [("a.csv", 2, "x"), ("a.csv", 9_000, "y"), ("a.csv", 2, "z"), ("a.csv", 5, "w")])
    _same_results(ledger, reference, tmp_path)
