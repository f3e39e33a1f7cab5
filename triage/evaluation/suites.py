"""Each suite run on a ``Workbench``: what ``triage eval <suite>`` writes under the suite's name."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from triage.evaluation.runner import SUITES, Workbench, log


def run_classify(bench: Workbench) -> dict[str, Any]:
    from triage.evaluation.classify import classify_suite

    train = bench.history if bench.config.history else None
    result, scored = classify_suite(bench.classifier, bench.data, bench.policy, train=train)
    bench.__dict__["scored"] = scored  # the thresholds suite reuses these predictions
    cov = result["coverage_at_precision"]
    log(
        f"classify: n={result['n']} accuracy={result['accuracy']:.4f} macro_f1={result['macro_f1']:.4f} "
        f"ece={result['ece']:.4f} ece_adaptive={result['ece_adaptive']:.4f} coverage@0.99={cov['0.99']:.3f}"
    )
    return result


def _calibration_split(bench: Workbench) -> tuple[list[Any], list[Any]]:
    """(calibration, test) predictions: ``--calibration FILE`` against ``--data``, or a stratified split of
    ``--data`` (``--calibration-share``)."""
    from sklearn.model_selection import train_test_split

    from triage.evaluation.classify import score_model
    from triage.evaluation.runner import spread

    if bench.config.calibration is not None:
        rows = spread(bench._load(bench.config.calibration, "calibration"), bench.config.limit)
        return score_model(bench.classifier, rows), bench.scored
    scored = bench.scored
    labels = [s.label for s in scored]
    counts = {label: labels.count(label) for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 else None
    cal, test = train_test_split(
        list(range(len(scored))),
        train_size=bench.config.calibration_share,
        stratify=stratify,
        random_state=bench.config.seed,
    )
    return [scored[i] for i in cal], [scored[i] for i in test]


def run_thresholds(bench: Workbench) -> dict[str, Any]:
    from triage.evaluation.thresholds import Method, Scope, cost_suite, load_costs, threshold_suite

    config = bench.config
    calibration, test = _calibration_split(bench)
    labels = bench.classifier.labels
    result = threshold_suite(
        calibration,
        labels,
        bench.policy,
        target=config.target_precision,
        confidence=config.confidence,
        method=cast(Method, config.method),
        scope=cast(Scope, config.scope),
        test=test,
    )
    if config.costs is not None:
        result["cost"] = cost_suite(calibration, labels, bench.policy, load_costs(config.costs))
    point = result["test"]["proposed"]
    log(
        f"thresholds: target {config.target_precision} at {config.confidence:.0%} ({config.method}, {config.scope}): "
        f"calibration coverage {result['proposed']['coverage']:.3f}; held-out coverage {point['coverage']:.3f} "
        f"at precision {point['precision'] if point['precision'] is None else round(point['precision'], 4)}"
    )
    return result


def run_retrieve(bench: Workbench) -> dict[str, Any]:
    from triage.evaluation.retrieve import retrieve_suite

    result = retrieve_suite(bench.store, bench.embedder, bench.data, bench.policy, k=bench.config.k)
    result["history"] = len(bench.history)
    res = result["resolution"]
    log(
        f"retrieve: n={result['n']} precision@{result['k']}={result['precision_at_k']:.3f} "
        f"hit_rate={result['hit_rate_at_k']:.3f} mrr={result['mrr']:.3f} p50={result['latency_ms']['p50']:.1f}ms; "
        f"resolution shown {res['shown_share']} right when shown {res['accuracy_when_shown']}"
    )
    return result


def run_e2e(bench: Workbench) -> dict[str, Any]:
    from triage.evaluation.e2e import e2e_suite

    run = bench.pipeline
    result = e2e_suite(run.cases, run.latency_ms, bench.outcomes)
    auto = result["auto_approved"]
    log(
        f"e2e: n={result['n']} auto {auto['share']:.3f} (wrong {auto['wrong']}, share {auto['wrong_share']}) "
        f"review {result['needs_review']['share']:.3f} blocked {result['blocked']['share']:.3f} "
        f"abstained {result['abstained']['share']:.3f} p50={result['latency_ms']['p50']:.0f}ms"
    )
    return result


def run_drafts(bench: Workbench) -> dict[str, Any]:
    from triage.engines.drafting.factcheck_config import load_factcheck_config
    from triage.evaluation.drafts import adversarial_suite, draft_quality, load_adversarial

    config = load_factcheck_config(bench.settings.factcheck_file)
    adversarial = adversarial_suite(
        load_adversarial(bench.config.adversarial), Path(), config, bench.taxonomy
    )
    llm = bench.settings.llm
    result: dict[str, Any] = {
        "llm": f"LLM drafts from {llm.model} at {llm.base_url}"
        if llm.configured
        else "no LLM configured: template drafts only (set TRIAGE_LLM_BASE_URL to evaluate LLM drafts)",
        "adversarial": adversarial,
    }
    if bench.config.data is not None and bench.config.history is not None:
        run = bench.pipeline
        result["quality"] = draft_quality(run.cases, run.events)
    log(
        f"drafts: adversarial caught {adversarial['caught_share']:.3f} of {adversarial['planted']}, "
        f"false alarms {adversarial['false_alarm_share']}"
    )
    return result


def run_replay(bench: Workbench) -> dict[str, Any]:
    from triage.engines.policy.loader import load_policy
    from triage.evaluation.measures import SOURCES, load_assumptions
    from triage.evaluation.replay_suite import replay_suite

    cases, source = bench.recorded()
    candidates = {path.stem: load_policy(path) for path in bench.config.candidates}
    predict = None
    if bench.config.candidate_model is not None:
        from triage.engines.classifier import load_classifier

        model = load_classifier(bench.config.candidate_model, bench.embedder)
        predict = model.predict
    assumptions = load_assumptions(bench.config.assumptions)
    result = replay_suite(cases, bench.policy, candidates, bench.taxonomy, assumptions, predict)
    result |= {
        "source": source,
        "candidates": {
            name: str(path) for name, path in zip(candidates, bench.config.candidates, strict=True)
        },
        "sources": SOURCES,
        "assumptions": assumptions.model_dump(),
    }
    for name, measures in result["policies"].items():
        auto = measures["auto_approved"]
        log(
            f"replay [{name}]: auto {auto['share']} wrong {auto['wrong']}; sla risk {measures['sla_risk']['overall']['share']}"
        )
    return result


RUNNERS: dict[str, Callable[[Workbench], dict[str, Any]]] = {
    "classify": run_classify,
    "thresholds": run_thresholds,
    "retrieve": run_retrieve,
    "drafts": run_drafts,
    "e2e": run_e2e,
    "replay": run_replay,
}


def run_suites(bench: Workbench, names: list[str]) -> dict[str, Any]:
    """The run's JSON: ``meta`` and one entry per suite, in ``SUITES`` order."""
    run: dict[str, Any] = {}
    for name in (s for s in SUITES if s in names):
        started = time.perf_counter()
        run[name] = RUNNERS[name](bench)
        bench.meta[f"{name}_seconds"] = round(time.perf_counter() - started, 1)
    bench.meta |= {
        "suites": [s for s in SUITES if s in names],
        "data": str(bench.config.data),
        "history": str(bench.config.history),
        "rows": len(bench.data) if bench.config.data else None,
    }
    if "classifier" in bench.__dict__:
        bench.meta["model_version"] = bench.classifier.version
    return {"meta": dict(bench.meta), **run}
