"""One self-contained HTML page for a run: every suite that ran, its figures inline (SVG), nothing fetched."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from triage.evaluation import plots

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}"
    "h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right;font-size:.9em}"
    "td:first-child,th:first-child{text-align:left}.bad{background:#fdd}.ok{background:#dfd}"
    "p.note{color:#555;font-size:.9em;max-width:60em}svg{max-width:100%;height:auto}"
    "td.text{text-align:left;max-width:40em}"
)


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        css = f" class='{classes[i]}'" if i < len(classes) and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


CLASSIFY_HEADS = [
    "",
    "n",
    "accuracy",
    "macro F1",
    "ECE (15 equal-width)",
    "ECE (adaptive)",
    "cov@0.95",
    "cov@0.99",
]


def _summary_row(name: str, r: dict[str, Any]) -> list[Any]:
    coverage = r["coverage_at_precision"]
    return [
        name,
        r["n"],
        r["accuracy"],
        r["macro_f1"],
        r["ece"],
        r["ece_adaptive"],
        coverage["0.95"],
        coverage["0.99"],
    ]


def _classify(r: dict[str, Any]) -> str:
    baseline = r.get("baseline")
    rows = [_summary_row("model", r)]
    curves = {"model": r["risk_coverage"]["points"]}
    if baseline:
        rows.append(_summary_row(baseline["name"], baseline))
        curves[f"baseline: {baseline['name']}"] = baseline["risk_coverage"]["points"]
    return "".join(
        [
            "<h2>Classification</h2>",
            table(CLASSIFY_HEADS, rows),
            _reliability_section(r),
            _near_thresholds_section(r),
            _risk_coverage_section(r, curves),
            _policy_section(r),
            "<h3>Per class (worst F1 first)</h3>",
            table(
                ["label", "precision", "recall", "F1", "support"],
                [
                    [k, v["precision"], v["recall"], v["f1"], v["support"]]
                    for k, v in sorted(r["per_class"].items(), key=lambda kv: kv[1]["f1"])
                ],
            ),
            "<h3>Confusion matrix</h3>",
            plots.confusion(r["labels"], r["confusion_matrix"]),
            "<h3>The most confident mistakes</h3>",
            table(
                ["confidence", "true", "predicted", "text"],
                [[m["confidence"], m["label"], m["predicted"], m["text"]] for m in r["worst_mistakes"]],
            ),
        ]
    )


def _reliability_section(r: dict[str, Any]) -> str:
    bins = [
        [
            f"{b['lower']:.3f}-{b['upper']:.3f}",
            b["count"],
            b["confidence"],
            b["accuracy"],
            b["accuracy"] - b["confidence"],
        ]
        for b in r["reliability"]
    ]
    return (
        "<h3>Reliability (top-1 confidence)</h3>"
        + plots.reliability(r["reliability"], r["reliability_adaptive"])
        + table(["bin", "count", "mean confidence", "accuracy", "gap"], bins)
    )


def _near_thresholds_section(r: dict[str, Any]) -> str:
    near = [
        [
            n["threshold"],
            n["value"],
            ", ".join(n["categories"]),
            n["below"]["count"],
            n["below"]["confidence"],
            n["below"]["accuracy"],
            n["above"]["count"],
            n["above"]["confidence"],
            n["above"]["accuracy"],
        ]
        for n in r["near_thresholds"]
    ]
    width = r["near_thresholds"][0]["width"] if r["near_thresholds"] else 0
    return (
        "<h3>Calibration next to each threshold in force</h3>"
        + note(f"Items predicted as the categories using the threshold, within ±{width} of it.")
        + table(
            ["threshold", "value", "categories", "below: n", "conf", "acc", "above: n", "conf", "acc"], near
        )
    )


def _risk_coverage_section(r: dict[str, Any], curves: dict[str, Any]) -> str:
    ops = r["policy_thresholds"]
    overall = ops["overall"]["auto"]
    marks = {"policy auto": overall["coverage"]} if overall["count"] else {}
    auto_mode = ops["overall_auto_mode_only"]
    return (
        "<h3>Risk-coverage</h3>"
        + plots.risk_coverage(curves, marks)
        + note(
            f"AURC {r['risk_coverage']['aurc']:.4f}. At the policy's own thresholds: auto-eligible {overall['count']} "
            f"({fmt(overall['coverage'])}) at precision {fmt(overall['precision'])}; of those in categories whose "
            f"mode is auto: {auto_mode['count']} at precision {fmt(auto_mode['precision'])}."
        )
    )


def _policy_section(r: dict[str, Any]) -> str:
    per_cat = [
        [
            label,
            c["mode"],
            c["auto_threshold"],
            c["review_threshold"],
            c["predicted"],
            c["auto"]["coverage"],
            c["auto"]["precision"],
            c["review"]["coverage"],
            c["abstain"]["coverage"],
            c["abstain"]["precision"],
        ]
        for label, c in r["policy_thresholds"]["per_category"].items()
    ]
    heads = [
        "category",
        "mode",
        "auto",
        "review",
        "predicted",
        "auto: coverage",
        "auto: precision",
        "review band",
        "abstain",
        "abstain: precision",
    ]
    return "<h3>Precision and coverage at the policy's thresholds, per predicted category</h3>" + table(
        heads, per_cat
    )


def _thresholds(r: dict[str, Any]) -> str:
    rows = [
        [
            label,
            c["mode"],
            c["current_auto"],
            c["proposed_auto"] if not c["never_auto"] else "never auto",
            c["calibration"]["n"],
            c["calibration"]["coverage"],
            c["calibration"]["precision"],
        ]
        for label, c in r["per_category"].items()
    ]
    parts = [
        "<h2>Thresholds</h2>",
        note(
            f"Target precision {r['target_precision']} at {r['confidence']:.0%} confidence, {r['method']} lower "
            f"bound, scope {r['scope']}, {r['calibration_n']} calibration items; a per-category guarantee needs at "
            f"least {r['min_items_per_category_for_a_guarantee']} items of that category, all correct."
        ),
        table(
            ["", "auto", "coverage", "precision", "errors"],
            [
                [name, p["auto"], p["coverage"], p["precision"], p["errors"]]
                for name, p in (
                    ("proposed (calibration)", r["proposed"]),
                    ("today (calibration)", r["current"]),
                    *((f"{k} (held-out test)", v) for k, v in r.get("test", {}).items()),
                )
            ],
        ),
        table(["category", "mode", "today", "proposed", "calibration n", "coverage", "precision"], rows),
        f"<h3>Proposed policy block</h3><pre>{html.escape(r['policy_block'])}</pre>",
    ]
    if "cost" in r:
        cost = r["cost"]
        parts += [
            "<h3>By cost</h3>",
            note(
                f"Expected cost per case: {fmt(cost['best_cost_per_case'])} at the cheapest thresholds, "
                f"{fmt(cost['current_cost_per_case'])} with today's."
            ),
            table(
                ["category", "wrong auto", "review", "cases", "best auto", "cost/case", "today", "cost/case"],
                [
                    [
                        k,
                        c["costs"]["wrong_auto"],
                        c["costs"]["review"],
                        c["cases"],
                        c["best_auto"],
                        c["best_cost_per_case"],
                        c["current_auto"],
                        c["current_cost_per_case"],
                    ]
                    for k, c in cost["per_category"].items()
                ],
            ),
        ]
    return "".join(parts)


def _retrieve(r: dict[str, Any]) -> str:
    res = r["resolution"]
    return "".join(
        [
            "<h2>Retrieval</h2>",
            table(
                ["n", "k", "precision@k", "hit rate@k", "MRR", "p50 ms", "p99 ms", "embed ms/query", "space"],
                [
                    [
                        r["n"],
                        r["k"],
                        r["precision_at_k"],
                        r["hit_rate_at_k"],
                        r["mrr"],
                        r["latency_ms"]["p50"],
                        r["latency_ms"]["p99"],
                        r["embed_ms_per_query"],
                        r["vector_space"],
                    ]
                ],
            ),
            "<h3>Predicted resolution against the recorded action</h3>",
            table(
                [
                    "queries with an action",
                    "shown",
                    "shown share",
                    "accuracy when shown",
                    "accuracy overall",
                    "why",
                ],
                [
                    [
                        res["n"],
                        res["shown"],
                        res["shown_share"],
                        res["accuracy_when_shown"],
                        res["accuracy_overall"],
                        res["why"],
                    ]
                ],
            ),
            note(
                f"Shown when at least {res['rules']['min_support']} neighbours scoring ≥ {res['rules']['min_score']} "
                f"back the action with ≥ {res['rules']['min_agreement']:.0%} of the weight (policy retrieval rules)."
            ),
        ]
    )


def _drafts(r: dict[str, Any]) -> str:
    quality = r.get("quality", {})
    rows = [
        [
            name,
            g["n"],
            g["with_findings_share"],
            g["findings_per_draft"],
            g["unsupported_fact_rate"],
            g["pii_findings"],
            g["contact_leaks"],
            g["words"]["median"],
            g["reading_grade"]["median"],
            g["findings"],
        ]
        for name, g in quality.items()
    ]
    adv = r["adversarial"]
    return "".join(
        [
            "<h2>Drafts</h2>",
            note(r.get("llm", "")),
            table(
                [
                    "generator/kind",
                    "n",
                    "with findings",
                    "findings/draft",
                    "unsupported-fact rate",
                    "pii findings",
                    "contact leaks",
                    "median words",
                    "median grade",
                    "findings",
                ],
                rows,
            ),
            "<h3>Adversarial set</h3>",
            note(
                f"{adv['planted']} planted problems, caught {fmt(adv['caught_share'])} (by the expected check "
                f"{fmt(adv['caught_by_expected_share'])}); {adv['clean']} clean drafts, false alarms "
                f"{fmt(adv['false_alarm_share'])}."
            ),
            table(
                ["id", "kind", "expected", "checks", "caught"],
                [
                    [x["id"], x["kind"], x["expect"], ", ".join(x["checks"]), x["caught"]]
                    for x in adv["results"]
                ],
                ["bad" if (x["kind"] == "clean") == x["caught"] else "" for x in adv["results"]],
            ),
        ]
    )


def _e2e(r: dict[str, Any]) -> str:
    shares = ("auto_approved", "needs_review", "blocked", "abstained", "degraded")
    lat = r["latency_ms"]
    return "".join(
        [
            "<h2>End to end</h2>",
            table(
                ["n", "accuracy", *shares, "auto wrong", "auto wrong share", "p50 ms", "p95 ms", "p99 ms"],
                [
                    [
                        r["n"],
                        r["accuracy"],
                        *(r[s]["share"] for s in shares),
                        r["auto_approved"]["wrong"],
                        r["auto_approved"]["wrong_share"],
                        lat["p50"],
                        lat["p95"],
                        lat["p99"],
                    ]
                ],
            ),
            note(
                "The governance number is 'auto wrong share': auto-approved cases whose label (dataset) or "
                "recorded resolution action the auto-approval contradicts."
            ),
            table(["predicted category", "decisions"], [[k, v] for k, v in r["per_category"].items()]),
        ]
    )


def _replay_rows(policies: dict[str, Any]) -> list[list[Any]]:
    keys: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("auto-approved share", lambda m: m["auto_approved"]["share"]),
        ("auto-approved wrong", lambda m: m["auto_approved"]["wrong"]),
        ("auto-approved wrong share", lambda m: m["auto_approved"]["wrong_share"]),
        ("needs review share", lambda m: m["decisions"]["needs_review"]["share"]),
        ("abstained share", lambda m: m["decisions"]["abstained"]["share"]),
        ("SLA risk (breach share)", lambda m: m["sla_risk"]["overall"]["share"]),
        ("review SLA attainment", lambda m: m["review_sla_attainment"]),
        ("promise-date attainment", lambda m: m["promise_date_attainment"]),
        ("detection to resolution, median h", lambda m: m["detection_to_resolution_hours"]["median"]),
        ("detection to resolution, mean h", lambda m: m["detection_to_resolution_hours"]["mean"]),
        ("standard workflow share", lambda m: m["standard_workflow_share"]),
        ("customer communication, median h", lambda m: m["customer_communication_hours"]["median"]),
        ("customer communication, mean h", lambda m: m["customer_communication_hours"]["mean"]),
    ]
    return [[name, *(get(m) for m in policies.values())] for name, get in keys]


def _replay(r: dict[str, Any]) -> str:
    policies = r["policies"]
    teams = sorted({t for m in policies.values() for t in m["reviews_per_day"]})
    series: dict[str, Sequence[float]] = {
        name: [m["reviews_per_day"].get(t, {}).get("per_day") or 0.0 for t in teams]
        for name, m in policies.items()
    }
    rec = r["recorded"]
    parts = [
        "<h2>Replay</h2>",
        note(
            f"Source: {r['source']}. {r['n']} cases over {r['period_days']} days. Candidates: "
            + ", ".join(f"{k} ({v})" for k, v in r["candidates"].items())
        ),
        table(["measure", *policies], _replay_rows(policies)),
        "<h3>As recorded</h3>",
        table(
            [
                "outcomes",
                "detection to resolution (median h)",
                "review SLA attainment",
                "promise-date attainment",
                "standard workflow share",
                "customer communication (median h)",
            ],
            [
                [
                    rec["outcomes"],
                    rec["detection_to_resolution_hours"]["median"],
                    rec["review_sla_attainment"],
                    rec["promise_date_attainment"],
                    rec["standard_workflow_share"],
                    rec["customer_communication_hours"]["median"],
                ]
            ],
        ),
        "<h3>Reviews per day by team</h3>",
        plots.grouped_bars("cases needing review per day", teams, series, "reviews per day") if teams else "",
        table(
            ["team", *policies],
            [
                [t, *(m["reviews_per_day"].get(t, {}).get("per_day") for m in policies.values())]
                for t in teams
            ],
        ),
        "<h3>What changed</h3>",
        table(["candidate", "decision moves"], [[k, v] for k, v in r["changes"].items()]),
        "<h3>Where each number comes from</h3>",
        table(["measure", "source"], list(r["sources"].items())),
        "<h3>Assumptions (not facts from the record)</h3>",
        f"<pre>{html.escape(json.dumps(r['assumptions'], indent=1))}</pre>",
    ]
    return "".join(parts)


SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "classify": _classify,
    "thresholds": _thresholds,
    "retrieve": _retrieve,
    "drafts": _drafts,
    "e2e": _e2e,
    "replay": _replay,
}


def _comparison(rows: list[dict[str, Any]]) -> str:
    shown = [r for r in rows if r["status"] != "skipped"]
    return "<h2>Against the baseline</h2>" + table(
        ["metric", "better", "tolerance", "baseline", "current", "delta", "status"],
        [
            [r["metric"], r["better"], r["tolerance"], r["baseline"], r["current"], r["delta"], r["status"]]
            for r in shown
        ],
        ["bad" if r["status"] in ("regressed", "missing") else "ok" for r in shown],
    )


def render(run: dict[str, Any]) -> str:
    meta = run.get("meta", {})
    body = [f"<h1>Evaluation: {html.escape(', '.join(s for s in SECTIONS if s in run))}</h1>"]
    body.append(table(["", ""], [[k, v] for k, v in meta.items()]))
    if "comparison" in run:
        body.append(_comparison(run["comparison"]))
    body += [render_section(run[name]) for name, render_section in SECTIONS.items() if name in run]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>triage evaluation</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
