"""``DashboardService``: the process measures supervisors and operations watch, read from the cases, their
items and decisions (and the audit log's re-label records), over a window of days.

The measures are the field's: exception volume by category, site and channel over time; aging of open items;
review SLA attainment; detection-to-resolution time (event to recorded outcome); customer communication
latency (event to the approved customer update); rework (label overrides, re-labels, rejections); automation
effectiveness (share auto-approved, and of those the share later corrected); and the override rate by category
as a model-health signal. Aggregation happens here in Python over the window's rows, so SQLite and PostgreSQL
give the same numbers.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from triage.core.clock import Clock, utc_now
from triage.core.errors import InvalidInput
from triage.core.vocabulary import ItemStatus
from triage.db.engine import read_snapshot
from triage.db.tables import AuditLogRow, CaseRow, DecisionRow, ItemRow

MAX_DAYS = 366
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 1 h", 1),
    ("1 to 4 h", 4),
    ("4 to 24 h", 24),
    ("1 to 3 days", 72),
    ("over 3 days", float("inf")),
)
APPROVED = {ItemStatus.APPROVED.value, ItemStatus.EDITED.value, ItemStatus.AUTO_APPROVED.value}
CUSTOMER_UPDATE = "draft:customer_update"


class Count(BaseModel):
    """How many cases or items fall under one name (a category, site, channel or age bracket)."""

    name: str = Field(description="The category, site, channel or age bracket.")
    count: int = Field(description="How many.")


class DailyCount(BaseModel):
    """Cases of one category created on one day."""

    day: date = Field(description="The day (UTC).")
    category: str = Field(description="The case's category.")
    count: int = Field(description="Cases created that day in that category.")


class Durations(BaseModel):
    """Hours between two moments over the cases that have both."""

    count: int = Field(description="Cases that have both moments.")
    median_hours: float | None = Field(description="Median hours; null when no case has both.")
    p90_hours: float | None = Field(description="90th percentile in hours; null when no case has both.")


class SlaRead(BaseModel):
    """Review SLA attainment of the window's review items."""

    decided_on_time: int = Field(description="Items decided by their review due time.")
    decided_late: int = Field(description="Items decided after their review due time.")
    open_overdue: int = Field(description="Items still waiting past their review due time.")
    attainment: float | None = Field(description="Share of decided items decided by their review due time.")


class ReworkRead(BaseModel):
    """Work done twice: overrides, re-labels, rejections."""

    label_overrides: int = Field(description="Decisions that named another label than the model's.")
    relabels: int = Field(description="Cases re-labelled by a person.")
    rejections: int = Field(description="Items rejected by a reviewer.")
    reopened: int = Field(description="Always 0: a decided item is never reopened in this service.")


class AutomationRead(BaseModel):
    """How much the gate approved on its own, and how much of that people later corrected."""

    items: int = Field(description="Recommendations and drafts gated in the window.")
    auto_approved: int = Field(description="Of those, approved by the gate without a person.")
    auto_share: float | None = Field(description="auto_approved / items; null when there were none.")
    auto_later_corrected: int = Field(
        description="Auto-approved items of cases later re-labelled or overridden."
    )
    corrected_share: float | None = Field(
        description="auto_later_corrected / auto_approved; null when nothing was auto-approved."
    )


class CategoryRate(BaseModel):
    """How often people corrected the model's category (a model-health signal)."""

    category: str = Field(description="The category the model gave.")
    cases: int = Field(description="Cases the model put in this category.")
    corrected: int = Field(description="Cases re-labelled away from this category or with a label override.")
    rate: float | None = Field(description="corrected / cases; null when there were none.")


class NoveltyWeek(BaseModel):
    """How many of one week's cases in one category had text unlike the model's training rows (drift)."""

    week: date = Field(description="The Monday (UTC) the week starts on.")
    category: str = Field(description="The category the model gave.")
    cases: int = Field(description="Cases triaged that week in this category with a novelty score.")
    novel: int = Field(
        description="Of those, the cases whose text was novel (sent to a person by the policy)."
    )
    share: float = Field(
        description="novel / cases: a rising share means the field drifts from the training data."
    )


