"""Drafting engine: case summaries and customer updates, grounded, redacted and fact-checked."""

from triage.engines.drafting.drafter import LLMDrafter, TemplateOnlyDrafter, build_drafter
from triage.engines.drafting.factcheck import check_draft
from triage.engines.drafting.facts import FactSheet, build_fact_sheet
from triage.engines.drafting.models import (
    Draft,
    DraftContext,
    Drafter,
    DraftSet,
    Finding,
    NeighbourFacts,
)

__all__ = [
    "Draft",
    "DraftContext",
    "DraftSet",
    "Drafter",
    "FactSheet",
    "Finding",
    "LLMDrafter",
    "NeighbourFacts",
    "TemplateOnlyDrafter",
    "build_drafter",
    "build_fact_sheet",
    "check_draft",
]
