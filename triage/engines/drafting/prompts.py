"""The prompt registry: one YAML file per prompt, validated at start-up into langchain-core templates.

A prompt file has ``name`` (its file name), ``version``, ``input_variables`` (exactly the variables its
templates use), ``system`` and ``user`` templates, a ``repair`` template (variable ``error``) used once when
the model's answer is not valid JSON, and the JSON schema of the expected output. The content hash of every
file under the prompts directory (templates included) is the ``prompts`` version of every response.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from pydantic import BaseModel, ConfigDict, Field, field_validator

from triage.core.governed import FILE, InvalidAt, Where, files_error, governed_error, load_governed
from triage.core.hashing import sha256_files
from triage.engines.drafting.models import DraftKind

PROMPT_OF: dict[DraftKind, str] = {"summary": "case_summary", "customer_update": "customer_update"}
"""The prompt that writes each kind of draft."""
REQUIRED_PROMPTS = tuple(PROMPT_OF.values())


class DraftOutput(BaseModel):
    """What both prompts must answer: ``{"text": "..."}``."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=4000)


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    description: str = ""
    structured_output: Literal["json_mode", "json_schema"] = "json_mode"
    input_variables: tuple[str, ...]
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)
    repair: str = Field(min_length=1)
    output_schema: dict[str, Any]

    @field_validator("system", "user", "repair")
    @classmethod
    def _template_parses(cls, text: str) -> str:
        try:
            PromptTemplate.from_template(text)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"template does not parse: {exc}") from exc
        return text

    @field_validator("output_schema")
    @classmethod
    def _schema_describes_draft_output(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object":
            raise InvalidAt("type", "must be object (a JSON schema of the answer)")
        props = schema.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("text"), dict):
            raise InvalidAt("properties.text", "must be declared")
        if props["text"].get("type") != "string":
            raise InvalidAt("properties.text.type", "must be string")
        if "text" not in schema.get("required", []):
            raise InvalidAt("required", "must list 'text'")
        return schema


@dataclass(frozen=True)
class Prompt:
    """A validated prompt: chat template, repair template and output schema."""

    name: str
    version: int
    structured_output: Literal["json_mode", "json_schema"]
    chat: ChatPromptTemplate
    repair: PromptTemplate
    output_schema: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class PromptRegistry:
    prompts: dict[str, Prompt]
    version: str
    """Content hash of every YAML file under the prompts directory."""

    def __getitem__(self, name: str) -> Prompt:
        return self.prompts[name]


def _load_prompt(path: Path) -> Prompt:
    spec = load_governed(path, PromptFile)
    chat = ChatPromptTemplate.from_messages([("system", spec.system), ("human", spec.user)])
    repair = PromptTemplate.from_template(spec.repair)
    problems: list[tuple[Where, str]] = []
    if spec.name != path.stem:
        problems.append(("name", f"{spec.name!r} does not match the file name {path.stem!r}"))
    used, declared = set(chat.input_variables), set(spec.input_variables)
    if used != declared:
        problems.append(
            (
                "input_variables",
                f"{sorted(declared)} do not match the variables the templates use {sorted(used)}",
            )
        )
    if set(repair.input_variables) != {"error"}:
        problems.append(
            ("repair", f"must use exactly the variable 'error', not {sorted(repair.input_variables)}")
        )
    if problems:
        raise governed_error(path, problems)
    return Prompt(spec.name, spec.version, spec.structured_output, chat, repair, spec.output_schema)


def load_prompts(directory: Path) -> PromptRegistry:
    """Load every ``*.yaml`` prompt in ``directory``; a broken file raises ``ConfigurationError``."""
    if not directory.is_dir():
        raise governed_error(directory, [(FILE, "no such prompts directory")])
    prompts = {p.name: p for p in (_load_prompt(path) for path in sorted(directory.glob("*.yaml")))}
    missing = [name for name in REQUIRED_PROMPTS if name not in prompts]
    if missing:
        raise files_error(
            (
                directory / f"{name}.yaml",
                FILE,
                f"no such file (required prompts: {', '.join(REQUIRED_PROMPTS)})",
            )
            for name in missing
        )
    files = sorted(p for p in directory.rglob("*.yaml") if p.is_file())
    return PromptRegistry(prompts, sha256_files(files, directory)[:16])
