"""The composite drafter: LLM drafts when an endpoint is configured and healthy, grounded templates otherwise.

Both drafts are fact-checked before they are returned. An LLM draft with an error finding is replaced by the
template draft (``template-fallback``), which carries the rejected draft's findings so the reviewer sees why.
All LLM work of one call shares one deadline (``settings.llm.timeout_s``); once the circuit breaker is open,
no network call is made and the templates answer at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from triage.config import Settings
from triage.core.hashing import sha256_text
from triage.engines.drafting.breaker import CircuitBreaker
from triage.engines.drafting.factcheck import check_draft
from triage.engines.drafting.factcheck_config import FactCheckConfig, load_factcheck_config
from triage.engines.drafting.facts import FactSheet, build_fact_sheet
from triage.engines.drafting.llm import ChatLLM, LLMFailure
from triage.engines.drafting.models import (
    Audience,
    Draft,
    DraftContext,
    Drafter,
    DraftKind,
    DraftSet,
    Finding,
)
from triage.engines.drafting.prompts import PROMPT_OF, PromptRegistry, load_prompts
from triage.engines.drafting.redaction import Redactor
from triage.engines.drafting.templates import TemplateDrafter, TemplateSet, load_templates
from triage.engines.policy.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

AUDIENCE_OF: dict[DraftKind, Audience] = {"summary": "internal", "customer_update": "customer"}
_DELIMITER = re.compile(r"<\s*/?\s*customer[_ ]message[^>]*>", re.IGNORECASE)


class TemplateOnlyDrafter:
    """Drafts from the grounded templates only (no LLM configured)."""

    def __init__(self, templates: TemplateSet, config: FactCheckConfig, prompts_version: str) -> None:
        self._templates = TemplateDrafter(templates, config)
        self._config = config
        self.prompts_version = prompts_version

    def template_draft(self, ctx: DraftContext, facts: FactSheet, kind: DraftKind, generator: str) -> Draft:
        text, ref = self._templates.render(ctx, kind)
        findings = check_draft(text, facts, AUDIENCE_OF[kind], self._config)
        return Draft(
            kind, text, "template" if generator == "template" else "template-fallback", findings, ref
        )

    async def draft(self, ctx: DraftContext) -> DraftSet:
        facts = build_fact_sheet(ctx, self._config)
        return DraftSet(
            self.template_draft(ctx, facts, "summary", "template"),
            self.template_draft(ctx, facts, "customer_update", "template"),
        )

    def check(self, ctx: DraftContext, kind: DraftKind, text: str) -> list[Finding]:
        """The fact-check of any text (a human edit) against the case's facts, as drafts get it."""
        return check_draft(text, build_fact_sheet(ctx, self._config), AUDIENCE_OF[kind], self._config)

    def health(self) -> dict[str, object]:
        return {"llm": "disabled", "consecutive_failures": 0}


