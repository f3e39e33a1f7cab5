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

from triage.commands import audit as audit_commands


def _common_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="text column of a plain CSV/JSONL file")
    parser.add_argument("--label-col", default="label", help="label column of a plain CSV/JSONL file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="Governed triage of order exceptions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (needs a Qdrant server)")
    serve.set_defaults(target="triage.commands.service:run_serve")

    boot = sub.add_parser("bootstrap", help="build what serve needs and is missing (safe to run twice)")
    boot.set_defaults(target="triage.commands.service:run_bootstrap")

    train = sub.add_parser("train", help="train a classifier artifact")
    train.add_argument("--data", type=Path, required=True, help=".csv or .jsonl training file")
    train.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    train.add_argument("--seed", type=int, default=0)
    _common_columns(train)
    train.set_defaults(target="triage.commands.ml:run_train")

    predict = sub.add_parser("predict", help="classify texts with an artifact")
    predict.add_argument("--model", type=Path, required=True)
    predict.add_argument("--data", type=Path, help="file of texts (.csv/.jsonl) instead of arguments")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    _common_columns(predict)
    predict.set_defaults(target="triage.commands.ml:run_predict")

    index = sub.add_parser("index", help="upsert historical cases into the history collection")
    index.add_argument("--data", type=Path, required=True)
    index.add_argument("--batch-size", type=int, default=256)
    _common_columns(index)
    index.set_defaults(target="triage.commands.retrieval:run_index")

    evaluate = sub.add_parser("eval", help="offline evaluation").add_subparsers(
        dest="eval_command", required=True, metavar="WHAT"
    )
    classify = evaluate.add_parser("classify", help="accuracy, calibration and coverage of a classifier")
    classify.add_argument("--model", type=Path, required=True)
    classify.add_argument("--data", type=Path, required=True)
    classify.add_argument("--json", type=Path, default=None)
    classify.add_argument("--report", type=Path, default=None, help="write an HTML report")
    _common_columns(classify)
    classify.set_defaults(target="triage.commands.ml:run_eval_classify")
    retrieve = evaluate.add_parser("retrieve", help="precision and hit rate of similar-case retrieval")
    retrieve.add_argument("--history", type=Path, required=True)
    retrieve.add_argument("--data", type=Path, required=True)
    retrieve.add_argument("--k", type=int, default=5)
    retrieve.add_argument("--json", type=Path, default=None)
    _common_columns(retrieve)
    retrieve.set_defaults(target="triage.commands.retrieval:run_eval_retrieve")

    audit_commands.register(sub)

    policy = sub.add_parser("policy", help="the governed policy").add_subparsers(
        dest="policy_command", required=True, metavar="WHAT"
    )
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path, nargs="?", default=None)
    check.set_defaults(target="triage.commands.policy:run_policy_check")

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True, metavar="WHAT"
    )
    create = keys.add_parser("create", help="create an API key (printed once)")
    create.add_argument(
        "--role", required=True, choices=["workflow", "agent", "supervisor", "compliance", "admin"]
    )
    create.add_argument("--subject", required=True)
    create.add_argument("--teams", default="", help="comma-separated teams whose queues the key may see")
    create.set_defaults(target="triage.commands.keys:run_keys_create")
    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key_id")
    revoke.set_defaults(target="triage.commands.keys:run_keys_revoke")
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
