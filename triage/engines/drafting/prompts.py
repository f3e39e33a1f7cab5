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

import yaml
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from triage.core.errors import ConfigurationError
from triage.core.hashing import sha256_files

REQUIRED_PROMPTS = ("case_summary", "customer_update")


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

    @field_validator("output_schema")
    @classmethod
    def _schema_describes_draft_output(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object":
            raise ValueError("must be a JSON schema with type: object")
        props = schema.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("text"), dict):
            raise ValueError("must declare a 'text' property")
        if props["text"].get("type") != "string":
            raise ValueError("properties.text must have type: string")
        if "text" not in schema.get("required", []):
            raise ValueError("must list 'text' in required")
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
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    try:
        spec = PromptFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigurationError(f"{path}: {where}: {first['msg']}") from exc
    if spec.name != path.stem:
        raise ConfigurationError(f"{path}: name {spec.name!r} does not match the file name {path.stem!r}")
    try:
        chat = ChatPromptTemplate.from_messages([("system", spec.system), ("human", spec.user)])
        repair = PromptTemplate.from_template(spec.repair)
    except (ValueError, KeyError) as exc:
        raise ConfigurationError(f"{path}: template does not parse: {exc}") from exc
    used, declared = set(chat.input_variables), set(spec.input_variables)
    if used != declared:
        raise ConfigurationError(
            f"{path}: input_variables {sorted(declared)} do not match the variables the templates use "
            f"{sorted(used)}"
        )
    if set(repair.input_variables) != {"error"}:
        raise ConfigurationError(f"{path}: repair must use exactly the variable 'error'")
    return Prompt(spec.name, spec.version, spec.structured_output, chat, repair, spec.output_schema)


def load_prompts(directory: Path) -> PromptRegistry:
    """Load every ``*.yaml`` prompt in ``directory``; a broken file raises ``ConfigurationError``."""
    if not directory.is_dir():
        raise ConfigurationError(f"{directory}: prompts directory not found")
    prompts = {p.name: p for p in (_load_prompt(path) for path in sorted(directory.glob("*.yaml")))}
    missing = [name for name in REQUIRED_PROMPTS if name not in prompts]
    if missing:
        raise ConfigurationError(f"{directory}: missing prompt files {[m + '.yaml' for m in missing]}")
    files = sorted(p for p in directory.rglob("*.yaml") if p.is_file())
    return PromptRegistry(prompts, sha256_files(files, directory)[:16])