class LLMDrafter:
    """LLM drafts within one deadline, behind a circuit breaker, with template fallback."""

    def __init__(
        self,
        llm: ChatLLM,
        breaker: CircuitBreaker,
        templates: TemplateOnlyDrafter,
        registry: PromptRegistry,
        config: FactCheckConfig,
        timeout_s: float,
    ) -> None:
        self._llm, self._breaker, self._templates = llm, breaker, templates
        self._registry, self._config, self._timeout = registry, config, timeout_s
        self.prompts_version = registry.version
        self._lock = threading.Lock()
        self._stats = {
            "calls_total": 0,
            "llm_drafts_total": 0,
            "fallbacks_total": 0,
            "rejected_drafts_total": 0,
        }
        self._last_error: str | None = None

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def check(self, ctx: DraftContext, kind: DraftKind, text: str) -> list[Finding]:
        return self._templates.check(ctx, kind, text)

    async def draft(self, ctx: DraftContext) -> DraftSet:
        self._count("calls_total")
        facts = build_fact_sheet(ctx, self._config)
        if not self._breaker.allow():
            return self._fallback(ctx, facts, "circuit breaker open: LLM not called")
        variables = self._variables(ctx, facts)
        loop = asyncio.get_running_loop()
        deadline = (ctx.started_at if ctx.started_at is not None else loop.time()) + self._timeout
        kinds: tuple[DraftKind, ...] = ("summary", "customer_update")
        tasks = {
            kind: asyncio.create_task(self._llm.generate(PROMPT_OF[kind], variables[kind], deadline))
            for kind in kinds
        }
        try:
            # The fallback drafts are rendered while the requests are in flight, so a missed deadline
            # costs only the cancellation, not the template work.
            await asyncio.sleep(0)
            fallbacks = {k: self._templates.template_draft(ctx, facts, k, "template-fallback") for k in kinds}
            _, pending = await asyncio.wait(tasks.values(), timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            for task in tasks.values():
                task.cancel()
            self._breaker.release()
            raise
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            results = {kind: self._result(kind, task) for kind, task in tasks.items()}
        except BaseException:
            self._breaker.release()
            raise
        if any(isinstance(r, LLMFailure) for r in results.values()):
            self._breaker.record_failure()
        else:
            self._breaker.record_success()
        return self._assemble(facts, results, fallbacks)

    @staticmethod
    def _result(kind: DraftKind, task: asyncio.Task[Any]) -> str | LLMFailure:
        if task.cancelled():
            return LLMFailure("timeout", f"{PROMPT_OF[kind]}: no answer within the deadline")
        exc = task.exception()
        if isinstance(exc, LLMFailure):
            return exc
        if exc is not None:
            raise exc
        return str(task.result().text)

    def _assemble(
        self,
        facts: FactSheet,
        results: Mapping[DraftKind, str | LLMFailure],
        fallbacks: Mapping[DraftKind, Draft],
    ) -> DraftSet:
        drafts: dict[DraftKind, Draft] = {}
        errors: list[str] = []
        for kind, result in results.items():
            if isinstance(result, LLMFailure):
                errors.append(str(result))
                drafts[kind] = fallbacks[kind]
                continue
            prompt = self._registry[PROMPT_OF[kind]]
            findings = check_draft(result, facts, AUDIENCE_OF[kind], self._config)
            blocking = [f for f in findings if f.severity == "error"]
            if not blocking:
                self._count("llm_drafts_total")
                drafts[kind] = Draft(kind, result, "llm", findings, prompt.ref)
                continue
            self._count("rejected_drafts_total")
            checks = sorted({f.check for f in blocking})
            errors.append(f"{prompt.name}: LLM draft rejected by the fact-check ({', '.join(checks)})")
            fallback = fallbacks[kind]
            carried = [
                replace(f, message=f"in the rejected LLM draft: {f.message}", start=None, end=None)
                for f in findings
            ]
            drafts[kind] = replace(fallback, findings=[*fallback.findings, *carried])
        degraded = ["llm"] if errors else []
        if errors:
            self._count("fallbacks_total")
            with self._lock:
                self._last_error = "; ".join(errors)
        return DraftSet(drafts["summary"], drafts["customer_update"], degraded, "; ".join(errors) or None)

    def _fallback(self, ctx: DraftContext, facts: FactSheet, reason: str) -> DraftSet:
        self._count("fallbacks_total")
        return DraftSet(
            self._templates.template_draft(ctx, facts, "summary", "template-fallback"),
            self._templates.template_draft(ctx, facts, "customer_update", "template-fallback"),
            ["llm"],
            reason,
        )

    def _variables(self, ctx: DraftContext, facts: FactSheet) -> dict[DraftKind, dict[str, Any]]:
        """Prompt variables, all redacted; the customer message as delimited data."""
        keep = [f.text for f in facts.facts if f.kind == "id" and f.text and f.visibility == "customer"]
        redactor = Redactor(self._config.extractor, keep=keep)
        message = ctx.event.customer_message
        if message:
            message = _DELIMITER.sub("[tag removed]", redactor.redact(message).text)
        nonce = sha256_text(message or "")[:12]
        block = message or "(no message)"

        def dump(value: Any) -> str:
            return json.dumps(redactor.redact_data(value), ensure_ascii=False, indent=1, default=str)

        common = {"customer_message": block, "message_nonce": nonce}
        summary_schema = json.dumps(self._registry["case_summary"].output_schema)
        update_schema = json.dumps(self._registry["customer_update"].output_schema)
        classification = {
            "label": ctx.label,
            "confidence": round(ctx.confidence, 2),
            "abstained": ctx.abstained,
            "severity": ctx.severity,
            "owner_team": ctx.owner_team,
            "predicted_action": ctx.predicted_action,
        }
        neighbours = [
            {
                "case_id": n.case_id,
                "label": n.label,
                "resolution_action": n.resolution_action,
                "resolution": n.resolution,
                "outcome": n.outcome,
                "hours_to_resolve": n.hours_to_resolve,
            }
            for n in ctx.neighbours
        ]
        internal = {**facts.internal_prompt_data, "description": ctx.event.description}
        situation = {
            "category": None if ctx.abstained else ctx.label.replace("_", " "),
            "description": ctx.event.description,
            "handled_by": ctx.owner_team.replace("_", " "),
        }
        return {
            "summary": {
                **common,
                "facts": dump(facts.prompt_data),
                "internal_facts": dump(internal),
                "classification": dump(classification),
                "neighbours": dump(neighbours),
                "output_schema": summary_schema,
            },
            "customer_update": {
                **common,
                "facts": dump(facts.prompt_data),
                "situation": dump(situation),
                "output_schema": update_schema,
            },
        }

    def health(self) -> dict[str, object]:
        with self._lock:
            stats: dict[str, object] = dict(self._stats)
            stats["last_error"] = self._last_error
        return {**self._breaker.snapshot(), **stats, "timeout_s": self._timeout}


def build_drafter(settings: Settings, taxonomy: Taxonomy | None = None) -> Drafter:
    """Template-only without ``TRIAGE_LLM_BASE_URL``; LLM with template fallback otherwise.

    Loads and validates the prompts, the templates (one per label of ``taxonomy``, the one in force; read
    from ``settings.taxonomy_file`` when not given) and the fact-check configuration; a broken file raises
    ``ConfigurationError`` naming the file, the path inside it and the problem.
    """
    if taxonomy is None:
        taxonomy = load_taxonomy(settings.taxonomy_file)
    config = load_factcheck_config(settings.factcheck_file)
    registry = load_prompts(settings.prompts_dir)
    templates = load_templates(settings.prompts_dir / "templates", taxonomy.labels)
    template_drafter = TemplateOnlyDrafter(templates, config, registry.version)
    llm_settings = settings.llm
    if not llm_settings.configured:
        return template_drafter
    breaker = CircuitBreaker(llm_settings.breaker_failures, llm_settings.breaker_cooldown_s)
    llm = ChatLLM(llm_settings, registry)
    return LLMDrafter(llm, breaker, template_drafter, registry, config, llm_settings.timeout_s)
