"""The ``cvc`` command: build, validate and publish CVC releases."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from builders import __version__
from builders.resources import sample_raw_dir
from builders.stages.near_dedup import NEAR_DUP_MODES, NearDupSettings

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def _version(text: str) -> str:
    text = text.removeprefix("v")
    if not _SEMVER.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version like 1.2.0")
    return text


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors about the user's input: printed as one line, not as a traceback."""
    from builders.build import BuildError
    from builders.context import IntegrityError
    from builders.stages.readers.encoding import EncodingError
    from builders.stages.readers.layout import LayoutError

    return (BuildError, LayoutError, EncodingError, IntegrityError, FileNotFoundError)


def _cmd_build(args: argparse.Namespace) -> int:
    from builders.build import build_release
    from builders.context import BuildSettings

    raw = args.raw or sample_raw_dir()
    if args.bump == "auto" and args.version_given:
        print("error: pass either --version or --bump auto, not both", file=sys.stderr)
        return 2
    try:
        near_dup = NearDupSettings(mode=args.near_dup, threshold=args.near_dup_threshold)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = BuildSettings(version=args.version, allow_orphans=args.allow_orphans, near_dup=near_dup)
    try:
        report = build_release(raw, args.out, settings, report_dir=args.report, strict=args.strict,
                               previous=args.previous, bump=args.bump, endpoint=args.endpoint,
                               num_proc=max(1, args.num_proc))
    except _input_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    if report.rejected:
        print(f"{report.rejected} raw rows rejected: see {report.report_dir / 'rejects.jsonl'}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from builders.release.manifest import MANIFEST

    path = Path(args.path)
    if (path / MANIFEST).exists():
        from builders.release.verify import validate_release

        result = validate_release(path)
        for error in result.errors:
            print(f"invalid: {error}")
        rows = ", ".join(f"{k}={v:,}" for k, v in result.rows.items())
        print(f"{path}: {'valid' if result.ok else 'INVALID'} release ({rows})")
        return 0 if result.ok else 1
    from builders.build import collect

    try:
        ctx = collect(path)
    except _input_errors() as err:
        print(f"invalid: {err}")
        return 1
    rejects = ctx.ledger.entries("rejected")
    for entry in rejects:
        print(f"invalid: {entry.file}:{entry.line}: {entry.field}: {entry.reason}")
    counts = ctx.ledger.counts()
    print(f"{path}: {counts['read']:,} raw rows, {len(rejects):,} invalid")
    return 1 if rejects else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from builders.release.verify import verify_release

    result = verify_release(args.release)
    for error in result.errors:
        print(f"mismatch: {error}")
    rows = ", ".join(f"{k}={v:,}" for k, v in result.rows.items())
    print(f"{args.release}: {'verified' if result.ok else 'DOES NOT MATCH its manifest'} ({rows})")
    return 0 if result.ok else 1


def _cmd_diff(args: argparse.Namespace) -> int:
    import json

    from builders.release.diff import diff_releases, open_release

    try:
        diff = diff_releases(open_release(args.old, endpoint=args.endpoint),
                             open_release(args.new, endpoint=args.endpoint))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(diff.to_json(), ensure_ascii=False, indent=2) if args.json else diff.to_text())
    if args.fail_on == "breaking" and diff.bump() == "major":
        return 1
    if args.fail_on == "any" and diff.bump() != "none":
        return 1
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from builders.synth import SynthSizes, synthesize

    sizes = SynthSizes(rules=args.rules, dilemmas=args.dilemmas, models=args.models, evaluated=args.evaluated)
    truth = synthesize(args.out, sizes, seed=args.seed)
    print(f"{args.out}: {sizes.rules:,} rules, {sizes.dilemmas:,} dilemmas, {sizes.models} models; "
          f"{len(truth['near_duplicate_groups']):,} near-duplicate groups and {len(truth['bad_rows']):,} bad rows "
          f"planted (synth_truth.json)")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from builders.hub.publish import PublishError, plan_to_text, publish

    try:
        result = publish(Path(args.release), args.repo, endpoint=args.endpoint,
                         create_pr=args.create_pr, dry_run=args.dry_run, private=args.private)
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(plan_to_text(result.plan))
    else:
        print(result.summary())
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    top = argparse.ArgumentParser(
        prog="cvc",
        description="Build, validate and publish the Chinese Values Corpus as a Hugging Face dataset.",
    )
    top.add_argument("--version", action="version", version=f"cvc {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build", help="build a release directory from a raw tree",
        description="Read the raw upstream files under --raw, and write the release directory "
                    "(README.md card, data/*.parquet, schemas/, manifest.json, CHANGELOG.md) to --out. "
                    "Rejected raw rows are listed in <out>-report/rejects.jsonl.")
    build.add_argument("--raw", type=Path, default=None,
                       help="raw tree laid out like the upstream repository (default: the shipped sample)")
    build.add_argument("--out", type=Path, default=Path("build"), help="release directory to write (default: build)")
    build.add_argument("--version", type=_version, default=None,
                       help="release version X.Y.Z (default: 1.0.0, or the next version with --bump auto)")
    build.add_argument("--previous", default=None,
                       help="previous release (directory or ORG/NAME@vX.Y.Z): enforce the semver bump, carry the "
                            "history forward, report what happened to each previously published id")
    build.add_argument("--bump", choices=["auto"], default=None,
                       help="with --previous: pick the smallest version bump the changes need")
    build.add_argument("--endpoint", default=None, help="Hub endpoint for a --previous Hub ref")
    build.add_argument("--report", type=Path, default=None,
                       help="where to write rejects/folds/repairs (default: <out>-report)")
    build.add_argument("--strict", action="store_true", help="fail the build if any raw row is rejected")
    build.add_argument("--allow-orphans", action="store_true",
                       help="reject rows that point at a rule or item missing from the release, instead of failing")
    build.add_argument("--near-dup", choices=NEAR_DUP_MODES, default=NearDupSettings.mode,
                       help="near-duplicate rules: record clusters in cluster_id (mark, the default), fold them "
                            "into the best-annotated member (fold), or skip detection (off)")
    build.add_argument("--near-dup-threshold", type=float, default=NearDupSettings.threshold, metavar="J",
                       help="character-bigram Jaccard similarity of near-duplicates (default: %(default)s)")
    build.add_argument("--num-proc", type=int, default=1, metavar="N",
                       help="worker processes for the steps that parallelise (the output does not depend on it)")
    build.set_defaults(func=_cmd_build)

    validate = sub.add_parser(
        "validate", help="validate a raw tree or a release directory",
        description="For a release directory (has manifest.json): check every file hash, the card's "
                    "configs and every row against its schema. For a raw tree: read and check every "
                    "raw row. Exits 1 and lists file, line/row and field of each problem.")
    validate.add_argument("path", type=Path, help="release directory or raw tree")
    validate.set_defaults(func=_cmd_validate)

    verify = sub.add_parser(
        "verify", help="re-derive a release's hashes and row counts",
        description="Recompute the SHA-256 of every file and the row count of every Parquet file, and "
                    "compare them with manifest.json. Exits 1 on any mismatch.")
    verify.add_argument("release", type=Path, help="release directory")
    verify.set_defaults(func=_cmd_verify)

    diff = sub.add_parser(
        "diff", help="show what changed between two releases",
        description="Compare two releases (directories or ORG/NAME@vX.Y.Z on the Hub): rows added, removed "
                    "and changed by stable id (with the changed fields), schema, split and config changes, and "
                    "the semantic-version bump they need.")
    diff.add_argument("old", help="older release: directory or ORG/NAME@vX.Y.Z")
    diff.add_argument("new", help="newer release: directory or ORG/NAME@vX.Y.Z")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.add_argument("--fail-on", choices=["breaking", "any"], default=None,
                      help="exit 1 on a breaking (major) change, or on any change")
    diff.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    diff.set_defaults(func=_cmd_diff)

    synth = sub.add_parser(
        "synth", help="write a synthetic raw tree at any scale (for benchmarks)",
        description="Write a deterministic raw tree in the upstream formats, with the documented quirks, planted "
                    "bad rows and near-duplicate groups (ground truth in synth_truth.json). Defaults: the real sizes.")
    synth.add_argument("--rules", type=int, default=257_609)
    synth.add_argument("--dilemmas", type=int, default=404_000)
    synth.add_argument("--models", type=int, default=17)
    synth.add_argument("--evaluated", type=int, default=10_000, help="dilemmas each model answered")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--out", type=Path, required=True)
    synth.set_defaults(func=_cmd_synth)

    publish = sub.add_parser(
        "publish", help="publish a release directory to a Hub dataset repo",
        description="Upload a validated release as one atomic commit and tag it vX.Y.Z. "
                    "The token comes from HF_TOKEN or `hf auth login`; it is never printed.")
    publish.add_argument("release", type=Path, help="release directory built by `cvc build`")
    publish.add_argument("--repo", required=True, help="Hub dataset repo, e.g. Beijing-AISI/CVC")
    publish.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    publish.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing to main")
    publish.add_argument("--dry-run", action="store_true", help="print what would be uploaded and send nothing")
    publish.add_argument("--private", action="store_true", help="create the repo as private if it does not exist")
    publish.set_defaults(func=_cmd_publish)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvc`` console script."""
    args = parser().parse_args(argv)
    if args.command == "build":
        args.version_given = args.version is not None
        args.version = args.version or "1.0.0"
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
