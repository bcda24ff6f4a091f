"""The ledger's Polars views against a straightforward ledger (one entry object per row, checked one
by one as recorded): random reads and random outcome tables, often of rows never read or recorded
twice, must give the same check errors, entries, counts and written bytes."""

import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from builders.stages.ledger import OUTCOME_SCHEMA, OUTCOMES, Entry, Ledger


class ReferenceLedger:
    """The ledger keyed by (config, file, line), one Entry per row."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str, int], None] = {}
        self._recorded: list[Entry] = []

    def read(self, config: str, file: str, lines: Iterable[int]) -> None:
        self._read.update(dict.fromkeys((config, file, line) for line in lines))

    def record_table(self, config: str, outcomes: pl.DataFrame) -> None:
        self._recorded += [Entry(config, *row) for row in outcomes.iter_rows()]

    def _entries(self) -> dict[tuple[str, str, int], Entry]:
        """The first outcome of each row, refusing as each row comes the first that is never read or
        recorded twice."""
        entries: dict[tuple[str, str, int], Entry] = {}
        for entry in self._recorded:
            key = (entry.config, entry.file, entry.line)
            if key not in self._read:
                raise RuntimeError(f"{entry.file}:{entry.line} was given an outcome but never read")
            if key in entries:
                raise RuntimeError(
                    f"{entry.file}:{entry.line} already {entries[key].outcome}; cannot also be {entry.outcome}")
            entries[key] = entry
        return entries

    def check_complete(self) -> None:
        entries = self._entries()
        lost = [k for k in self._read if k not in entries]
        if lost:
            sample = ", ".join(f"{f}:{n}" for _, f, n in sorted(lost)[:5])
            raise RuntimeError(f"{len(lost)} raw rows have no outcome (e.g. {sample})")

    def entries(self, outcome: str | None = None, config: str | None = None) -> list[Entry]:
        return sorted((e for e in self._entries().values()
                       if (outcome is None or e.outcome == outcome) and (config is None or e.config == config)),
                      key=lambda e: (e.config, e.file, e.line))

    def counts_by_config(self, configs: Iterable[str]) -> dict[str, dict[str, int]]:
        read = Counter(config for config, _, _ in self._read)
        tally = Counter((entry.config, entry.outcome) for entry in self._entries().values())
        return {c: {"read": read[c], **{outcome: tally[(c, outcome)] for outcome in OUTCOMES}} for c in configs}

    def write(self, report_dir: Path) -> None:
        report_dir.mkdir(parents=True, exist_ok=True)
        for name, outcomes in (("rejects", ("rejected",)), ("folds", ("folded", "excluded"))):
            with open(report_dir / f"{name}.jsonl", "w", encoding="utf-8") as fh:
                for e in self.entries():
                    if e.outcome in outcomes:
                        entry = {k: getattr(e, k) for k in e.__slots__ if getattr(e, k) is not None}
                        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


CONFIGS = ("rules", "dilemmas", "evaluations")
FILES = ("b.csv", "a.csv", "dir/中文.csv", "a.csv.gz")
TEXTS = ("same rule text", "", 'quote " backslash \\ newline \n tab \t 中文 \u2028 \x01 \x7f', "label: 否", None)


def _line(rng: random.Random) -> int:
    """Mostly lines close together; a few far apart, up to the largest the ledger takes."""
    if rng.random() < 0.9:
        return rng.randrange(0, 60)
    return rng.choice((0, 10**7 + rng.randrange(3), 2**32 - 1, 70_000))


def _text(rng: random.Random) -> str | None:
    text = rng.choice(TEXTS)
    return text if text is None or rng.random() < 0.7 else f"{text}-{rng.randrange(5)}"


def _table(rng: random.Random, reference: ReferenceLedger, config: str) -> pl.DataFrame:
    """Outcomes of rows of ``config`` read and not recorded yet, sometimes with a row never read or
    one recorded before or twice in the table."""
    recorded = {(e.config, e.file, e.line) for e in reference._recorded}
    open_rows = [(f, n) for c, f, n in reference._read if c == config and (c, f, n) not in recorded]
    picked = rng.sample(open_rows, min(len(open_rows), rng.randrange(0, 30)))
    if rng.random() < 0.1:
        picked.insert(rng.randrange(len(picked) + 1), (rng.choice(FILES), _line(rng)))
    if rng.random() < 0.1 and picked:
        picked.insert(rng.randrange(len(picked) + 1), rng.choice(picked))
    rows = [(file, line, rng.choice(OUTCOMES), f"id-{rng.randrange(8)}" if rng.random() < 0.8 else None,
             rng.choice(("rot", "标签", None)), _text(rng)) for file, line in picked]
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA, orient="row")


def _outcome(ledger, method: str, args: tuple = ()):
    try:
        return "ok", getattr(ledger, method)(*args)
    except RuntimeError as err:
        return "error", str(err)


def _same_results(ledger: Ledger, reference: ReferenceLedger, tmp_path: Path) -> bool:
    """Compare everything; whether the ledger is consistent (the views of an inconsistent one are not)."""
    got = _outcome(ledger, "check_complete")
    assert got == _outcome(reference, "check_complete")
    if got[0] == "error" and "no outcome" not in got[1]:
        return False
    for outcome in (*OUTCOMES, "unknown", None):
        for config in (*CONFIGS, None, "unknown"):
            assert ledger.entries(outcome, config) == reference.entries(outcome, config)
    assert ledger.counts_by_config([*CONFIGS, "unknown"]) == reference.counts_by_config([*CONFIGS, "unknown"])
    assert all(type(e.line) is int for e in ledger.entries())
    ledger.write(tmp_path / "new")
    reference.write(tmp_path / "reference")
    for name in ("rejects.jsonl", "folds.jsonl"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()
    return True


@pytest.mark.parametrize("seed", range(8))
def test_random_reads_and_tables_give_what_the_reference_ledger_gives(seed, tmp_path):
    rng = random.Random(seed)
    ledger, reference = Ledger(), ReferenceLedger()
    refusals = Counter()
    for step in range(200):
        config = rng.choice(CONFIGS)
        if rng.random() < 0.4:
            lines = [_line(rng) for _ in range(rng.randrange(0, 40))]
            args = (config, rng.choice(FILES), np.array(lines, np.int64) if rng.random() < 0.5 else lines)
            ledger.read(*args)
            reference.read(*args)
        else:
            table = _table(rng, reference, config)
            ledger.record_table(config, table)
            reference.record_table(config, table)
        if step % 20 == 19 and not _same_results(ledger, reference, tmp_path / str(step)):
            refusals[_outcome(ledger, "check_complete")[1].split(" ", 1)[1].split(" ")[0]] += 1
            ledger, reference = Ledger(), ReferenceLedger()  # start again: the refusal was compared
    assert refusals["was"] + refusals["already"]  # the refusals were met, and compared
    _same_results(ledger, reference, tmp_path / "last")
