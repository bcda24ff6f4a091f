"""Build a release directory: run every config builder, then write, describe and hash.

The release directory is byte for byte the Hub repo tree of one version (DESIGN.md):
``README.md``, ``data/<config>/<split>-*.parquet``, ``schemas/``, ``manifest.json`` and
``CHANGELOG.md``. It is assembled in a temporary sibling directory and moved into place
only when complete, so a failed build never leaves a half-written release behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow as pa
from tqdm.auto import tqdm

import builders
from builders.configs import dilemmas, evaluations, rules, rules_en, scenarios
from builders.configs import taxonomy as taxonomy_config
from builders.context import BuildContext, BuildSettings, IntegrityError
from builders.release.card import (
    SplitFiles,
    dilemmas_statistics,
    evaluations_statistics,
    interpretability_statistics,
    render_card,
    rules_en_statistics,
    rules_statistics,
    scenarios_statistics,
)
from builders.release.changelog import history_entry, render_changelog, versions_section
from builders.release.diff import ReleaseDiff, ReleaseView, diff_releases, open_release
from builders.release.manifest import MANIFEST, describe_file, read_manifest, sha256_file, write_manifest
from builders.release.versioning import VersionError, check_version, next_version
from builders.schema import features, load_schema, schema_bytes, schema_sha256
from builders.stages.readers.layout import Artifact, discover
from builders.stages.readers.license import RELEASE_LICENSE_FILE, read_license
from builders.stages.readers.prefetch import Prefetch
from builders.stages.validate import TableValidator
from builders.stages.writer import rows_to_table, write_shards

CONFIG_BUILDERS = [rules, rules_en, taxonomy_config, dilemmas, scenarios, evaluations]
"""Config modules in build order (later configs may use the rows of earlier ones)."""
SPLIT = "train"
DEFAULT_CONFIG = ("default", "rules", "cvc")
"""The ``default`` config: the rules files under the v1 split name ``cvc``."""
_T = TypeVar("_T")
_JSON_STRING = json.encoder.encode_basestring
"""A string as ``json.dumps(..., ensure_ascii=False)`` writes it."""


class BuildError(RuntimeError):
    """A build that must not produce a release (``--strict`` with rejects, unsafe output dir)."""


@dataclass
class BuildReport:
    """What a build did: rows per outcome per config, and where the details are."""

    release_dir: Path
    report_dir: Path
    counts: dict[str, dict[str, int]]
    notes: dict[str, dict] = field(default_factory=dict)
    version: str | None = None
    diff: ReleaseDiff | None = None

    @property
    def rejected(self) -> int:
        return sum(c["rejected"] for c in self.counts.values())

    def summary(self) -> str:
        """A table of rows read and their outcomes, one line per config."""
        lines = [f"{'config':<12}{'read':>9}{'published':>11}{'folded':>9}{'excluded':>10}{'rejected':>10}"]
        for config, c in self.counts.items():
            lines.append(f"{config:<12}{c['read']:>9}{c['published']:>11}{c['folded']:>9}"
                         f"{c['excluded']:>10}{c['rejected']:>10}")
        for config, notes in self.notes.items():
            detail = ", ".join(f"{k}={v}" for k, v in sorted(notes.items()) if v)
            if detail:
                lines.append(f"{config}: {detail}")
        if self.diff is not None:
            lines.append(self.diff.to_text(max_ids=0))
        lines.append(f"release: {self.release_dir} (v{self.version})")
        lines.append(f"report:  {self.report_dir} (rejects, folds, repairs, report.json)")
        return "\n".join(lines)


def _all_kinds() -> list:
    """Every artifact kind, in the order discovery tries them: the English v1 file's place
    (``*EN.jsonl``) before the v1 file's (``*.jsonl``), which also holds it."""
    narrow = rules_en.ARTIFACTS
    return [*narrow, *(kind for module in CONFIG_BUILDERS for kind in module.ARTIFACTS if kind not in narrow)]


