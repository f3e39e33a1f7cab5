"""Step progress off a terminal: periodic count lines, one duration line per step, nested steps indented."""

from __future__ import annotations

import io
import re
import time

import pytest

from triage.engines.retrieval import progress
from triage.engines.retrieval.progress import Progress


@pytest.fixture(autouse=True)
def fast_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "FIRST_REPORT_S", 0.05)
    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.05)


def test_counted_step_prints_its_progress_then_its_duration() -> None:
    out = io.StringIO()
    with Progress(stream=out).step("embedding", total=4, unit="text") as step:
        step.update(2)
        time.sleep(0.3)
        step.update(2)
    lines = out.getvalue().splitlines()
    assert any(re.fullmatch(r"embedding 2/4 \(50%\), \d+ s", line) for line in lines), lines
    assert re.fullmatch(r"embedding: done in \d+\.\d s", lines[-1])
    assert step.seconds >= 0.3


def test_inner_step_pauses_the_outer_one_and_is_indented() -> None:
    out = io.StringIO()
    report = Progress(stream=out)
    with report.step("model"), report.step("fitting"):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    inner = lines.index(next(line for line in lines if line.startswith("  fitting: done in")))
    assert all(line.startswith("  fitting") for line in lines[:inner]), lines  # the outer step stayed quiet
    assert lines[-1].startswith("model: done in")


def test_a_failed_step_says_so_and_a_disabled_one_prints_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream=out).step("history"):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("history: failed after")

    quiet = io.StringIO()
    with Progress(False, stream=quiet).step("silent", total=1) as step:
        time.sleep(0.1)
        step.update()
    assert quiet.getvalue() == "" and step.seconds >= 0.1