class DashboardRead(BaseModel):
    """``GET /v1/dashboard``: every measure over cases created in the last ``window_days`` days."""

    window_days: int = Field(description="How many days back the window reaches.")
    since: datetime = Field(description="The window's start.")
    generated_at: datetime = Field(description="When these figures were computed.")
    cases: int = Field(description="Cases created in the window.")
    volume_by_day: list[DailyCount] = Field(description="Exception volume per day and category.")
    by_category: list[Count] = Field(description="Exception volume per category.")
    by_site: list[Count] = Field(description="Exception volume per site.")
    by_channel: list[Count] = Field(description="Exception volume per order channel.")
    open_items: int = Field(description="Review items waiting for a person now.")
    aging: list[Count] = Field(description="Open review items by how long they have waited.")
    sla: SlaRead = Field(description="Review SLA attainment.")
    detection_to_resolution: Durations = Field(description="From the event to the recorded resolution.")
    communication_latency: Durations = Field(description="From the event to an approved customer update.")
    rework: ReworkRead = Field(description="Overrides, re-labels and rejections.")
    automation: AutomationRead = Field(description="Auto-approval and its later corrections.")
    override_rate_by_category: list[CategoryRate] = Field(
        description="How often each category was corrected."
    )
    novelty_by_week: list[NoveltyWeek] = Field(
        default_factory=list,
        description="Share of novel inputs per category and week (cases triaged by a model that measures novelty).",
    )


@dataclass(frozen=True)
class Window:
    """The rows a window's measures are computed from."""

    cases: list[CaseRow]
    items: list[ItemRow]
    decisions: list[DecisionRow]
    relabelled_from: dict[str, list[str]]
    """case id → the labels it was re-labelled away from."""
    open_items: list[tuple[ItemRow, datetime]]
    """Every pending item now (whatever its case's age), with its case's creation time."""


class DashboardService:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = utc_now) -> None:
        self.sessions = sessions
        self.clock = clock

    def measures(self, days: int = 30) -> DashboardRead:
        """The measures over the cases created in the last ``days`` days (1 to 366)."""
        if not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_DAYS}, not {days}")
        now = self.clock()
        since = now - timedelta(days=days)
        with read_snapshot(self.sessions) as session:
            window = _load(session, since)
            return DashboardRead(
                window_days=days,
                since=since,
                generated_at=now,
                cases=len(window.cases),
                volume_by_day=_volume_by_day(window.cases),
                by_category=_counts(case.label for case in window.cases),
                by_site=_counts(case.site for case in window.cases),
                by_channel=_counts(_channel(case) for case in window.cases),
                open_items=len(window.open_items),
                aging=_aging(window.open_items, now),
                sla=_sla(window.items, now),
                detection_to_resolution=_durations(_resolution_hours(window.cases)),
                communication_latency=_durations(_update_hours(window)),
                rework=_rework(window),
                automation=_automation(window),
                override_rate_by_category=_override_rates(window),
                novelty_by_week=_novelty_by_week(window.cases),
            )


def _load(session: Session, since: datetime) -> Window:
    cases = list(session.execute(select(CaseRow).where(CaseRow.created_at >= since)).scalars())
    ids = [case.case_id for case in cases]
    items = list(session.execute(select(ItemRow).where(ItemRow.case_id.in_(ids))).scalars()) if ids else []
    decisions = (
        list(session.execute(select(DecisionRow).where(DecisionRow.case_id.in_(ids))).scalars())
        if ids
        else []
    )
    relabelled: dict[str, list[str]] = {}
    if ids:
        rows = session.execute(
            select(AuditLogRow.case_id, AuditLogRow.before).where(
                AuditLogRow.action == "case.relabelled", AuditLogRow.case_id.in_(ids)
            )
        ).all()
        for case_id, before in rows:
            relabelled.setdefault(str(case_id), []).append(str((before or {}).get("label", "")))
    pending = session.execute(
        select(ItemRow, CaseRow.created_at)
        .join(CaseRow, CaseRow.case_id == ItemRow.case_id)
        .where(ItemRow.status == ItemStatus.PENDING_REVIEW.value, CaseRow.resolution_outcome.is_(None))
    ).all()
    return Window(cases, items, decisions, relabelled, [(item, created) for item, created in pending])


def _novelty_by_week(cases: Sequence[CaseRow]) -> list[NoveltyWeek]:
    counted: Counter[tuple[date, str]] = Counter()
    novel: Counter[tuple[date, str]] = Counter()
    for case in cases:
        classification = (case.response or {}).get("classification") or {}
        if classification.get("novelty") is None:
            continue
        day = _utc(case.created_at).date()
        key = (day - timedelta(days=day.weekday()), str(classification.get("label") or case.label))
        counted[key] += 1
        novel[key] += bool(classification.get("novel"))
    return [
        NoveltyWeek(
            week=week, category=label, cases=n, novel=novel[(week, label)], share=novel[(week, label)] / n
        )
        for (week, label), n in sorted(counted.items())
    ]


def _counts(values: Iterable[str]) -> list[Count]:
    return [Count(name=name, count=count) for name, count in Counter(values).most_common()]


