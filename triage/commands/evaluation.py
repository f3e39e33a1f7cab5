"""``triage eval <suite>``: the offline evaluation harness (``triage.evaluation``) on the command line.

``register`` adds every suite's arguments to the ``eval`` subcommand group; ``run_eval`` is the one handler.
Each run writes JSON for machines (``--json``, or stdout) and, with ``--report``, one self-contained HTML page.
``--baseline FILE`` compares with a previous run's JSON under the rules of ``--tolerances`` and exits 1 on a
regression beyond them (2 on an error, as every command). ``python -m triage.commands.evaluation`` runs the
same commands without the rest of the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.core.errors import ConfigurationError, InvalidInput, TriageError

EXIT_REGRESSION = 1
EXIT_ERROR = 2
TARGET = "triage.commands.evaluation:run_eval"
DEFAULT_TOLERANCES = Path("eval/baselines/tolerances.yaml")
FAST = {"train_sample": 1000, "limit": 240, "e2e_limit": 120}


def _columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="text column of a plain CSV/JSONL file")
    parser.add_argument("--label-col", default="label", help="label column of a plain CSV/JSONL file")


def _outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, help="write the run's JSON here (else stdout)")
    parser.add_argument("--report", type=Path, default=None, help="write a self-contained HTML report")
    parser.add_argument("--baseline", type=Path, default=None, help="a previous run's JSON to compare with")
    parser.add_argument("--tolerances", type=Path, default=DEFAULT_TOLERANCES, help="regression rules")
    parser.add_argument("--limit", type=int, default=None, help="use N rows of --data, evenly spaced")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--policy", type=Path, default=None, help="the policy in force (default: settings)")
    _columns(parser)


def _model(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        required=required,
        help="classifier artifact"
        + ("" if required else " (default: train the frozen-encoder recipe on --history)"),
    )


def _thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        dest="target_precision",
        type=float,
        default=0.99,
        help="target precision of auto-approvals",
    )
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence of the precision bound")
    parser.add_argument("--method", choices=["clopper-pearson", "wilson"], default="clopper-pearson")
    parser.add_argument("--scope", choices=["pooled", "per-class"], default="pooled")
    parser.add_argument("--calibration", type=Path, default=None, help="calibration file (else split --data)")
    parser.add_argument(
        "--calibration-share", type=float, default=0.5, help="share of --data to calibrate on"
    )
    parser.add_argument("--costs", type=Path, default=None, help="costs per category (eval/costs.yaml)")
    parser.add_argument(
        "--out-policy", type=Path, default=None, help="write the policy with the proposal applied"
    )


def _replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--candidate", type=Path, action="append", default=[], help="candidate policy (repeatable)"
    )
    parser.add_argument("--candidate-model", type=Path, default=None, help="candidate classifier artifact")
    parser.add_argument("--assumptions", type=Path, default=Path("eval/replay.yaml"))
    parser.add_argument("--database", action="store_true", help="replay the service's recorded cases")


def _pipeline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", type=Path, default=None, help="history to index (and train on)")
    parser.add_argument("--data", type=Path, default=None, help="dataset with outcomes (history format)")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--learn-space", action="store_true", help="tune the encoder on the history first")
    parser.add_argument("--e2e-limit", type=int, default=None, help="run N cases through the pipeline")
    parser.add_argument(
        "--train-sample", type=int, default=None, help="train on N history rows, evenly spaced"
    )
    _model(parser, required=False)


def register(evaluate: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``classify``, ``thresholds``, ``retrieve``, ``drafts``, ``e2e``, ``replay`` and ``all``."""
    classify = evaluate.add_parser("classify", help="accuracy, calibration, risk-coverage, policy thresholds")
    _model(classify, required=True)
    classify.add_argument("--data", type=Path, required=True)
    classify.add_argument(
        "--train", dest="history", type=Path, default=None, help="train the TF-IDF baseline"
    )
    _outputs(classify)
    classify.set_defaults(target=TARGET, suite="classify")

    thresholds = evaluate.add_parser("thresholds", help="per-category thresholds for a target precision")
    _model(thresholds, required=True)
    thresholds.add_argument("--data", type=Path, required=True)
    _thresholds(thresholds)
    _outputs(thresholds)
    thresholds.set_defaults(target=TARGET, suite="thresholds")

    retrieve = evaluate.add_parser("retrieve", help="similar cases and the predicted resolution")
    retrieve.add_argument("--history", type=Path, required=True)
    retrieve.add_argument("--data", type=Path, required=True)
    retrieve.add_argument("--k", type=int, default=5)
    retrieve.add_argument(
        "--frozen", dest="learn_space", action="store_false", help="index in the frozen space"
    )
    _outputs(retrieve)
    retrieve.set_defaults(target=TARGET, suite="retrieve", learn_space=True)

    for name, help_text in (
        ("drafts", "fact-check findings, leaks, reading level, an adversarial set"),
        ("e2e", "the whole pipeline on a dataset with outcomes"),
        ("replay", "a candidate policy or model over recorded cases, against what happened"),
        ("all", "every suite on shared inputs"),
    ):
        parser = evaluate.add_parser(name, help=help_text)
        _pipeline(parser)
        _outputs(parser)
        if name in ("drafts", "all"):
            parser.add_argument("--adversarial", type=Path, default=Path("eval/drafts/adversarial.yaml"))
        if name in ("replay", "all"):
            _replay(parser)
        if name == "all":
            _thresholds(parser)
            parser.add_argument(
                "--out", type=Path, default=None, help="folder for eval.json, report.html, model"
            )
            parser.add_argument("--fast", action="store_true", help="small samples: the CI version")
        parser.set_defaults(target=TARGET, suite=name)


