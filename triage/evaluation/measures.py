"""What a replay reports for one policy: decisions, wrong auto-approvals, review load, SLA risk and the seed's
measures (detection-to-resolution time, SLA attainment, share resolved through the standard workflow,
customer communication latency).

Where each number comes from is part of the result (``SOURCES``): *recorded* numbers are read off the data,
*replayed* ones are the gate's answers on the recorded inputs, *estimated* ones combine both with the
assumptions of ``eval/replay.yaml`` (review staffing, rework after a wrong auto-approval), which the report
prints beside them. The review queue is simulated per team, first come first served, around the clock: each
case needing review takes ``minutes_per_review`` of one of the team's ``reviewers``.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from triage.core.governed import load_governed
from triage.evaluation.replay import AUTO, BLOCKED, REVIEW, Replayed

if TYPE_CHECKING:
    from triage.engines.policy.models import Policy

SOURCES = {
    "decisions": "replayed: the policy's gate on the recorded classification, similar cases and drafts",
    "auto_approved.wrong": "recorded: a human label (dataset label or reviewer override) or the recorded "
    "resolution action contradicts the auto-approval",
    "reviews_per_day": "replayed: cases needing review per team and calendar day of the period",
    "sla_risk": "estimated: review SLA breaches in a simulated review queue (assumptions.review)",
    "detection_to_resolution_hours": "estimated: the recorded time to resolve, minus the recorded decision "
    "wait, plus the decision wait under the policy (0 when auto-approved correctly; plus "
    "assumptions.wrong_auto_rework_hours when auto-approved wrongly)",
    "review_sla_attainment": "estimated: auto-approved cases meet it, reviewed ones when the simulated "
    "review ends before the policy's review SLA",
    "promise_date_attainment": "estimated: resolved (detection + estimated time) by the order's promised "
    "date, else its requested date",
    "standard_workflow_share": "replayed + recorded: recorded outcome 'resolved', the case stayed with its "
    "category's team (no abstention, not blocked) and the gate recommended the recorded action",
    "customer_communication_hours": "estimated: 0 when the customer update is auto-approved, the simulated "
    "review wait when it is reviewed; cases where the service sends no update keep the recorded latency",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Staffing(_Strict):
    minutes_per_review: Annotated[float, Field(gt=0)]
    reviewers: dict[str, Annotated[int, Field(ge=1)]]
    """Reviewers per team; ``default`` for every team not listed."""

    def team_size(self, team: str) -> int:
        return self.reviewers.get(team, self.reviewers.get("default", 1))


class Assumptions(_Strict):
    """The replay's assumptions (``eval/replay.yaml``): not facts from the record, printed in every report."""

    review: Staffing
    wrong_auto_rework_hours: Annotated[float, Field(ge=0)]


def load_assumptions(path: Path) -> Assumptions:
    return load_governed(path, Assumptions)


@dataclass(frozen=True)
class ReviewTiming:
    delay_hours: float
    """From triage until the review ended (waiting plus the review itself)."""
    breached: bool


