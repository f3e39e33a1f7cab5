"""The ``drafts`` suite: fact-check findings, unsupported facts, personal-data leaks, length and reading level
of the drafts a pipeline run produced (grouped by generator: templates, or an LLM when one is configured), and
a fixed adversarial set (``eval/drafts/adversarial.yaml``) of drafts with planted problems, each checked
against the facts of a shipped case: the share the fact-check catches, and false alarms on clean drafts.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.events import ExceptionEvent
from triage.core.governed import load_governed
from triage.engines.drafting import DraftContext, build_fact_sheet, check_draft
from triage.evaluation.measures import distribution

if TYPE_CHECKING:
    from triage.domain.cases.schemas import DraftRead, TriageCase
    from triage.engines.drafting.factcheck_config import FactCheckConfig
    from triage.engines.policy.taxonomy import Taxonomy

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ().-]{7,}\d")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[.!?]+(?:\s|$)")
_VOWELS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Vowel groups, less a silent final e: the usual heuristic, good enough to compare drafts."""
    word = word.lower()
    count = len(_VOWELS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def reading_grade(text: str) -> float | None:
    """Flesch-Kincaid grade level (US school grade) of ``text``; None for a text without words."""
    words = _WORD.findall(text)
    if not words:
        return None
    sentences = max(1, len(_SENTENCE.findall(text)))
    return 0.39 * len(words) / sentences + 11.8 * sum(map(syllables, words)) / len(words) - 15.59


def leaked_contacts(message: str | None, text: str) -> list[str]:
    """E-mail addresses and phone numbers of the customer's message that a draft repeats."""
    if not message:
        return []
    found = _EMAIL.findall(message) + [p.strip() for p in _PHONE.findall(message)]
    return [value for value in found if value and value in text]


def _group(drafts: Sequence[tuple[DraftRead, str | None]]) -> dict[str, Any]:
    checks: Counter[str] = Counter()
    with_findings = unsupported = pii = leaks = 0
    words: list[float] = []
    grades: list[float] = []
    for draft, message in drafts:
        names = [f.check for f in draft.findings]
        checks.update(names)
        with_findings += bool(names)
        unsupported += "unsupported_fact" in names
        pii += "pii" in names
        leaks += bool(leaked_contacts(message, draft.text))
        words.append(float(len(draft.text.split())))
        if (grade := reading_grade(draft.text)) is not None:
            grades.append(grade)
    n = len(drafts)
    return {
        "n": n,
        "with_findings_share": with_findings / n if n else None,
        "findings_per_draft": sum(checks.values()) / n if n else None,
        "findings": dict(sorted(checks.items())),
        "unsupported_fact_rate": unsupported / n if n else None,
        "pii_findings": pii,
        "contact_leaks": leaks,
        "words": distribution(words),
        "reading_grade": distribution(grades),
    }


def draft_quality(cases: Sequence[TriageCase], events: Sequence[ExceptionEvent]) -> dict[str, Any]:
    """Figures per ``<generator>/<kind>`` over every draft of the run."""
    messages = {event.event_id: event.customer_message for event in events}
    groups: dict[str, list[tuple[DraftRead, str | None]]] = defaultdict(list)
    for case in cases:
        if case.drafts is None:
            continue
        message = messages.get(case.event_id)
        for kind, draft in (
            ("summary", case.drafts.summary),
            ("customer_update", case.drafts.customer_update),
        ):
            groups[f"{draft.generator}/{kind}"].append(
                (draft, message if kind == "customer_update" else None)
            )
    return {name: _group(drafts) for name, drafts in sorted(groups.items())}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdversarialDraft(_Strict):
    id: Annotated[str, Field(min_length=1)]
    kind: Annotated[str, Field(min_length=1)]
    """What is planted: ``invented_date``, ``invented_amount``, ``leaked_internal``, ``injection``, ...; or
    ``clean`` for a grounded draft that must pass."""
    event: str
    audience: Literal["customer", "internal"]
    expect: str | None = None
    """The fact-check that must catch it (None for a clean draft)."""
    text: Annotated[str, Field(min_length=1)]


class AdversarialSet(_Strict):
    version: int
    events: str
    """The dataset (shipped history format) holding the events the drafts are checked against."""
    drafts: list[AdversarialDraft]


def load_adversarial(path: Path) -> AdversarialSet:
    return load_governed(path, AdversarialSet)


def _events(path: Path, wanted: set[str]) -> dict[str, tuple[ExceptionEvent, str]]:
    found = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["event"]["event_id"] in wanted:
                found[record["event"]["event_id"]] = (
                    ExceptionEvent.model_validate(record["event"]),
                    record["label"],
                )
    missing = wanted - set(found)
    if missing:
        raise ValueError(f"{path}: no event {', '.join(sorted(missing))}")
    return found


def adversarial_suite(
    suite: AdversarialSet, root: Path, config: FactCheckConfig, taxonomy: Taxonomy
) -> dict[str, Any]:
    """Each planted draft through ``check_draft`` against its case's fact sheet."""
    events = _events(root / suite.events, {d.event for d in suite.drafts})
    results: list[dict[str, Any]] = []
    for draft in suite.drafts:
        event, label = events[draft.event]
        context = DraftContext(
            event=event,
            label=label,
            confidence=0.99,
            abstained=False,
            severity=taxonomy.severity_for(event, label),
            owner_team=taxonomy.owner_team(label),
        )
        findings = check_draft(draft.text, build_fact_sheet(context, config), draft.audience, config)
        checks = sorted({f.check for f in findings})
        results.append(
            {
                "id": draft.id,
                "kind": draft.kind,
                "expect": draft.expect,
                "checks": checks,
                "caught": bool(findings),
                "caught_by_expected": draft.expect in checks if draft.expect else None,
            }
        )
    planted = [r for r in results if r["kind"] != "clean"]
    clean = [r for r in results if r["kind"] == "clean"]
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r in planted:
        by_kind[r["kind"]].append(r["caught"])
    return {
        "planted": len(planted),
        "caught_share": sum(r["caught"] for r in planted) / len(planted) if planted else None,
        "caught_by_expected_share": (
            sum(bool(r["caught_by_expected"]) for r in planted) / len(planted) if planted else None
        ),
        "by_kind": {kind: sum(v) / len(v) for kind, v in sorted(by_kind.items())},
        "clean": len(clean),
        "false_alarm_share": sum(r["caught"] for r in clean) / len(clean) if clean else None,
        "results": results,
    }
