"""``guardrails/factcheck.yaml`` validated into a typed, compiled configuration."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from triage.core.governed import InvalidAt, load_governed
from triage.engines.drafting.claims import ClaimExtractor

CheckName = Literal[
    "unsupported_fact",
    "internal_fact_leak",
    "confidential_term",
    "pii",
    "redaction_placeholder",
    "injection_echo",
    "message_echo",
    "unsupported_link",
    "relative_date",
    "unsupported_commitment",
    "contradicts_facts",
]
CHECK_NAMES: tuple[CheckName, ...] = get_args(CheckName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckConfig(_Strict):
    enabled: bool = True
    severity: Literal["error", "warning"] = "error"
    audiences: tuple[Literal["customer", "internal"], ...] = ("customer", "internal")


class EchoConfig(_Strict):
    injection_words: int = Field(default=5, ge=2, le=50)
    message_chars: int = Field(default=24, ge=8, le=1000)
    confidential_words: int = Field(default=4, ge=2, le=50)


class FactCheckConfig(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    version: int
    checks: dict[str, CheckConfig]
    confidential_context_keys: tuple[str, ...] = ()
    confidential_key_substrings: tuple[str, ...] = ()
    customer_context_keys: tuple[str, ...] = ()
    confidential_terms: tuple[str, ...] = ()
    quantity_units: tuple[str, ...] = ()
    currency_codes: tuple[str, ...] = ("USD",)
    injection_patterns: tuple[str, ...] = ()
    relative_date_patterns: tuple[str, ...] = ()
    commitment_patterns: tuple[str, ...] = ()
    echo: EchoConfig = EchoConfig()

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: dict[str, CheckConfig]) -> dict[str, CheckConfig]:
        known = ", ".join(CHECK_NAMES)
        unknown = [
            (name, f"unknown check; the checks are {known}") for name in value if name not in CHECK_NAMES
        ]
        if unknown:
            raise InvalidAt.many(unknown)
        return value

    @field_validator("injection_patterns", "relative_date_patterns", "commitment_patterns")
    @classmethod
    def _valid_regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = []
        for index, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(((index,), f"invalid regular expression {pattern!r}: {exc}"))
        if problems:
            raise InvalidAt.many(problems)
        return value

    def check(self, name: str, audience: str) -> CheckConfig | None:
        """The check's settings when it runs for ``audience``, else ``None``."""
        conf = self.checks.get(name, CheckConfig())
        return conf if conf.enabled and audience in conf.audiences else None

    @cached_property
    def extractor(self) -> ClaimExtractor:
        return ClaimExtractor(self.quantity_units, self.currency_codes)

    def is_confidential_key(self, key: str) -> bool:
        lowered = key.lower()
        return lowered in self.confidential_context_keys or any(
            part in lowered for part in self.confidential_key_substrings
        )

    @cached_property
    def injection_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in self.injection_patterns)

    @cached_property
    def relative_date_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in self.relative_date_patterns)

    @cached_property
    def commitment_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in self.commitment_patterns)

    @cached_property
    def confidential_term_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(
            re.compile(r"\b" + r"\s+".join(map(re.escape, term.split())) + r"\b", re.IGNORECASE)
            for term in self.confidential_terms
        )


def load_factcheck_config(path: Path) -> FactCheckConfig:
    """Read and validate the fact-check file; ``ConfigurationError`` names the file, the path and the problem."""
    return load_governed(path, FactCheckConfig)
