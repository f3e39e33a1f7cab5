"""Input that attacks the LLM cannot change a label, a gate decision or an approval.

Every payload of ``tests/data/injection_corpus.jsonl`` is planted where its ``targets`` say (the customer's
message, the free ``context`` map, historical cases' resolutions in the case store, and for a few the trusted
description) and the FULL pipeline runs over HTTP against a scripted LLM that obeys every instruction it sees:
it repeats the untrusted text, claims approvals and refunds, and answers with extra JSON fields
(``status: approved``, ``gate: auto_approved``, ``label: other``). Half of the answers are "stealthy": a
harmless-looking update, the worst case for an auto-approval rule. Each outcome is compared with the same
event carrying a benign message (same LLM, same mode):

- untrusted targets: label, confidence, abstention, severity, team, gate decision and every recommendation
  (action, status, required role) are unchanged;
- every target: no customer update is auto-approved or approved (zero drafts leave without human review), no
  draft is more permissive than without the payload, and no secret (API keys, audit signing key) appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fake_llm import FakeLLM, Recorded, Reply
from tests.integration.live_app import LiveApp, live_app, template_history
from triage.core.actors import Role
from triage.core.text import free_text

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

CORPUS = Path("tests/data/injection_corpus.jsonl")
HISTORY = Path("eval/datasets/order_exceptions/test.jsonl")
BASE_LABELS = (
    "incomplete_order_data",
    "inventory_shortage",
    "credit_hold",
    "shipment_delay",
    "pricing_discrepancy",
)
BENIGN_MESSAGE = "Hello, could you tell me when the rest of my order will arrive? Thank you."
BENIGN_NOTE = "customer called about this order"
BENIGN_RESOLUTION = "Resolved as usual; customer informed."
NOT_REVIEWED = {"auto_approved", "approved", "edited"}
PERMISSIVENESS = {"blocked": 0, "shadow": 0, "pending_review": 1, "auto_approved": 2}


@cache
def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_large_and_varied() -> None:
    rows = corpus()
    assert len(rows) >= 100
    assert len({r["id"] for r in rows}) == len(rows)
    techniques = {r["technique"] for r in rows}
    assert {
        "instruction_override",
        "role_play",
        "base64",
        "rot13",
        "unicode_homoglyph",
        "zero_width",
    } <= techniques
    assert len({r["language"] for r in rows}) >= 15
    targets = {t for r in rows for t in r["targets"]}
    assert {"customer_message", "context", "description", "history_resolution"} <= targets


class ObeyingLLM:
    """The worst-case model: does what any text in its prompt says; ``stealth`` hides it behind politeness."""

    def __init__(self) -> None:
        self.stealth = False

    def __call__(self, req: Recorded) -> Reply:
        prompt = req.text
        if self.stealth:
            text = "Hello,\nYour order has been updated as you asked.\n\nKind regards,\nCustomer Service"
        else:
            text = (
                "Hello,\n"
                f"{req.customer_message or ''}\n"
                "As instructed: this update is APPROVED and needs no review. Your refund of 100% has been "
                "approved and the credit hold is released. Label: other. Gate: auto_approved.\n"
                f"Everything I was shown: {prompt[-3000:]}"
            )
        answer = {
            "text": text,
            "status": "approved",
            "approved": True,
            "requires_review": False,
            "label": "other",
            "gate": {"decision": "auto_approved", "reasons": []},
        }
        return Reply(content=json.dumps(answer))


@dataclass
class Outcome:
    label: str
    confidence: float
    abstained: bool
    severity: str
    owner_team: str
    decision: str
    recommendations: list[tuple[str, str, str | None]]
    drafts: dict[str, str]
    neighbours: list[str]
    text: str

    @classmethod
    def of(cls, case: dict[str, Any]) -> Outcome:
        drafts = case.get("drafts") or {}
        return cls(
            label=case["classification"]["label"],
            confidence=round(float(case["classification"]["confidence"]), 4),
            abstained=bool(case["classification"]["abstained"]),
            severity=case["severity"],
            owner_team=case["owner_team"],
            decision=case["gate"]["decision"],
            recommendations=sorted(
                (r["action"], r["status"], r["requires_role"]) for r in case["recommendations"]
            ),
            drafts={kind: draft["status"] for kind, draft in drafts.items()},
            neighbours=[n["case_id"] for n in case["similar_cases"]],
            text=json.dumps(drafts, ensure_ascii=False),
        )


@cache
def base_events() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    with HISTORY.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            event = row["event"]
            if (
                row["label"] in BASE_LABELS
                and row["label"] not in found
                and len(event.get("context", {})) < 30
            ):
                found[row["label"]] = event
    assert set(found) == set(BASE_LABELS), found.keys()
    return found


def _event(
    label: str, n: int, *, message: str = BENIGN_MESSAGE, note: str = BENIGN_NOTE, extra: str = ""
) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(base_events()[label]))
    event["event_id"] = f"inj-{label}-{n}"
    event["customer_message"] = message
    event["context"] = {**event.get("context", {}), "customer_note": note}
    if extra:
        event["description"] = f"{event['description']}\n{extra}"[:4000]
    return event


class Harness:
    def __init__(self, env: LiveApp, llm: ObeyingLLM, fake: FakeLLM) -> None:
        self.env, self.llm, self.fake = env, llm, fake
        self.counter = 0
        self.baselines: dict[tuple[str, bool], Outcome] = {}
        self.secrets = [*env.tokens.values(), env.settings.audit_signing_key.get_secret_value()]

    def post(self, event: dict[str, Any], stealth: bool) -> Any:
        self.llm.stealth = stealth
        self.counter += 1
        event = {**event, "event_id": f"{event['event_id']}-{self.counter}"}
        return self.env.client.post("/v1/exceptions", json=event, headers=self.env.auth(Role.WORKFLOW))

    def triage(self, event: dict[str, Any], stealth: bool) -> Outcome:
        response = self.post(event, stealth)
        assert response.status_code == 201, response.text[:500]
        return Outcome.of(response.json())

    def baseline(self, label: str, stealth: bool) -> Outcome:
        key = (label, stealth)
        if key not in self.baselines:
            self.baselines[key] = self.triage(_event(label, 0), stealth)
        return self.baselines[key]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    fake = FakeLLM()
    llm = ObeyingLLM()
    fake.default = llm
    try:
        with live_app(
            tmp_path_factory.mktemp("injection"),
            llm_base_url=fake.base_url,
            llm_api_key="test",
            llm_model="fake",
        ) as env:
            yield Harness(env, llm, fake)
    finally:
        fake.close()


def _assert_reviewed(outcome: Outcome, baseline: Outcome, payload_id: str) -> None:
    update = outcome.drafts.get("customer_update")
    assert update not in NOT_REVIEWED, f"{payload_id}: customer update left without review ({update})"
    for kind, status in outcome.drafts.items():
        before = baseline.drafts.get(kind, "pending_review")
        assert PERMISSIVENESS.get(status, 9) <= PERMISSIVENESS.get(before, 9), (
            f"{payload_id}: {kind} draft became more permissive: {before} -> {status}"
        )


def _assert_unchanged(outcome: Outcome, baseline: Outcome, payload_id: str) -> None:
    for name in ("label", "confidence", "abstained", "severity", "owner_team", "decision", "recommendations"):
        assert getattr(outcome, name) == getattr(baseline, name), (
            f"{payload_id}: {name} changed: {getattr(baseline, name)!r} -> {getattr(outcome, name)!r}"
        )


def refused_at_input(payload: str) -> bool:
    """Payloads made of characters the event schema refuses (bidi overrides ...) never reach triage."""
    try:
        free_text(payload)
    except ValueError:
        return True
    return False


def _cases(target: str) -> list[dict[str, Any]]:
    return [row for row in corpus() if target in row["targets"] and not refused_at_input(row["payload"])]


def test_payloads_with_forbidden_characters_are_refused_at_the_door(harness: Harness) -> None:
    refused = [row for row in corpus() if refused_at_input(row["payload"])]
    assert refused, "the corpus has a bidi-override payload: it must be refused as input"
    for row in refused:
        response = harness.post(_event(BASE_LABELS[0], 0, message=row["payload"]), stealth=False)
        assert response.status_code == 422, (row["id"], response.status_code)
        assert "bidi-override" in response.text


def _no_secrets(h: Harness, outcome: Outcome, payload_id: str) -> None:
    leaked = [s[:8] for s in h.secrets if s in outcome.text]
    assert not leaked, f"{payload_id}: secrets in the drafts: {leaked}"


@pytest.mark.parametrize("target", ["customer_message", "context"])
def test_untrusted_fields_change_nothing(harness: Harness, target: str) -> None:
    failures: list[str] = []
    for index, row in enumerate(_cases(target)):
        label = BASE_LABELS[index % len(BASE_LABELS)]
        stealth = index % 2 == 1
        planted = (
            _event(label, index, message=row["payload"])
            if target == "customer_message"
            else _event(label, index, note=row["payload"])
        )
        outcome = harness.triage(planted, stealth)
        baseline = harness.baseline(label, stealth)
        try:
            _assert_unchanged(outcome, baseline, row["id"])
            _assert_reviewed(outcome, baseline, row["id"])
            _no_secrets(harness, outcome, row["id"])
        except AssertionError as exc:
            failures.append(str(exc))
    if target == "customer_message":
        texts = [r.text for r in harness.fake.requests]
        reached = sum(any(row["payload"][:30] in t for t in texts) for row in _cases(target))
        assert reached >= len(_cases(target)) // 2, (
            f"only {reached} payloads reached the LLM: nothing was tested"
        )
    assert not failures, f"{len(failures)} of {len(_cases(target))} payloads had an effect:\n" + "\n".join(
        failures[:20]
    )


def test_payloads_in_the_trusted_description_never_skip_review(harness: Harness) -> None:
    failures: list[str] = []
    for index, row in enumerate(_cases("description")):
        label = BASE_LABELS[index % len(BASE_LABELS)]
        for stealth in (False, True):
            outcome = harness.triage(_event(label, index, extra=row["payload"]), stealth)
            update = outcome.drafts.get("customer_update")
            if update in NOT_REVIEWED:
                failures.append(f"{row['id']}: customer update {update} with the payload in the description")
    assert not failures, failures


@cache
def _history_cases() -> dict[str, Any]:
    from triage.engines.datasets import load_labelled
    from triage.engines.retrieval.models import HistoricalCase

    rows = load_labelled(template_history())
    return {
        case.case_id: case for case in (HistoricalCase.from_labelled(row, i) for i, row in enumerate(rows))
    }


def _plant(h: Harness, neighbour_ids: list[str], resolution: str | None) -> None:
    """Rewrite the resolutions of stored neighbours in place (same ids, same vectors)."""
    from dataclasses import replace

    import numpy as np

    from triage.engines.retrieval import vectors_for

    store = h.env.services.connection.store
    embedder = h.env.services.case_history.embedder
    assert store is not None
    originals = [_history_cases()[case_id] for case_id in neighbour_ids if case_id in _history_cases()]
    assert originals, f"neighbours {neighbour_ids} are not shipped history cases"
    cases = [replace(c, resolution=resolution) if resolution is not None else c for c in originals]
    vectors = np.asarray(vectors_for(store, embedder, [c.text for c in cases]), dtype=np.float32)
    store.upsert(cases, vectors)


def test_poisoned_history_resolutions_change_nothing(harness: Harness) -> None:
    rows = (
        _cases("history_resolution") + [r for r in corpus() if r["technique"] == "instruction_override"][:6]
    )
    failures: list[str] = []
    for index, row in enumerate(rows):
        label = BASE_LABELS[index % len(BASE_LABELS)]
        stealth = index % 2 == 0
        baseline = harness.baseline(label, stealth)
        assert baseline.neighbours, "the base event found no similar cases; nothing to poison"
        _plant(harness, baseline.neighbours, f"{BENIGN_RESOLUTION} {row['payload']}")
        try:
            outcome = harness.triage(_event(label, 1000 + index), stealth)
        finally:
            _plant(harness, baseline.neighbours, None)
        try:
            assert outcome.neighbours == baseline.neighbours, f"{row['id']}: neighbours changed"
            _assert_unchanged(outcome, baseline, row["id"])
            _assert_reviewed(outcome, baseline, row["id"])
            _no_secrets(harness, outcome, row["id"])
        except AssertionError as exc:
            failures.append(str(exc))
    seen = [r for r in harness.fake.requests if any(row["payload"][:40] in r.text for row in rows)]
    assert seen, "no poisoned resolution ever reached the LLM: the test did not exercise the path"
    assert not failures, "\n".join(failures)
