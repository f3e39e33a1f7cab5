"""The offline evaluation harness behind ``triage eval <suite>``: is a model, prompt or policy safe to ship?

Suites (one module each): ``classify`` (accuracy, calibration, risk-coverage, the policy's own thresholds,
a TF-IDF baseline), ``thresholds`` (per-class thresholds proposed for a target precision, or by cost),
``retrieve`` (similar cases and the predicted resolution), ``drafts`` (fact-check findings, leaks, an
adversarial set), ``e2e`` (the whole pipeline on a dataset with outcomes) and ``replay`` (a candidate policy or
model over recorded cases, against what happened). ``compare`` checks a run against a committed baseline;
``report`` renders one self-contained HTML page. This layer sits beside ``triage.wiring``: it composes the
domain services and the engines, and nothing but the commands imports it.
"""
