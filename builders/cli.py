"""The ``cvc`` command: build, validate and publish CVC releases."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from builders import __version__
from builders.annotate.command import add_annotate_parser
from builders.problems import FORMATS, Summary
from builders.resources import sample_raw_dir
from builders.stages.near_dedup import NEAR_DUP_MODES, NearDupSettings

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_HUB_REF = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)@(?P<revision>[\w./-]+)$")


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
    from builders.stages.readers.license import LicenseError

    return (BuildError, LayoutError, EncodingError, IntegrityError, FileNotFoundError, LicenseError)


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
    settings = BuildSettings(version=args.version, allow_orphans=args.allow_orphans, near_dup=near_dup,
                             near_dup_en=NearDupSettings(mode=args.near_dup))  # English rules: word bigrams
    try:
        report = build_release(raw, args.out, settings, report_dir=args.report, strict=args.strict,
                               previous=args.previous, bump=args.bump, endpoint=args.endpoint,
                               num_proc=max(1, args.num_proc), license_id=args.license)
    except _input_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    if report.rejected:
        print(f"{report.rejected} raw rows rejected: see {report.report_dir / 'rejects.jsonl'}")
    return 0


def _raw_problems(path: Path) -> tuple[list, Summary]:
    """Every rejected raw row of a raw tree (or the one error that stops reading it), as problems."""
    from builders.build import collect
    from builders.problems import Problem

    try:
        ctx = collect(path)
    except _input_errors() as err:
        problem = Problem(getattr(err, "filename", None) or "", " ".join(str(err).split()))
        return [problem], Summary(str(path), "raw", False, 1, text=f"{path}: raw tree could not be read")
    problems = [Problem(e.file, e.reason, line=e.line, config=e.config, field=e.field)
                for e in ctx.ledger.entries("rejected")]
    problems += _license_problems(path)
    read = ctx.ledger.counts()["read"]
    return problems, Summary(str(path), "raw", not problems, len(problems), {"read": read},
                             f"{path}: {read:,} raw rows, {len(problems):,} invalid")


def _release_problems(path: Path, target: str, *, verify_only: bool = False) -> tuple[list, Summary]:
    from builders.release.verify import validate_release, verify_release

    result = verify_release(path) if verify_only else validate_release(path)
    rows = ", ".join(f"{k}={v:,}" for k, v in result.rows.items())
    if verify_only:
        word = "verified" if result.ok else "DOES NOT MATCH its manifest"
    else:
        word = f"{'valid' if result.ok else 'INVALID'} release"
    return result.problems, Summary(target, "release", result.ok, len(result.problems), dict(result.rows),
                                    f"{target}: {word} ({rows})")


def _hub_release(ref: str, endpoint: str | None, cache: Path) -> Path:
    """Download ``ORG/NAME@REV`` (every file but ``.gitattributes``) with ``huggingface_hub``: the
    endpoint from ``--endpoint`` or ``HF_ENDPOINT``, the token from ``HF_TOKEN`` or the stored login."""
    from huggingface_hub import snapshot_download

    match = _HUB_REF.match(ref)
    if not match:
        raise FileNotFoundError(f"{ref!r} is neither a directory nor a Hub revision like ORG/NAME@v1.2.0")
    return Path(snapshot_download(match["repo"], repo_type="dataset", revision=match["revision"],
                                  endpoint=endpoint, cache_dir=cache, ignore_patterns=[".gitattributes"]))


def _cmd_validate(args: argparse.Namespace) -> int:
    import tempfile

    from builders.problems import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, report
    from builders.release.manifest import MANIFEST

    target = str(args.path)
    with tempfile.TemporaryDirectory(prefix="cvc-validate-") as cache:
        path = Path(target)
        if not path.exists():
            try:
                path = _hub_release(target, args.endpoint, Path(cache))
            except Exception as err:  # noqa: BLE001 - not found, refused, unreachable: nothing to check (exit 2)
                print(f"error: {target}: {type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
                return EXIT_USAGE
        if not path.is_dir():
            print(f"error: {target} is not a directory (a raw tree or a release directory)", file=sys.stderr)
            return EXIT_USAGE
        try:
            if (path / MANIFEST).exists():
                problems, summary = _release_problems(path, target)
            else:
                problems, summary = _raw_problems(path)
        except OSError as err:
            print(f"error: {target}: {type(err).__name__}: {err}", file=sys.stderr)
            return EXIT_USAGE
        report(problems, summary, args.format, sys.stdout, root=target if path == Path(target) else "",
               max_problems=args.max_problems)
    return EXIT_VALID if summary.ok else EXIT_INVALID


def _license_problems(raw: Path) -> list:
    """A raw tree that states no usable license cannot be built: one problem that says how to give one."""
    from builders.problems import Problem
    from builders.stages.readers.license import LicenseError, read_license

    try:
        read_license(raw)
    except LicenseError as err:
        return [Problem("", " ".join(str(err).split()), field="license")]
    return []


def _cmd_verify(args: argparse.Namespace) -> int:
    from builders.problems import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, report

    if not Path(args.release).is_dir():
        print(f"error: {args.release} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    problems, summary = _release_problems(Path(args.release), str(args.release), verify_only=True)
    report(problems, summary, args.format, sys.stdout, root=str(args.release), max_problems=args.max_problems,
           prefix="mismatch")
    return EXIT_VALID if summary.ok else EXIT_INVALID


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
    from builders.hub.errors import PublishError
    from builders.hub.plan import plan_to_text
    from builders.hub.publish import publish

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


def _add_report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--format", choices=FORMATS, default="text",
        help="text (default): one line per problem and a summary line; json: JSON Lines, one object per "
             "line (each problem: type=problem, path, line, row, config, field, reason, severity; then one "
             "type=summary object), so parse it line by line; github: GitHub Actions workflow commands "
             "(::error file=…,line=…::…) that annotate each problem's line")
    command.add_argument("--max-problems", type=_positive, default=None, metavar="N",
                         help="list at most N problems (the summary still counts them all)")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


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
                       help="near-duplicate rules (Chinese and English): record clusters in cluster_id (mark, the "
                            "default), fold them into the best-annotated member (fold), or skip detection (off)")
    build.add_argument("--near-dup-threshold", type=float, default=NearDupSettings.threshold, metavar="J",
                       help="character-bigram Jaccard similarity of near-duplicates (default: %(default)s)")
    build.add_argument("--license", metavar="ID", default=None,
                       help="the release's license as a Hub license id, overriding what the raw tree states "
                            "(its LICENSE file or the license entry of cvc-raw.yaml); recorded in manifest.json")
    build.add_argument("--num-proc", type=int, default=1, metavar="N",
                       help="worker processes for the steps that parallelise (the output does not depend on it)")
    build.set_defaults(func=_cmd_build)

    validate = sub.add_parser(
        "validate", help="validate a raw tree, a release directory or a published revision",
        description="For a release directory (has manifest.json): check every file hash, the card's "
                    "configs, every row against its schema, and load every config with datasets.load_dataset. "
                    "ORG/NAME@REV downloads that revision of a Hub dataset repo (HF_ENDPOINT or --endpoint; "
                    "token from HF_TOKEN or `hf auth login`) and checks it the same way. Anything else is a raw "
                    "tree: read and check every raw row. Lists file, line/row and field of each problem. "
                    "Exit codes: 0 valid, 1 invalid, 2 usage or I/O error (missing path, failed download).")
    validate.add_argument("path", help="raw tree, release directory, or ORG/NAME@REV on the Hub")
    validate.add_argument("--endpoint", default=None, help="Hub endpoint for ORG/NAME@REV (default: HF_ENDPOINT)")
    _add_report_options(validate)
    validate.set_defaults(func=_cmd_validate)

    verify = sub.add_parser(
        "verify", help="re-derive a release's hashes and row counts",
        description="Recompute the SHA-256 of every file and the row count of every Parquet file, and "
                    "compare them with manifest.json. Exit codes: 0 verified, 1 mismatch, 2 usage or I/O error.")
    verify.add_argument("release", type=Path, help="release directory")
    _add_report_options(verify)
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

    add_annotate_parser(sub)
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
