"""The ``triage`` command line: a thin argparse layer over the command modules.

Each subcommand imports its handler lazily, so ``triage --help`` stays instant (no torch, no qdrant).
Handlers take the parsed arguments and return an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from triage.commands import audit, evaluation, keys, model, policy, retrieval, service, webhooks
from triage.commands.retrieval import add_column_options


def _register_models(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = subparsers.add_parser("train", help="train a classifier artifact")
    train.add_argument("--data", type=Path, required=True, help=".csv or .jsonl training file")
    train.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    train.add_argument("--seed", type=int, default=0)
    add_column_options(train)
    train.set_defaults(target="triage.commands.ml:run_train")
    predict = subparsers.add_parser("predict", help="classify texts with an artifact")
    predict.add_argument("--model", type=Path, required=True)
    predict.add_argument("--data", type=Path, help="file of texts (.csv/.jsonl) instead of arguments")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    add_column_options(predict)
    predict.set_defaults(target="triage.commands.ml:run_predict")


def build_parser() -> argparse.ArgumentParser:
    """Every command module adds its own subcommands (``register``); handlers are imported when run."""
    parser = argparse.ArgumentParser(prog="triage", description="Governed triage of order exceptions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    service.register(sub)
    _register_models(sub)
    evaluate = sub.add_parser("eval", help="offline evaluation").add_subparsers(
        dest="eval_command", required=True, metavar="SUITE"
    )
    evaluation.register(evaluate)
    retrieval.register(sub)
    audit.register(sub)
    policy.register(sub)
    keys.register(sub)
    webhooks.register(sub)
    model.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, _, function_name = args.target.partition(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
