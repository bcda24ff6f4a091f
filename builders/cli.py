"""The ``cvc`` command: build, validate and publish CVC releases."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from builders import __version__
from builders.context import BuildSettings
from builders.resources import sample_raw_dir

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def _version(text: str) -> str:
    text = text.removeprefix("v")
    if not _SEMVER.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version like 1.2.0")
    return text


def _cmd_build(args: argparse.Namespace) -> int:
    from builders.release import BuildError, build_release

    raw = args.raw or sample_raw_dir()
    settings = BuildSettings(version=args.version)
    try:
        report = build_release(raw, args.out, settings, report_dir=args.report, strict=args.strict)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    if report.rejected:
        print(f"{report.rejected} raw rows rejected: see {report.report_dir / 'rejects.jsonl'}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from builders.manifest import MANIFEST

    path = Path(args.path)
    if (path / MANIFEST).exists():
        from builders.verify import validate_release

        result = validate_release(path)
        for error in result.errors:
            print(f"invalid: {error}")
        rows = ", ".join(f"{k}={v:,}" for k, v in result.rows.items())
        print(f"{path}: {'valid' if result.ok else 'INVALID'} release ({rows})")
        return 0 if result.ok else 1
    from builders.release import collect

    ctx = collect(path)
    rejects = ctx.ledger.entries("rejected")
    for entry in rejects:
        print(f"invalid: {entry.file}:{entry.line}: {entry.field}: {entry.reason}")
    counts = ctx.ledger.counts()
    print(f"{path}: {counts['read']:,} raw rows, {len(rejects):,} invalid")
    return 1 if rejects else 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from builders.publish import PublishError, plan_to_text, publish

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
    build.add_argument("--version", type=_version, default="1.0.0", help="release version X.Y.Z (default: 1.0.0)")
    build.add_argument("--report", type=Path, default=None,
                       help="where to write rejects/folds/repairs (default: <out>-report)")
    build.add_argument("--strict", action="store_true", help="fail the build if any raw row is rejected")
    build.set_defaults(func=_cmd_build)

    validate = sub.add_parser(
        "validate", help="validate a raw tree or a release directory",
        description="For a release directory (has manifest.json): check every file hash, the card's "
                    "configs and every row against its schema. For a raw tree: read and check every "
                    "raw row. Exits 1 and lists file, line/row and field of each problem.")
    validate.add_argument("path", type=Path, help="release directory or raw tree")
    validate.set_defaults(func=_cmd_validate)

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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