def simulate_queue(
    arrivals: Sequence[tuple[str, str, datetime, int | None]], staffing: Staffing
) -> dict[str, ReviewTiming]:
    """``(case_id, team, arrival, sla_minutes)`` reviews through each team's first-come-first-served queue."""
    by_team: dict[str, list[tuple[datetime, str, int | None]]] = defaultdict(list)
    for case_id, team, arrival, sla in arrivals:
        by_team[team].append((arrival, case_id, sla))
    handling = timedelta(minutes=staffing.minutes_per_review)
    out: dict[str, ReviewTiming] = {}
    for team, reviews in by_team.items():
        reviews.sort()
        free = [reviews[0][0]] * staffing.team_size(team)
        for arrival, case_id, sla in reviews:
            start = max(arrival, heapq.heappop(free))
            finish = start + handling
            heapq.heappush(free, finish)
            breached = sla is not None and finish > arrival + timedelta(minutes=sla)
            out[case_id] = ReviewTiming((finish - arrival).total_seconds() / 3600.0, breached)
    return out


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "mean": None, "p90": None}
    data = np.asarray(values, dtype=np.float64)
    return {
        "n": len(values),
        "median": float(np.median(data)),
        "mean": float(data.mean()),
        "p90": float(np.percentile(data, 90)),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_days(replayed: Sequence[Replayed]) -> int:
    """Calendar days (UTC) from the first case's triage to the last one's, both included."""
    days = [r.case.triaged_at.astimezone(UTC).date() for r in replayed]
    return (max(days) - min(days)).days + 1 if days else 0


def as_decided(current: Sequence[Replayed], policy: Policy) -> list[Replayed]:
    """The cases as they were decided: the recorded gate decision of a case the service triaged, otherwise
    (a history that predates the service) a person decided it, within the review SLA of its severity."""
    out = []
    for r in current:
        decided = r.case.happened.gate_decision or REVIEW
        sla = policy.review_slas.get(r.severity)
        minutes = sla.minutes if sla is not None and decided == REVIEW else None
        out.append(replace(r, decision=decided, review_minutes=minutes))
    return out


def _decisions(replayed: Sequence[Replayed]) -> dict[str, Any]:
    n = len(replayed)
    counts = Counter(r.decision for r in replayed)
    out: dict[str, Any] = {
        key: {"count": counts[key], "share": _share(counts[key], n)} for key in (AUTO, REVIEW, BLOCKED)
    }
    abstained = sum(r.abstained for r in replayed)
    out["abstained"] = {"count": abstained, "share": _share(abstained, n)}
    return out


def _auto(replayed: Sequence[Replayed]) -> dict[str, Any]:
    auto = [r for r in replayed if r.decision == AUTO]
    wrong = sum(r.wrong for r in auto)
    return {
        "count": len(auto),
        "share": _share(len(auto), len(replayed)),
        "wrong": wrong,
        "wrong_share": _share(wrong, len(auto)),
        "wrong_label": sum(bool(r.wrong_label) for r in auto),
        "wrong_action": sum(bool(r.wrong_action) for r in auto),
        "judged": sum(r.wrong_label is not None or r.wrong_action is not None for r in auto),
    }


def _reviews_per_day(replayed: Sequence[Replayed], days: int) -> dict[str, Any]:
    per_team: dict[str, Counter[str]] = defaultdict(Counter)
    for r in replayed:
        if r.decision == REVIEW:
            per_team[r.team][r.case.triaged_at.astimezone(UTC).date().isoformat()] += 1
    return {
        team: {
            "reviews": sum(per_day.values()),
            "per_day": sum(per_day.values()) / days if days else None,
            "peak_day": max(per_day.values()),
        }
        for team, per_day in sorted(per_team.items())
    }


def _sla_risk(replayed: Sequence[Replayed], timing: dict[str, ReviewTiming]) -> dict[str, Any]:
    reviews = [r for r in replayed if r.decision == REVIEW]
    teams = sorted({r.team for r in reviews})

    def risk(chosen: list[Replayed]) -> dict[str, Any]:
        breaches = sum(timing[r.case.case_id].breached for r in chosen)
        return {"reviews": len(chosen), "breaches": breaches, "share": _share(breaches, len(chosen))}

    return {
        "overall": risk(reviews),
        "per_team": {t: risk([r for r in reviews if r.team == t]) for t in teams},
    }


@dataclass(frozen=True)
class Delays:
    """Decision waits (hours) per case: under the policy replayed, and in what happened."""

    policy: dict[str, float | None]
    recorded: dict[str, float | None]


def decision_delays(
    replayed: Sequence[Replayed], recorded: Sequence[Replayed], staffing: Staffing, rework: float
) -> tuple[Delays, dict[str, ReviewTiming]]:
    """``recorded`` is the same cases as they were decided (the policy in force, or all reviewed for a
    history that predates the service); their observed decision times win over the simulation."""
    timing = simulate_queue(_arrivals(replayed), staffing)
    before = simulate_queue(_arrivals(recorded), staffing)
    policy: dict[str, float | None] = {}
    happened: dict[str, float | None] = {}
    for now, then in zip(replayed, recorded, strict=True):
        case_id = now.case.case_id
        observed = then.case.happened.first_decision_hours
        happened[case_id] = _delay(then, before, observed)
        if now.decision == AUTO:
            policy[case_id] = (happened[case_id] or 0.0) + rework if now.wrong else 0.0
        elif now.decision == REVIEW:
            policy[case_id] = timing[case_id].delay_hours
        else:
            policy[case_id] = happened[case_id]
    return Delays(policy, happened), timing


def _delay(then: Replayed, timing: dict[str, ReviewTiming], observed: float | None) -> float | None:
    if then.decision == AUTO:
        return 0.0
    if then.decision == REVIEW:
        return observed if observed is not None else timing[then.case.case_id].delay_hours
    return None


def _arrivals(replayed: Sequence[Replayed]) -> list[tuple[str, str, datetime, int | None]]:
    return [
        (r.case.case_id, r.team, r.case.triaged_at, r.review_minutes)
        for r in replayed
        if r.decision == REVIEW
    ]


def _resolution_hours(replayed: Sequence[Replayed], delays: Delays) -> dict[str, float]:
    out = {}
    for r in replayed:
        hours = r.case.happened.hours_to_resolve
        if hours is None:
            continue
        case_id = r.case.case_id
        shift = (delays.policy[case_id] or 0.0) - (delays.recorded[case_id] or 0.0)
        out[case_id] = max(0.0, hours + shift)
    return out


def promise_met(r: Replayed, hours: float) -> bool | None:
    order = r.case.event.order
    promise = order.promised_date or order.requested_date
    if promise is None:
        return None
    resolved = r.case.event.occurred_at + timedelta(hours=hours)
    return resolved.date() <= promise


def _promise_attainment(replayed: Sequence[Replayed], hours: dict[str, float]) -> float | None:
    met = [promise_met(r, hours[r.case.case_id]) for r in replayed if r.case.case_id in hours]
    known = [m for m in met if m is not None]
    return _share(sum(known), len(known))


def _review_sla_attainment(replayed: Sequence[Replayed], timing: dict[str, ReviewTiming]) -> float | None:
    decided = [r for r in replayed if r.decision in (AUTO, REVIEW)]
    met = sum(r.decision == AUTO or not timing[r.case.case_id].breached for r in decided)
    return _share(met, len(decided))


def standard_workflow(r: Replayed) -> bool:
    action = r.case.happened.resolution_action
    return (
        r.case.happened.outcome == "resolved"
        and not r.abstained
        and r.decision != BLOCKED
        and action is not None
        and action in r.recommended
    )


def _communication(replayed: Sequence[Replayed], delays: Delays) -> dict[str, Any]:
    hours: list[float] = []
    by_service = 0
    for r in replayed:
        if r.customer_update == AUTO:
            hours.append(0.0)
            by_service += 1
        elif r.customer_update == "pending_review" and delays.policy[r.case.case_id] is not None:
            hours.append(float(delays.policy[r.case.case_id] or 0.0))
            by_service += 1
        elif (recorded := recorded_communication(r)) is not None:
            hours.append(recorded)
    return distribution(hours) | {"sent_by_service": by_service}


def recorded_communication(r: Replayed) -> float | None:
    """The recorded customer communication latency: the approved update's (database), else the time to
    resolve of a case resolved by notifying the customer (the only communication a history records)."""
    happened = r.case.happened
    if happened.customer_update_hours is not None:
        return happened.customer_update_hours
    if happened.resolution_action == "notify_customer":
        return happened.hours_to_resolve
    return None


def policy_measures(
    replayed: Sequence[Replayed], recorded: Sequence[Replayed], assumptions: Assumptions
) -> dict[str, Any]:
    """Every measure of one policy's replay; ``recorded`` is how the same cases were decided."""
    delays, timing = decision_delays(
        replayed, recorded, assumptions.review, assumptions.wrong_auto_rework_hours
    )
    hours = _resolution_hours(replayed, delays)
    days = period_days(replayed)
    return {
        "n": len(replayed),
        "period_days": days,
        "decisions": _decisions(replayed),
        "auto_approved": _auto(replayed),
        "reviews_per_day": _reviews_per_day(replayed, days),
        "sla_risk": _sla_risk(replayed, timing),
        "detection_to_resolution_hours": distribution(list(hours.values())),
        "review_sla_attainment": _review_sla_attainment(replayed, timing),
        "promise_date_attainment": _promise_attainment(replayed, hours),
        "standard_workflow_share": _share(sum(standard_workflow(r) for r in replayed), len(replayed)),
        "customer_communication_hours": _communication(replayed, delays),
    }


def recorded_measures(recorded: Sequence[Replayed]) -> dict[str, Any]:
    """The same measures as they happened, where the record holds them (None where it does not)."""
    cases = [r.case for r in recorded]
    hours = {c.case_id: c.happened.hours_to_resolve for c in cases if c.happened.hours_to_resolve is not None}
    sla = [c.happened.review_sla_met for c in cases if c.happened.review_sla_met is not None]
    communication = [h for r in recorded if (h := recorded_communication(r)) is not None]
    outcomes = Counter(c.happened.outcome for c in cases if c.happened.outcome)
    decided = Counter(c.happened.gate_decision for c in cases if c.happened.gate_decision)
    resolved = sum(outcomes.values())
    return {
        "n": len(cases),
        "outcomes": dict(sorted(outcomes.items())),
        "gate_decisions": dict(sorted(decided.items())) or None,
        "detection_to_resolution_hours": distribution(list(hours.values())),
        "review_sla_attainment": _share(sum(sla), len(sla)),
        "promise_date_attainment": _promise_attainment(recorded, {k: v for k, v in hours.items()}),
        "standard_workflow_share": _share(outcomes.get("resolved", 0), resolved),
        "customer_communication_hours": distribution(communication),
    }
