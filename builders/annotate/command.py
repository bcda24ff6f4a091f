"""``cvc annotate option-roles``: the command line of the annotation step."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builders.annotate.run import Backend

TOKEN_ENV = "CVC_ENDPOINT_TOKEN"
"""The endpoint's API key, if it needs one (read from the environment, never printed or written)."""


def local_backend(model: str) -> Backend:
    """The backend a transformers model calls for: an NLI model (a sequence-classification architecture) scores
    each option against each rule, any other model is asked the chat prompt as an instruct LM."""
    from builders.annotate.local import TransformersBackend, import_models

    _, transformers = import_models()
    architectures = transformers.AutoConfig.from_pretrained(model).architectures or []
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        from builders.annotate.local_nli import NliBackend

        return NliBackend(model)
    return TransformersBackend(model)


def _cmd_option_roles(args: argparse.Namespace) -> int:
    from builders.annotate.run import ARTIFACT, annotate_option_roles

    if not args.raw.is_dir():
        print(f"error: {args.raw}: not a directory; pass --raw a raw data tree", file=sys.stderr)
        return 2
    if args.endpoint:
        from builders.annotate.endpoint import EndpointBackend

        backend = EndpointBackend(args.endpoint, args.model, token=os.environ.get(TOKEN_ENV) or "-",
                                  timeout=args.timeout, attempts=args.attempts)
        concurrency = args.concurrency
    else:
        try:
            backend = local_backend(args.model)
        except (RuntimeError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        concurrency = 1
    counts = annotate_option_roles(args.raw, backend, concurrency=concurrency)
    print(f"{args.raw / ARTIFACT}: " + ", ".join(f"{k}={counts[k]}" for k in
                                                 ("ok", "partial", "unknown", "failed", "skipped")))
    if counts["failed"]:
        print(f"{counts['failed']} items got no answer (timeouts, 429 or 5xx after every retry): "
              "run the same command again to ask only those", file=sys.stderr)
        return 1
    return 0


def add_annotate_parser(sub: argparse._SubParsersAction) -> None:
    """``cvc annotate …`` and its subcommands."""
    annotate = sub.add_parser(
        "annotate", help="ask a model what the text leaves open; write its answers into the raw tree",
        description="Ask a model about the items of a raw tree that the text does not settle, and append its "
                    "answers to an annotation artifact in the raw tree, which `cvc build` then reads like any "
                    "raw file (no model is called by the build).")
    kinds = annotate.add_subparsers(dest="annotation", required=True)
    roles = kinds.add_parser(
        "option-roles", help="which option of a dilemma / experiment-2 scene follows which rule",
        description="For every dilemma and experiment-2 scene whose option roles the text left open, ask a "
                    "model which option follows rule A and which rule B (a JSON reply; anything else is "
                    "recorded as unknown, never guessed). Appends to <raw>/annotations/option_roles.jsonl; a "
                    "rerun asks only the items not answered yet. With --endpoint: an OpenAI-compatible chat "
                    f"endpoint (API key from ${TOKEN_ENV} if set); without: --model is a transformers model "
                    "(local path or Hub id; needs the models extra): an instruct LM is asked the same prompt, an "
                    "NLI model (sequence classification with an entailment label) scores each option against "
                    "each rule.")
    roles.add_argument("--raw", type=Path, required=True, help="raw tree (the artifact is written into it)")
    roles.add_argument("--endpoint", default=None, metavar="URL",
                       help="base URL of an OpenAI-compatible endpoint, e.g. http://host:8080/v1")
    roles.add_argument("--model", required=True, metavar="NAME_OR_PATH",
                       help="with --endpoint: the model name it serves; without: a transformers model path or id")
    roles.add_argument("--concurrency", type=int, default=4, help="endpoint requests in flight (default: 4)")
    roles.add_argument("--timeout", type=float, default=60.0, help="seconds per endpoint request (default: 60)")
    roles.add_argument("--attempts", type=int, default=5,
                       help="tries per item on timeouts, 429 and 5xx, with exponential backoff (default: 5)")
    roles.set_defaults(func=_cmd_option_roles)
