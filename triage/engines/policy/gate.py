"""The gate: from the policy and what the pipeline found, decide each item and the case. Pure, deterministic.

Each item (a recommended action or a draft) is ``auto_approved``, ``pending_review`` (with the role, and team,
that must approve it), ``blocked`` or ``shadow``, with the reasons: the rule's path in the policy and the
fact or threshold that decided it. The decisions the policy file leaves to the gate:

- Confidence below the category's ``review`` threshold abstains: the case goes to the manual triage desk and
  its items wait for review, never auto. A top-two margin below ``ambiguity_margin`` does the same when
  ``on_ambiguity: abstain``, or only stops auto-approval when ``on_ambiguity: review``.
- Anything degraded (an entry in ``degraded``, no similar cases when the policy requires them, a
  ``template-fallback`` draft, an abstained classification) is never auto-approved.
- A draft with fact-check findings waits for review with every finding as a reason; it is not blocked,
  because editing it is the fix and an edit-and-approve needs the item in the queue.
- Mode ``off``: every item ``blocked``, case ``blocked``; the workflow handles the exception as before.
- Mode ``shadow``: every item ``shadow`` (never auto-approved, never queued), case ``blocked`` so a caller
  that reads only the decision acts on nothing. Each shadow item's reasons say what it would have been in
  ``auto`` mode, which is what a shadow period is for.
- The case is ``auto_approved`` only when it has items and every one is; ``blocked`` when any is blocked;
  ``needs_review`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from triage.core.errors import PolicyViolation
from triage.core.vocabulary import GateDecision, ItemStatus
from triage.engines.policy.models import CategoryRules, Mode, OnAmbiguity, Policy

AUTO_APPROVED = ItemStatus.AUTO_APPROVED.value
PENDING_REVIEW = ItemStatus.PENDING_REVIEW.value
BLOCKED = ItemStatus.BLOCKED.value
SHADOW = ItemStatus.SHADOW.value
NEEDS_REVIEW = GateDecision.NEEDS_REVIEW.value
FALLBACK_GENERATOR = "template-fallback"
CASE = "case"


@dataclass(frozen=True)
class DraftCheck:
    kind: str
    """``summary`` or ``customer_update``."""
    generator: str
    """``llm``, ``template`` or ``template-fallback``."""
    findings: list[str] = field(default_factory=list)
    """Fact-check findings, each ``"<check>: <span or message>"``."""


@dataclass(frozen=True)
class GateInput:
    label: str
    confidence: float
    second_confidence: float
    severity: str
    order_value: Decimal
    currency: str
    customer_tier: str
    neighbours: int
    predicted_action: str | None
    predicted_confidence: float | None
    drafts: list[DraftCheck] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    novelty: float | None = None
    """How unlike the training rows the text is; None when the model does not measure it."""
    novelty_threshold: float | None = None
    """The model's own novelty threshold (the policy's ``novelty.threshold`` overrides it)."""


@dataclass(frozen=True)
class GateReason:
    item: str
    """An item key, or ``case`` for what applies to the whole case."""
    rule: str
    """Where the rule lives in the policy, e.g. ``thresholds.credit_hold.auto``."""
    detail: str
    """The fact against the threshold, e.g. ``confidence 0.9100 < 0.9500``."""


@dataclass(frozen=True)
class ItemDecision:
    key: str
    kind: str
    """``recommendation`` or ``draft``."""
    action: str | None
    risk: str
    status: str
    requires_role: str | None
    requires_team: str | None
    four_eyes: bool
    reasons: list[GateReason]


@dataclass(frozen=True)
class GateResult:
    decision: str
    mode: str
    abstained: bool
    abstain_reason: str | None
    items: list[ItemDecision]
    reasons: list[GateReason]
    """Case-level reasons (item ``case``), then each item's own; case-level ones are also in every item's."""
    review_due_minutes: int | None
    escalation_role: str | None
    threshold: float
    """The threshold the confidence met or missed: ``review`` if it abstained by confidence, else ``auto``."""


@dataclass(frozen=True)
class _Candidate:
    key: str
    kind: str
    action: str | None
    risk: str
    role: str
    team: str | None
    four_eyes: bool
    blockers: list[tuple[str, str]]


def _num(value: float | Decimal) -> str:
    return f"{value:.4f}"


def recommended_actions(policy: Policy, label: str, predicted_action: str | None) -> list[str]:
    """The actions to recommend: the predicted one first when the catalogue has it, then the default ones."""
    rules = policy.category(label)
    ordered = [predicted_action] if predicted_action in rules.actions else []
    ordered += [name for name in rules.default_actions if name not in ordered]
    return [name for name in ordered if name is not None]


def approval_requirement(
    policy: Policy, label: str, action: str, order_value: Decimal, currency: str | None = None
) -> tuple[str, str | None]:
    """(role, team or None) that must approve ``action`` for an order of ``order_value``.

    The highest monetary limit the value exceeds decides. An order in a currency other than the policy's
    ``limits_currency`` cannot be compared, so the strictest limit applies. ``PolicyViolation`` when the
    policy in force has no rule for the action (it may have been removed since the item was created).
    """
    rule = policy.category(label).actions.get(action)
    if rule is None:
        raise PolicyViolation(f"the policy in force has no rule for action {action!r} of {label!r}")
    role, team = rule.approver_role.value, rule.approver_team
    limits = rule.monetary_limits
    if currency is not None and currency != policy.limits_currency and limits:
        return limits[-1].role.value, limits[-1].team or team
    for limit in limits:
        if order_value > limit.above:
            role, team = limit.role.value, limit.team or rule.approver_team
    return role, team


def draft_approval_requirement(policy: Policy, label: str, kind: str) -> tuple[str, bool]:
    """(role, four_eyes) for approving a draft of ``kind`` in category ``label``."""
    rule = policy.category(label).drafts.get(kind)
    if rule is None:
        raise PolicyViolation(f"the policy has no rule for drafts of kind {kind!r}")
    return rule.approver_role.value, rule.four_eyes


def may_approve(role: str, teams: Sequence[str], required_role: str, required_team: str | None) -> bool:
    """Whether ``role`` in ``teams`` may approve an item that needs ``required_role`` (and ``required_team``).

    A supervisor may approve what an agent may; otherwise the role must match (admin is not a business
    approver, compliance approves only compliance items). A required team must be one of ``teams``.
    """
    role_ok = role == required_role or (required_role == "agent" and role == "supervisor")
    return role_ok and (required_team is None or required_team in teams)


def abstain_reason(rules: CategoryRules, confidence: float, second_confidence: float) -> str | None:
    """Why the classification abstains (goes to the manual triage desk), or None when it does not: confidence
    below the category's review threshold, or a top-two margin below its ambiguity margin when the policy
    says ``on_ambiguity: abstain``. The flow asks before drafting; the gate decides with the same rule."""
    if confidence < rules.thresholds.review:
        return f"confidence {_num(confidence)} < review threshold {_num(rules.thresholds.review)}"
    margin = confidence - second_confidence
    if margin < rules.ambiguity_margin and rules.on_ambiguity is OnAmbiguity.ABSTAIN:
        return f"margin {_num(margin)} between the top two labels < {_num(rules.ambiguity_margin)}"
    return None


def _case_blockers(
    policy: Policy, rules: CategoryRules, inp: GateInput
) -> tuple[list[tuple[str, str]], str | None]:
    """Reasons that stop every item from auto-approval, and the abstain reason if the case abstains."""
    label, thresholds = inp.label, rules.thresholds
    blockers: list[tuple[str, str]] = []
    abstain = abstain_reason(rules, inp.confidence, inp.second_confidence)
    margin = inp.confidence - inp.second_confidence
    if inp.confidence < thresholds.review:
        blockers.append((f"thresholds.{label}.review", f"{abstain}: abstain to the manual triage desk"))
    elif margin < rules.ambiguity_margin:
        detail = f"margin {_num(margin)} between the top two labels < {_num(rules.ambiguity_margin)}"
        outcome = "abstain to the manual triage desk" if abstain is not None else "review"
        blockers.append((f"ambiguity_margin.{label}", f"{detail}: {outcome}"))
    if abstain is None and inp.confidence < thresholds.auto:
        blockers.append(
            (f"thresholds.{label}.auto", f"confidence {_num(inp.confidence)} < {_num(thresholds.auto)}")
        )
    if rules.mode is Mode.RECOMMEND:
        blockers.append((f"mode.{label}", "mode recommend: never auto-approved"))
    blockers += [(f"degraded.{name}", f"{name} unavailable: never auto-approved") for name in inp.degraded]
    blockers += _novelty_blockers(policy, inp)
    if policy.retrieval.require_neighbours_for_auto and inp.neighbours < 1:
        blockers.append(
            ("retrieval.require_neighbours_for_auto", "no similar cases: auto-approval needs at least 1")
        )
    if inp.customer_tier in rules.no_auto_customer_tiers:
        blockers.append(
            (f"no_auto_customer_tiers.{label}", f"customer tier {inp.customer_tier}: never auto-approved")
        )
    if not recommended_actions(policy, label, inp.predicted_action):
        blockers.append((f"actions.{label}", f"no recommended action for {label}: a person decides"))
    return blockers, abstain


def novelty_threshold(policy: Policy, model_threshold: float | None) -> float | None:
    """The novelty threshold in force: the policy's when it sets one, else the model's."""
    return policy.novelty.threshold if policy.novelty.threshold is not None else model_threshold


def _novelty_blockers(policy: Policy, inp: GateInput) -> list[tuple[str, str]]:
    threshold = novelty_threshold(policy, inp.novelty_threshold)
    if not policy.novelty.review_novel or inp.novelty is None or threshold is None:
        return []
    if inp.novelty < threshold:
        return []
    detail = f"novelty {_num(inp.novelty)} >= {_num(threshold)}: unlike the training data, a person reviews"
    return [("novelty.review_novel", detail)]


def _recommendation(policy: Policy, rules: CategoryRules, inp: GateInput, action: str) -> _Candidate:
    rule = rules.actions[action]
    path = f"actions.{inp.label}.{action}"
    role, team = approval_requirement(policy, inp.label, action, inp.order_value, inp.currency)
    blockers: list[tuple[str, str]] = []
    if not rule.auto_allowed:
        blockers.append((f"{path}.auto_allowed", f"risk {rule.risk.value}: never auto-approved"))
    if rule.monetary_limits:
        if inp.currency != policy.limits_currency:
            blockers.append(
                (
                    "limits_currency",
                    f"order in {inp.currency}, limits in {policy.limits_currency}: strictest approver",
                )
            )
        else:
            exceeded = [limit for limit in rule.monetary_limits if inp.order_value > limit.above]
            if exceeded:
                who = role + (f" ({team})" if team else "")
                detail = f"order value {inp.order_value} {inp.currency} > {exceeded[-1].above}: needs {who}"
                blockers.append((f"{path}.monetary_limits", detail))
    if inp.predicted_action is not None and inp.predicted_action != action:
        blockers.append(
            ("retrieval.predicted_action", f"similar cases were resolved by {inp.predicted_action}")
        )
    elif inp.predicted_action is None and policy.retrieval.require_vote_for_auto:
        blockers.append(
            (
                "retrieval.require_vote_for_auto",
                f"the similar cases agreed on no action: {action} needs a person",
            )
        )
    return _Candidate(
        key=f"recommendation:{action}",
        kind="recommendation",
        action=action,
        risk=rule.risk.value,
        role=role,
        team=team,
        four_eyes=rule.four_eyes,
        blockers=blockers,
    )


def _draft(rules: CategoryRules, inp: GateInput, draft: DraftCheck) -> _Candidate:
    rule = rules.drafts.get(draft.kind)
    if rule is None:
        raise ValueError(f"unknown draft kind {draft.kind!r}; expected one of {', '.join(rules.drafts)}")
    blockers: list[tuple[str, str]] = []
    if not rule.auto_allowed:
        blockers.append((f"drafts.{draft.kind}.auto_allowed", f"{draft.kind} drafts need human approval"))
    if draft.generator == FALLBACK_GENERATOR:
        blockers.append(
            (f"drafts.{draft.kind}.generator", "fallback template: degraded, never auto-approved")
        )
    elif rule.auto_allowed and draft.generator not in rule.auto_generators:
        blockers.append(
            (
                f"drafts.{draft.kind}.auto_generators",
                f"{draft.generator}-written {draft.kind} needs human review (auto only for {', '.join(rule.auto_generators)})",
            )
        )
    for finding in draft.findings:
        check = finding.split(":", 1)[0].strip() or "finding"
        blockers.append((f"factcheck.{check}", finding))
    return _Candidate(
        key=f"draft:{draft.kind}",
        kind="draft",
        action=None,
        risk=rule.risk.value,
        role=rule.approver_role.value,
        team=None,
        four_eyes=rule.four_eyes,
        blockers=blockers,
    )


def evaluate_gate(policy: Policy, inp: GateInput) -> GateResult:
    """Decide every item and the case for one classified exception."""
    rules = policy.category(inp.label)
    shared, abstain = _case_blockers(policy, rules, inp)
    candidates = [
        _recommendation(policy, rules, inp, action)
        for action in recommended_actions(policy, inp.label, inp.predicted_action)
    ]
    candidates += [_draft(rules, inp, draft) for draft in inp.drafts]
    passed = (
        f"thresholds.{inp.label}.auto",
        f"confidence {_num(inp.confidence)} >= {_num(rules.thresholds.auto)}; every auto rule passed",
    )
    items = [_decide_item(rules, inp.label, candidate, shared, passed) for candidate in candidates]
    own_reasons: list[GateReason] = []
    if rules.mode not in (Mode.OFF, Mode.SHADOW):
        for candidate in candidates:
            own = candidate.blockers if (shared or candidate.blockers) else [passed]
            own_reasons += [GateReason(candidate.key, rule, detail) for rule, detail in own]
    decision, case_reasons = _case_decision(rules, inp.label, items, shared)
    due, escalation = _review_sla(policy, inp.severity, decision, case_reasons)
    abstained_by_confidence = inp.confidence < rules.thresholds.review
    return GateResult(
        decision=decision,
        mode=rules.mode.value,
        abstained=abstain is not None,
        abstain_reason=abstain,
        items=items,
        reasons=case_reasons + own_reasons,
        review_due_minutes=due,
        escalation_role=escalation,
        threshold=rules.thresholds.review if abstained_by_confidence else rules.thresholds.auto,
    )


def _decide_item(
    rules: CategoryRules,
    label: str,
    candidate: _Candidate,
    shared: list[tuple[str, str]],
    passed: tuple[str, str],
) -> ItemDecision:
    blockers = [*shared, *candidate.blockers]
    if rules.mode is Mode.OFF:
        status, reasons = BLOCKED, [(f"mode.{label}", "mode off: nothing is proposed or acted on")]
    elif rules.mode is Mode.SHADOW:
        would = PENDING_REVIEW if blockers else AUTO_APPROVED
        mode_reason = (f"mode.{label}", f"mode shadow: recorded only (in auto mode: {would})")
        status, reasons = SHADOW, [mode_reason, *blockers]
    elif blockers:
        status, reasons = PENDING_REVIEW, blockers
    else:
        status, reasons = AUTO_APPROVED, [passed]
    return ItemDecision(
        key=candidate.key,
        kind=candidate.kind,
        action=candidate.action,
        risk=candidate.risk,
        status=status,
        requires_role=None if status == AUTO_APPROVED else candidate.role,
        requires_team=None if status == AUTO_APPROVED else candidate.team,
        four_eyes=candidate.four_eyes,
        reasons=[GateReason(candidate.key, rule, detail) for rule, detail in reasons],
    )


def _case_decision(
    rules: CategoryRules, label: str, items: list[ItemDecision], shared: list[tuple[str, str]]
) -> tuple[str, list[GateReason]]:
    """The whole case's decision from its items, with the case-level reasons."""
    case_reasons = [GateReason(CASE, rule, detail) for rule, detail in shared]
    statuses = {item.status for item in items}
    if rules.mode is Mode.OFF:
        return BLOCKED, [GateReason(CASE, f"mode.{label}", "mode off: nothing is proposed or acted on")]
    if rules.mode is Mode.SHADOW:
        shadow = GateReason(CASE, f"mode.{label}", "mode shadow: predictions recorded, nothing acted on")
        return BLOCKED, [shadow, *case_reasons]
    if BLOCKED in statuses:
        return BLOCKED, case_reasons
    if items and statuses == {AUTO_APPROVED}:
        return AUTO_APPROVED, case_reasons
    return NEEDS_REVIEW, case_reasons


def _review_sla(
    policy: Policy, severity: str, decision: str, case_reasons: list[GateReason]
) -> tuple[int | None, str | None]:
    """Minutes until review is due and who gets the item after, when the case needs a person."""
    if decision != NEEDS_REVIEW:
        return None, None
    sla = policy.review_slas.get(severity)
    if sla is None:
        sla = min(policy.review_slas.values(), key=lambda entry: entry.minutes)
        case_reasons.append(GateReason(CASE, "review_slas", f"unknown severity {severity!r}: shortest SLA"))
    return sla.minutes, sla.escalation_role.value