def _check_output_dir(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise BuildError(
            f"{out_dir} exists and is not a release directory (no {MANIFEST}); "
            "refusing to replace it. Pass an empty or new --out directory."
        )


class _Shards:
    """The configs' shards, written by Arrow in two background threads from the moment each
    table is final, so the writes of one config overlap the building of the next; each shard is
    described for the manifest (hashed) as soon as it is written."""

    def __init__(self, staging: Path, settings: BuildSettings) -> None:
        self._staging, self._settings = staging, settings
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._written: dict[str, Future[dict[str, dict]]] = {}

    def write(self, config: str, table: pa.Table) -> None:
        """Start writing ``config``'s table (once; it must not change any more). A table without
        rows is not written: ``datasets`` cannot read an empty Parquet shard."""
        if config not in self._written and table.num_rows:
            self._written[config] = self._pool.submit(self._write, config, table)

    def _write(self, config: str, table: pa.Table) -> dict[str, dict]:
        paths = write_shards(table, self._staging, config, SPLIT, shard_rows=self._settings.shard_rows,
                             row_group_rows=self._settings.row_group_rows)
        return {path: describe_file(self._staging / path) for path in paths}

    def files(self, config: str) -> list[str]:
        """The relative paths of ``config``'s shards, once written."""
        return list(self._written[config].result())

    def described(self) -> dict[str, dict]:
        """The manifest entry of every shard written."""
        return {path: entry for written in self._written.values() for path, entry in written.result().items()}

    def close(self) -> None:
        """Wait for the writes under way and drop those not started (after a failure, say)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _write_configs(staging: Path, tables: dict[str, pa.Table], shards: _Shards,
                   meanwhile: Callable[[], _T]) -> tuple[list[SplitFiles], _T]:
    """Validate and write every config, and what ``meanwhile`` gives: the shards not written yet are
    written while the tables are validated and ``meanwhile`` runs. A failed validation raises (and
    the staging directory with those shards is removed)."""
    for config, table in tables.items():
        shards.write(config, table)
    for config, table in tqdm(tables.items(), desc="writing", unit="config", disable=None, leave=False):
        errors = TableValidator(load_schema(config)).validate(table)
        if errors:
            sample = "; ".join(str(e) for e in errors[:5])
            raise BuildError(f"internal error: built {config} rows fail their schema: {sample}")
    meanwhile_result = meanwhile()
    (staging / "schemas").mkdir(exist_ok=True)
    splits = []
    for config, table in tables.items():
        if not table.num_rows:
            continue
        files = shards.files(config)
        (staging / "schemas" / f"{config}.schema.json").write_bytes(schema_bytes(config))
        splits.append(SplitFiles(config, config, SPLIT, files, table.num_rows, table.nbytes,
                                 sum((staging / f).stat().st_size for f in files)))
    return splits, meanwhile_result


def _card_sections(ctx: BuildContext, tables: dict[str, pa.Table]) -> dict[str, str]:
    """The statistics of each config with rows, for the dataset card."""
    sections = {
        "rules": lambda: rules_statistics(tables["rules"], ctx.taxonomy),
        "rules_en": lambda: rules_en_statistics(tables["rules_en"], ctx.taxonomy, ctx.notes.get("rules_en", {})),
        "taxonomy": lambda: "The 50 derived values with their parents; the same table as the value framework above.",
        "dilemmas": lambda: dilemmas_statistics(tables["dilemmas"]),
        "scenarios": lambda: scenarios_statistics(ctx.results["scenarios"]),
        "evaluations": lambda: evaluations_statistics(tables["evaluations"]) + "\n\n" + interpretability_statistics(
            tables["evaluations"], pa.concat_tables([tables[c].select(["id", "mapping_source"])
                                                     for c in ("dilemmas", "scenarios")])),
    }
    return {config: describe() for config, describe in sections.items() if tables[config].num_rows}


def absent_configs(tables: dict[str, pa.Table]) -> list[str]:
    """Configs without rows in this build: left out of the release, since ``datasets`` cannot
    load a config whose only Parquet shard is empty, and named in the card instead."""
    return [config for config, table in tables.items() if not table.num_rows]


def collect(raw_dir: Path, settings: BuildSettings | None = None, *, num_proc: int = 1,
            on_final: Callable[[str, pa.Table], None] | None = None,
            artifacts: list[Artifact] | None = None) -> BuildContext:
    """Read, parse, normalize, validate, dedup and id every config; nothing is written.

    ``num_proc``: worker processes for the steps that parallelise; the result does not depend on it.
    ``on_final``: called with each config's Arrow table as soon as it will not change any more.
    ``artifacts``: what :func:`discover` finds in ``raw_dir``, when known already.
    """
    artifacts = discover(Path(raw_dir), _all_kinds()) if artifacts is None else artifacts
    ctx = BuildContext(artifacts=artifacts, settings=settings or BuildSettings(), num_proc=num_proc)
    ahead = [(artifact, prepares[artifact.kind.name]) for module in CONFIG_BUILDERS
             if (prepares := getattr(module, "PREFETCH", {})) for artifact in ctx.of_kind(*prepares)]
    if num_proc > 1 and ahead:
        ctx.prefetch = Prefetch(ahead)
    try:
        told: set[str] = set()

        def tell_final() -> None:
            for config in [c for c in ctx.tables if c not in told and ctx.final(c)]:
                told.add(config)
                if on_final:
                    on_final(config, ctx.tables[config])

        for module in CONFIG_BUILDERS:
            result = ctx.results[module.CONFIG] = module.build(ctx)
            if isinstance(result, pa.Table):
                ctx.tables[module.CONFIG] = result
            tell_final()
        ctx.finish()
        tell_final()
    finally:
        if ctx.prefetch:
            ctx.prefetch.close()
    ctx.ledger.check_complete()
    if ctx.orphans:
        listed = "\n  ".join(ctx.orphans[:20])
        more = f"\n  … and {len(ctx.orphans) - 20} more" if len(ctx.orphans) > 20 else ""
        raise IntegrityError(
            f"{len(ctx.orphans)} rows point at rules or items missing from this release:\n  {listed}{more}\n"
            "Fix the raw data, or pass --allow-orphans to leave them out (they go to the rejects ledger).")
    return ctx


def _write_report(ctx: BuildContext, report_dir: Path, counts: dict) -> None:
    ctx.ledger.write(report_dir)
    with open(report_dir / "repairs.jsonl", "w", encoding="utf-8") as fh:
        for repair in ctx.repairs:
            fh.write(json.dumps(repair, ensure_ascii=False) + "\n")
    (report_dir / "report.json").write_text(
        json.dumps({"counts": counts, "notes": ctx.notes}, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )


def _manifest_configs(splits: list[SplitFiles]) -> dict[str, dict]:
    return {
        s.config: {
            "schema": f"schemas/{s.schema_config}.schema.json",
            "schema_sha256": schema_sha256(s.schema_config),
            "splits": {s.split: {"files": s.files, "num_rows": s.num_rows}},
            **({"alias_of": s.schema_config} if s.config != s.schema_config else {}),
        }
        for s in splits
    }


def _dropped_reasons(ctx: BuildContext) -> dict[str, list[str]]:
    """Why each id a raw row would have had is not published: its rejected and excluded rows, by file and line."""
    dropped = sorted(ctx.ledger.entries("rejected") + ctx.ledger.entries("excluded"),
                     key=lambda e: (e.config, e.file, e.line))
    reasons: dict[str, list[str]] = {}
    for entry in dropped:
        if entry.id:
            reasons.setdefault(entry.id, []).append(f"{entry.outcome} at {entry.file}:{entry.line}: {entry.reason}")
    return reasons


def _previous_ids(diff: ReleaseDiff, ctx: BuildContext, previous: ReleaseView) -> Iterator[str]:
    """What happened to every id the previous release published, a JSON line each: kept, changed
    or removed (why).

    Only the previous release's ids are read; the diff already knows which were removed or
    changed. A kept id's line is written as ``json.dumps`` writes it, from the string encoder
    alone: there are hundreds of thousands of them.
    """
    reasons = _dropped_reasons(ctx)
    for name, c in diff.configs.items():
        if c.status != "same" or "alias_of" in previous.configs[name]:
            continue
        ids = previous.ids(previous.files(name))
        keys = ids.cast(pl.String)  # the diff names rows by their ids as text (the taxonomy's are numbers)
        status = (pl.select(pl.when(keys.is_in(c.removed)).then(pl.lit("removed"))
                            .when(keys.is_in(list(c.changed))).then(pl.lit("changed"))
                            .otherwise(pl.lit("kept")))
                  .to_series())
        head = f'{{"config": {_JSON_STRING(name)}, "id": '
        encode = _JSON_STRING if ids.dtype == pl.String else json.dumps  # the taxonomy's ids are numbers
        for row_id, what in zip(ids, status, strict=True):
            if what == "kept":
                yield f'{head}{encode(row_id)}, "status": "kept"}}\n'
                continue
            record = {"config": name, "id": row_id, "status": what}
            if what == "removed":
                record["reasons"] = reasons.get(str(row_id)) or ["no raw row yields this row any more"]
            else:
                record["fields"] = c.changed[str(row_id)]
            yield json.dumps(record, ensure_ascii=False) + "\n"


def build_release(
    raw_dir: Path, out_dir: Path, settings: BuildSettings | None = None, *,
    report_dir: Path | None = None, strict: bool = False, previous: str | Path | None = None,
    bump: str | None = None, endpoint: str | None = None, num_proc: int = 1, license_id: str | None = None,
) -> BuildReport:
    """Build every config from ``raw_dir`` into the release directory ``out_dir``.

    With ``previous`` (a release directory or ``ORG/NAME@vX.Y.Z``), the new version must be
    a large enough semantic-version bump for what changed (``bump="auto"`` picks it), the
    history is carried forward and the report says what happened to every previous id.
    ``license_id``: a Hub license id that overrides what the raw tree states (``--license``).
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    settings = settings or BuildSettings()
    report_dir = Path(report_dir) if report_dir else out_dir.with_name(out_dir.name + "-report")
    _check_output_dir(out_dir)
    previous_view = open_release(str(previous), endpoint=endpoint) if previous else None
    if bump == "auto" and previous_view is None:
        raise BuildError("--bump auto needs --previous (the release to compare with)")
    artifacts = discover(raw_dir, _all_kinds())
    release_license = read_license(raw_dir, license_id)  # before any work: a tree that states none fails here
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    shards = _Shards(staging, settings)
    hashing = ThreadPoolExecutor(max_workers=1)  # the inputs, hashed beside the build: hashlib lets go of the GIL
    input_hashes = [hashing.submit(sha256_file, a.path) for a in artifacts]
    try:
        ctx = collect(raw_dir, settings, num_proc=num_proc, on_final=shards.write, artifacts=artifacts)
        counts = ctx.ledger.counts_by_config(m.CONFIG for m in CONFIG_BUILDERS)
        report = BuildReport(out_dir, report_dir, counts, ctx.notes)
        _write_report(ctx, report_dir, counts)
        if strict and report.rejected:
            raise BuildError(
                f"--strict: {report.rejected} raw rows were rejected; see {report_dir / 'rejects.jsonl'}")
        tables = {m.CONFIG: ctx.tables[m.CONFIG] if m.CONFIG in ctx.tables
                  else rows_to_table(ctx.results[m.CONFIG], features(m.CONFIG).arrow_schema)
                  for m in CONFIG_BUILDERS}
        splits, sections = _write_configs(staging, tables, shards, meanwhile=lambda: _card_sections(ctx, tables))
        absent = absent_configs(tables)
        name, target, split = DEFAULT_CONFIG
        base = next((s for s in splits if s.config == target), None)
        if base is not None:
            splits.insert(0, SplitFiles(name, target, split, base.files, base.num_rows, base.num_bytes,
                                        base.download_size))
        else:
            absent.insert(0, name)
        configs = _manifest_configs(splits)
        history, diff = [], None
        if previous_view is not None:
            written = {path: entry["sha256"] for path, entry in shards.described().items()}
            diff = diff_releases(previous_view, ReleaseView(staging, settings.version, configs,
                                                            release_license.manifest_entry(), written))
            required = diff.bump()
            try:
                if bump == "auto":
                    settings = replace(settings, version=next_version(previous_view.version, required))
                else:
                    check_version(previous_view.version, settings.version, required)
            except VersionError as err:
                raise BuildError(str(err)) from None
            diff.new_version = settings.version
            history = list(read_manifest(previous_view.path).get("history", []))
            report.diff = diff
            with open(report_dir / "previous_ids.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(_previous_ids(diff, ctx, previous_view))
        history.append(history_entry(settings.version, {s.config: s.num_rows for s in splits}, diff))
        (staging / "README.md").write_text(
            render_card(splits, sections, ctx.taxonomy, settings.version, versions=versions_section(history),
                        absent=absent, license=release_license),
            encoding="utf-8")
        (staging / RELEASE_LICENSE_FILE).write_text(release_license.file_text(), encoding="utf-8")
        (staging / "CHANGELOG.md").write_text(render_changelog(history), encoding="utf-8")
        write_manifest(staging, {
            "name": "CVC",
            "version": settings.version,
            "builder_version": builders.__version__,
            "configs": configs,
            "inputs": {a.relpath: {"kind": a.kind.name, "sha256": digest.result()}
                       for a, digest in zip(artifacts, input_hashes, strict=True)},
            "settings": settings.to_dict(),
            "license": release_license.manifest_entry(),
            "near_duplicates": ctx.near_duplicates,
            "counts": counts,
            "history": history,
            **({"absent_configs": absent} if absent else {}),
        }, described=shards.described())
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shards.close()
        hashing.shutdown(wait=True, cancel_futures=True)
        if staging.exists():
            shutil.rmtree(staging)
    report.version = settings.version
    return report
