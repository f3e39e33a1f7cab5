"""The LLM adapter: any OpenAI-compatible endpoint through langchain-openai's ``ChatOpenAI``.

The SDK's own retries are off (``max_retries=0``); this module is the one layer that retries, at most once and
only for 429 and 5xx, waiting for Retry-After only when that still fits the caller's deadline. An answer that
is not valid JSON for the prompt's schema gets one repair attempt. Every wait and request is bounded by the
absolute deadline the caller passes; the caller enforces the same deadline with ``asyncio.timeout_at``.

The OpenAI SDK and langchain-openai (about 65 MB resident) are imported when a ``ChatLLM`` is built, so a
service with no LLM configured never loads them.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from triage.config import LLMSettings
from triage.engines.drafting.prompts import DraftOutput, Prompt, PromptRegistry

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

log = logging.getLogger(__name__)

# Mechanics, not policy: the wait when a 429/5xx carries no Retry-After, and the least time worth a retry.
DEFAULT_RETRY_DELAY_S = 0.2
MIN_ATTEMPT_S = 0.1
# Local servers (vLLM, llama.cpp, Ollama) accept any key; the SDK insists on one being set.
UNUSED_API_KEY = "unused"

FailureKind = Literal["timeout", "rate_limited", "server_error", "connection", "rejected", "invalid_output"]


class LLMFailure(Exception):
    """The endpoint gave no usable answer; ``kind`` says why (all kinds count against the breaker)."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Attempt:
    prompt: str
    outcome: str
    seconds: float


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if present."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class ChatLLM:
    """Generates one prompt's structured output within a deadline (``loop.time()`` based)."""

    def __init__(self, settings: LLMSettings, registry: PromptRegistry) -> None:
        from langchain_openai import ChatOpenAI

        api_key = settings.api_key.get_secret_value() if settings.api_key else UNUSED_API_KEY
        self._chat = ChatOpenAI(
            model=settings.model,
            base_url=settings.base_url,
            api_key=api_key,
            timeout=settings.timeout_s,
            max_retries=0,
            use_responses_api=False,
        )
        self._registry = registry
        self._runnables: dict[str, Runnable[Any, Any]] = {
            name: self._chat.with_structured_output(
                DraftOutput,
                method=prompt.structured_output,
                include_raw=True,
                extra_headers={"X-Triage-Prompt": prompt.ref},
            )
            for name, prompt in registry.prompts.items()
        }

    async def generate(self, name: str, variables: Mapping[str, Any], deadline: float) -> DraftOutput:
        """The parsed answer to prompt ``name``, or ``LLMFailure``; never waits past ``deadline``."""
        from langchain_core.messages import AIMessage, HumanMessage

        prompt: Prompt = self._registry[name]
        messages = prompt.chat.format_messages(**variables)
        result = await self._call(name, messages, deadline)
        if result["parsed"] is not None:
            return DraftOutput.model_validate(result["parsed"])
        error = result.get("parsing_error")
        raw = result.get("raw")
        log.info("llm %s: invalid structured output, one repair attempt: %s", name, error)
        repair = prompt.repair.format(error=_short(str(error)))
        content = raw.content if isinstance(raw, AIMessage) else str(raw)
        repaired = await self._call(
            name, [*messages, AIMessage(content=content), HumanMessage(repair)], deadline
        )
        if repaired["parsed"] is not None:
            return DraftOutput.model_validate(repaired["parsed"])
        raise LLMFailure(
            "invalid_output", f"{name}: no valid JSON after one repair: {repaired.get('parsing_error')}"
        )

    async def _call(self, name: str, messages: list[BaseMessage], deadline: float) -> dict[str, Any]:
        import openai
        from langchain_core.exceptions import OutputParserException

        loop = asyncio.get_running_loop()
        runnable = self._runnables[name]
        retried = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LLMFailure("timeout", f"{name}: deadline reached")
            try:
                result: dict[str, Any] = await runnable.ainvoke(messages, config={"run_name": name})
                return result
            except openai.APITimeoutError as exc:
                raise LLMFailure("timeout", f"{name}: {exc}") from exc
            except openai.APIConnectionError as exc:
                raise LLMFailure("connection", f"{name}: {exc}") from exc
            except openai.APIStatusError as exc:
                status = exc.status_code
                kind: FailureKind = "rate_limited" if status == 429 else "server_error"
                if status != 429 and status < 500:
                    raise LLMFailure("rejected", f"{name}: HTTP {status}") from exc
                wait = retry_after_s(exc.response.headers)
                wait = DEFAULT_RETRY_DELAY_S if wait is None else wait
                if retried or loop.time() + wait + MIN_ATTEMPT_S > deadline:
                    raise LLMFailure(kind, f"{name}: HTTP {status}, no retry within the deadline") from exc
                log.info("llm %s: HTTP %s, retrying once in %.2fs", name, status, wait)
                retried = True
                await asyncio.sleep(wait)
            except (OutputParserException, json.JSONDecodeError) as exc:
                return {"raw": None, "parsed": None, "parsing_error": exc}
            except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError) as exc:
                # A 200 whose body is not an OpenAI response: the endpoint is unusable, not the input.
                raise LLMFailure("invalid_output", f"{name}: malformed response: {exc!r}") from exc


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
