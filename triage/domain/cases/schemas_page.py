"""Paging and scope schemas of the cases domain."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from triage.domain.cases.schemas import TriageCase


class CasePage(BaseModel):
    """One page of cases, newest first."""

    items: list[TriageCase] = Field(description="The cases on this page, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@dataclass(frozen=True)
class SimilarScope:
    """Which similar cases count: all, or only the same customer / site / predicted category."""

    same_customer: bool = False
    same_site: bool = False
    same_category: bool = False
