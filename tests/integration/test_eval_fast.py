"""``triage eval``: the fast version of every suite against the committed baseline (what CI runs), the classify
report on its own, and errors as exit code 2. Commands are built with ``register`` on a parser of our own."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.commands.evaluation import register, run_eval
from triage.config import get_settings
from triage.evaluation.runner import SUITES

HISTORY = "eval/datasets/order_exceptions/history.jsonl"
TEST = "eval/datasets/order_exceptions/test.jsonl"
BASELINE = "eval/baselines/fast.json"
REPLAY_MEASURES = (
    "decisions",
    "auto_approved",
    "reviews_per_day",
    "sla_risk",
    "detection_to_resolution_hours",
    "review_sla_attainment",
    "promise_date_attainment",
    "standard_workflow_share",
    "customer_communication_hours",
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="triage eval")
    register(parser.add_subparsers(dest="eval_command", required=True))
    return parser.parse_args(argv)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRIAGE_LLM_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def offline(page: str) -> bool:
    """No resource the page would fetch: no src= or stylesheet link, no URL but SVG namespaces."""
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    return not re.search(r"<(script|img|link)\b", page) and urls <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://purl.org/dc/elements/1.1/",
        "http://purl.org/dc/dcmitype/StillImage",
        "http://creativecommons.org/ns#",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "https://matplotlib.org/",
    }


@pytest.mark.slow
def test_fast_suites_hold_the_committed_baseline(home: Path) -> None:
    out = home / "run"
    args = parse(
        "all", "--fast", "--history", HISTORY, "--data", TEST, "--candidate", "eval/policies/stricter.yaml",
        "--out", str(out), "--baseline", BASELINE,
    )  # fmt: skip
    assert run_eval(args) == 0, "a fast suite regressed against eval/baselines/fast.json"
    run = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert set(SUITES) <= set(run)
    assert [row["status"] for row in run["comparison"] if row["status"] in ("regressed", "missing")] == []
    assert sum(row["status"] == "ok" for row in run["comparison"]) >= 10
    for policy in ("current", "stricter"):
        assert set(REPLAY_MEASURES) <= set(run["replay"]["policies"][policy])
    stricter, current = (
        run["replay"]["policies"][p]["auto_approved"]["count"] for p in ("stricter", "current")
    )
    assert stricter <= current
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and offline(page)

    report = home / "classify.html"
    classify = parse("classify", "--model", str(out / "model"), "--data", TEST, "--limit", "100", "--report", str(report), "--json", str(home / "c.json"))  # fmt: skip
    assert run_eval(classify) == 0
    result = json.loads((home / "c.json").read_text(encoding="utf-8"))  # the contract's shape: figures on top
    assert {"n", "accuracy", "macro_f1", "ece", "coverage_at_precision", "per_class"} <= set(result)
    assert len(result["confusion_matrix"]) == len(result["labels"])
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and offline(page)


def test_bad_input_is_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("thresholds", "--model", str(home / "no-model"), "--data", str(home / "missing.jsonl"))
    assert run_eval(args) == 2
    assert capsys.readouterr().err.startswith("error: ")  # at once: before any model is loaded