def _volume_by_day(cases: Sequence[CaseRow]) -> list[DailyCount]:
    counted = Counter((_utc(case.created_at).date(), case.label) for case in cases)
    return [DailyCount(day=day, category=label, count=n) for (day, label), n in sorted(counted.items())]


def _channel(case: CaseRow) -> str:
    return str(((case.event or {}).get("order") or {}).get("channel") or "unknown")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _occurred_at(case: CaseRow) -> datetime | None:
    raw = (case.event or {}).get("occurred_at")
    try:
        return _utc(datetime.fromisoformat(str(raw).replace("Z", "+00:00"))) if raw else None
    except ValueError:
        return None


def _aging(open_items: Sequence[tuple[ItemRow, datetime]], now: datetime) -> list[Count]:
    ages = [(now - _utc(created)).total_seconds() / 3600 for _, created in open_items]
    counts = []
    lower = 0.0
    for name, upper in AGE_BUCKETS:
        counts.append(Count(name=name, count=sum(1 for age in ages if lower <= age < upper)))
        lower = upper
    return counts


def _sla(items: Sequence[ItemRow], now: datetime) -> SlaRead:
    on_time = late = overdue = 0
    for item in items:
        due = item.review_due_at
        if due is None:
            continue
        if item.decided_at is not None:
            if _utc(item.decided_at) <= _utc(due):
                on_time += 1
            else:
                late += 1
        elif item.status == ItemStatus.PENDING_REVIEW.value and _utc(due) < now:
            overdue += 1
    decided = on_time + late
    return SlaRead(
        decided_on_time=on_time,
        decided_late=late,
        open_overdue=overdue,
        attainment=on_time / decided if decided else None,
    )


def _durations(hours: Sequence[float]) -> Durations:
    if not hours:
        return Durations(count=0, median_hours=None, p90_hours=None)
    ordered = sorted(hours)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return Durations(count=len(ordered), median_hours=statistics.median(ordered), p90_hours=p90)


def _resolution_hours(cases: Sequence[CaseRow]) -> list[float]:
    hours = []
    for case in cases:
        occurred = _occurred_at(case)
        if case.resolved_at is not None and occurred is not None:
            hours.append(max(0.0, (_utc(case.resolved_at) - occurred).total_seconds() / 3600))
    return hours


def _update_hours(window: Window) -> list[float]:
    """Event to the customer update's approval (a person's decision, or triage itself when auto-approved)."""
    cases = {case.case_id: case for case in window.cases}
    hours = []
    for item in window.items:
        case = cases.get(item.case_id)
        if item.key != CUSTOMER_UPDATE or item.status not in APPROVED or case is None:
            continue
        occurred = _occurred_at(case)
        approved = item.decided_at or (case.created_at if item.status == ItemStatus.AUTO_APPROVED else None)
        if occurred is not None and approved is not None:
            hours.append(max(0.0, (_utc(approved) - occurred).total_seconds() / 3600))
    return hours


def _corrected_cases(window: Window) -> set[str]:
    overridden = {d.case_id for d in window.decisions if d.label_override}
    return overridden | set(window.relabelled_from)


def _rework(window: Window) -> ReworkRead:
    return ReworkRead(
        label_overrides=sum(1 for d in window.decisions if d.label_override),
        relabels=sum(len(labels) for labels in window.relabelled_from.values()),
        rejections=sum(1 for d in window.decisions if d.decision == "reject"),
        reopened=0,
    )


def _automation(window: Window) -> AutomationRead:
    items = [item for item in window.items if item.status != ItemStatus.SUPERSEDED.value]
    auto = [item for item in items if item.status == ItemStatus.AUTO_APPROVED.value]
    corrected = _corrected_cases(window)
    later = sum(1 for item in auto if item.case_id in corrected)
    return AutomationRead(
        items=len(items),
        auto_approved=len(auto),
        auto_share=len(auto) / len(items) if items else None,
        auto_later_corrected=later,
        corrected_share=later / len(auto) if auto else None,
    )


def _override_rates(window: Window) -> list[CategoryRate]:
    """Per category the model first gave: the share of its cases a person corrected."""
    first_label: dict[str, str] = {}
    for case in window.cases:
        earlier = window.relabelled_from.get(case.case_id)
        first_label[case.case_id] = earlier[0] if earlier else case.label
    corrected = _corrected_cases(window)
    totals: Counter[str] = Counter(first_label.values())
    fixed: Counter[str] = Counter(label for case_id, label in first_label.items() if case_id in corrected)
    return [
        CategoryRate(category=label, cases=n, corrected=fixed[label], rate=fixed[label] / n)
        for label, n in sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
    ]
