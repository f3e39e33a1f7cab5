"""``triage policy check [FILE]``: validate a policy file and its references to the taxonomy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from triage.config import get_settings
from triage.core.errors import ConfigurationError
from triage.engines.policy.loader import cross_check, load_policy
from triage.engines.policy.models import Policy
from triage.engines.policy.taxonomy import load_taxonomy

EXIT_INVALID = 2


def _summary(path: Path, policy: Policy, warnings: list[str]) -> str:
    lines = [f"policy {path}: valid, label {policy.version}, version {policy.version_hash}"]
    for label in policy.categories:
        rules = policy.category(label)
        auto_actions = [name for name, rule in rules.actions.items() if rule.auto_allowed]
        lines.append(
            f"  {label}: mode {rules.mode.value}, auto >= {rules.thresholds.auto}, review >= "
            f"{rules.thresholds.review}, margin {rules.ambiguity_margin}, {len(rules.actions)} action(s)"
            + (f", auto-allowed: {', '.join(auto_actions)}" if auto_actions else "")
        )
    slas = ", ".join(f"{level} {sla.minutes} min" for level, sla in policy.review_slas.items())
    lines.append(f"  review SLAs: {slas}")
    lines += [f"  warning: {warning}" for warning in warnings]
    return "\n".join(lines)


def _invalid(message: str) -> int:
    print(f"invalid: {message}", file=sys.stderr)
    return EXIT_INVALID


def run_policy_check(args: argparse.Namespace) -> int:
    """Exit 0 with a summary when the file is valid, 2 with every problem on stderr when it is not."""
    settings = get_settings()
    path = Path(getattr(args, "file", None) or settings.policy_file)
    try:
        taxonomy = load_taxonomy(settings.taxonomy_file)
        policy = load_policy(path)
    except ConfigurationError as exc:
        return _invalid(exc.detail)
    errors, warnings = cross_check(policy, taxonomy)
    if errors:
        listed = "\n  ".join(errors)
        return _invalid(f"{path}: {len(errors)} problem(s) against {settings.taxonomy_file}:\n  {listed}")
    print(_summary(path, policy, warnings))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``policy`` and its subcommands to the ``triage`` parser."""
    policy = subparsers.add_parser("policy", help="the governed policy").add_subparsers(
        dest="policy_command", required=True, metavar="WHAT"
    )
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path, nargs="?", default=None)
    check.set_defaults(target="triage.commands.policy:run_policy_check")
