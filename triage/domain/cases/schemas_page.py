"""Paging and scope schemas of the cases domain."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from triage.domain.cases.schemas import TriageCase


class CasePage(BaseModel):
    items: list[TriageCase]
    next_cursor: str | None


@dataclass(frozen=True)
class SimilarScope:
    """Which similar cases count: all, or only the same customer / site / predicted category."""

    same_customer: bool = False
    same_site: bool = False
    same_category: bool = False