def config_from_args(args: argparse.Namespace) -> Any:
    """An ``EvalConfig`` from parsed arguments (attributes a subcommand lacks keep their defaults)."""
    from dataclasses import fields

    from triage.evaluation.runner import EvalConfig

    values = {
        f.name: getattr(args, f.name) for f in fields(EvalConfig) if getattr(args, f.name, None) is not None
    }
    if getattr(args, "candidate", None):
        values["candidates"] = list(args.candidate)
    values["database"] = bool(getattr(args, "database", False))
    if getattr(args, "fast", False):
        values |= {key: values.get(key) or value for key, value in FAST.items()}
    values["progress"] = sys.stderr.isatty()
    return EvalConfig(**values)


def _suites(name: str) -> list[str]:
    from triage.evaluation.runner import SUITES

    return list(SUITES) if name == "all" else [name]


def flat(run: dict[str, Any]) -> dict[str, Any]:
    """A one-suite run keeps the contract's shape: the suite's figures at the top, ``meta`` beside them."""
    suites = run.get("meta", {}).get("suites", [])
    if len(suites) != 1:
        return run
    extra = {key: run[key] for key in ("meta", "comparison") if key in run}
    return {**run[suites[0]], **extra}


def nested(run: dict[str, Any]) -> dict[str, Any]:
    """Any run's JSON (one suite at the top, or several by name) with every suite under its name."""
    from triage.evaluation.runner import SUITES

    suites = run.get("meta", {}).get("suites", [])
    if any(name in run for name in SUITES) or len(suites) != 1:
        return run
    return {suites[0]: run, "meta": run.get("meta", {})}


def _write(args: argparse.Namespace, run: dict[str, Any]) -> None:
    from triage.evaluation.report import render

    out = getattr(args, "out", None)
    json_path = getattr(args, "json", None) or (out / "eval.json" if out else None)
    report_path = getattr(args, "report", None) or (out / "report.html" if out else None)
    text = json.dumps(flat(run), indent=1, ensure_ascii=False, default=str)
    if json_path is None:
        print(text)
    else:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {json_path}", file=sys.stderr)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(render(run), encoding="utf-8")
        print(f"wrote {report_path}", file=sys.stderr)


def _compare(args: argparse.Namespace, run: dict[str, Any]) -> int:
    from triage.evaluation.compare import compare, failed, load_tolerances, summary_lines

    baseline_path = getattr(args, "baseline", None)
    if baseline_path is None:
        return 0
    try:
        baseline = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{baseline_path}: not a readable run ({exc})") from exc
    rows = compare(run, nested(baseline), load_tolerances(getattr(args, "tolerances", DEFAULT_TOLERANCES)))
    run["comparison"] = rows
    for line in summary_lines(rows):
        print(line, file=sys.stderr)
    bad = failed(rows)
    verdict = f"{len(bad)} regression(s) beyond tolerance" if bad else "no regression beyond tolerance"
    print(f"against {baseline_path}: {verdict}", file=sys.stderr)
    return EXIT_REGRESSION if bad else 0


def _out_policy(args: argparse.Namespace, run: dict[str, Any], bench: Any) -> None:
    import yaml

    from triage.evaluation.thresholds import proposed_policy

    path = getattr(args, "out_policy", None)
    if path is None or "thresholds" not in run:
        return
    proposal = {k: v["proposed_auto"] for k, v in run["thresholds"]["per_category"].items()}
    data = proposed_policy(bench.policy, proposal)
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def run_eval(args: argparse.Namespace) -> int:
    """Run ``args.suite`` (or every suite for ``all``); 0, 1 on a regression against ``--baseline``, 2 on error."""
    from triage.config import get_settings
    from triage.evaluation.runner import Workbench
    from triage.evaluation.suites import run_suites

    try:
        bench = Workbench(config_from_args(args), get_settings())
        try:
            run = run_suites(bench, _suites(args.suite))
            _out_policy(args, run, bench)
        finally:
            bench.close()
        status = _compare(args, run)
    except (TriageError, ConfigurationError) as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    _write(args, run)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage eval", description="Offline evaluation of the triage service."
    )
    register(parser.add_subparsers(dest="eval_command", required=True, metavar="SUITE"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_eval(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
