"""Every governed file (policy, taxonomy, prompt, template, fact-check) fails in one format.

``<file>: <where>: <problem>``, one line per problem, where ``<where>`` is the dotted path inside the file,
``line L, column C`` for broken YAML, ``(top level)`` or ``(file)``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from triage.config import Settings
from triage.core.errors import ConfigurationError
from triage.core.governed import read_yaml
from triage.engines.drafting import build_drafter
from triage.engines.drafting.factcheck_config import load_factcheck_config
from triage.engines.drafting.prompts import load_prompts
from triage.engines.drafting.templates import load_templates
from triage.engines.policy.loader import load_policy
from triage.engines.policy.taxonomy import Taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = ROOT / "guardrails" / "taxonomy.yaml"


@dataclass(frozen=True)
class Kind:
    """One kind of governed file: where its copy lives, how it is loaded, and a value deep inside it."""

    name: str
    file: str
    """The file under test, relative to the copied folder (``guardrails/`` and ``prompts/``)."""
    load: Callable[[Path], Any]
    """Loads the copied folder."""
    deep: tuple[str | int, ...]
    """Where the bad value goes, as keys and list indexes."""
    bad: Any
    where: str
    problem: str


def _labels() -> list[str]:
    return load_taxonomy(TAXONOMY).labels


KINDS = [
    Kind(
        "policy",
        "guardrails/policy.yaml",
        lambda folder: load_policy(folder / "guardrails" / "policy.yaml"),
        ("categories", "credit_hold", "thresholds", "auto"),
        1.5,
        "categories.credit_hold.thresholds.auto",
        "Input should be less than or equal to 1 (got 1.5)",
    ),
    Kind(
        "taxonomy",
        "guardrails/taxonomy.yaml",
        lambda folder: load_taxonomy(folder / "guardrails" / "taxonomy.yaml"),
        ("categories", "inventory_shortage", "severity", "raise_when", 0, "order_value_gte"),
        -5,
        "categories.inventory_shortage.severity.raise_when[0].order_value_gte",
        "Input should be greater than or equal to 0 (got -5)",
    ),
    Kind(
        "prompt",
        "prompts/case_summary.yaml",
        lambda folder: load_prompts(folder / "prompts"),
        ("output_schema", "properties", "text", "type"),
        "number",
        "output_schema.properties.text.type",
        "must be string",
    ),
    Kind(
        "template",
        "prompts/templates/credit_hold.yaml",
        lambda folder: load_templates(folder / "prompts" / "templates", _labels()),
        ("customer_update", 1, "text"),
        "Your credit limit is {internal_context}.",
        "customer_update[1].text",
        "a customer sentence uses internal variables ['internal_context']",
    ),
    Kind(
        "fact-check",
        "guardrails/factcheck.yaml",
        lambda folder: load_factcheck_config(folder / "guardrails" / "factcheck.yaml"),
        ("checks", "pii", "audiences", 1),
        "partners",
        "checks.pii.audiences[1]",
        "Input should be 'customer' or 'internal' (got 'partners')",
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of every governed file: ``guardrails/`` and ``prompts/``."""
    for name in ("guardrails", "prompts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def _raises(kind: Kind, folder: Path) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        kind.load(folder)
    return info.value


def _set(data: Any, keys: tuple[str | int, ...], value: Any) -> None:
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_shipped_file_loads(kind: Kind, folder: Path) -> None:
    assert kind.load(folder) is not None


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_bad_value_deep_inside_names_the_file_and_the_dotted_path(kind: Kind, folder: Path) -> None:
    path = folder / kind.file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    _set(data, kind.deep, kind.bad)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    error = _raises(kind, folder)
    assert error.detail == f"{path}: {kind.where}: {kind.problem}"
    assert error.extra["problems"] == [error.detail]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_missing_file_is_named(kind: Kind, folder: Path) -> None:
    path = folder / kind.file
    path.unlink()
    assert _raises(kind, folder).detail.startswith(f"{path}: (file): no such file")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_broken_yaml_names_the_file_line_and_column(kind: Kind, folder: Path) -> None:
    path = folder / kind.file
    path.write_text("version: 1\nsomething: [unclosed\n", encoding="utf-8")
    detail = _raises(kind, folder).detail
    assert re.fullmatch(rf"{re.escape(str(path))}: line 3, column 1: invalid YAML: .+", detail), detail


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_top_level_that_is_not_a_mapping_is_refused(kind: Kind, folder: Path) -> None:
    path = folder / kind.file
    path.write_text("- just\n- a list\n", encoding="utf-8")
    assert _raises(kind, folder).detail == f"{path}: (top level): expected a mapping, got a list"
    path.write_text("# only a comment\n", encoding="utf-8")
    assert _raises(kind, folder).detail == f"{path}: (top level): expected a mapping, got an empty file"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_file_that_is_not_utf8_is_refused(kind: Kind, folder: Path) -> None:
    path = folder / kind.file
    path.write_bytes(b"version: 1\nname: \xff\n")
    assert _raises(kind, folder).detail.startswith(f"{path}: (file): not UTF-8 text")


def test_a_duplicate_key_is_refused_not_silently_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: a\nversion: b\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        read_yaml(path)
    assert (
        info.value.detail == f"{path}: line 2, column 1: invalid YAML: duplicate or unhashable key 'version'"
    )


def test_only_true_and_false_are_booleans(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("mode: off\nanswer: yes\nflag: true\n", encoding="utf-8")
    assert read_yaml(path) == {"mode": "off", "answer": "yes", "flag": True}


def test_every_problem_is_one_line(folder: Path) -> None:
    path = folder / "guardrails" / "factcheck.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["echo"]["message_chars"] = 2
    data["checks"]["pii"]["severity"] = "fatal"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_factcheck_config(path)
    assert info.value.detail.splitlines() == [
        f"{path}: checks.pii.severity: Input should be 'error' or 'warning' (got 'fatal')",
        f"{path}: echo.message_chars: Input should be greater than or equal to 8 (got 2)",
    ]


def test_a_label_without_a_template_names_the_missing_file(folder: Path) -> None:
    path = folder / "prompts" / "templates" / "credit_hold.yaml"
    path.unlink()
    with pytest.raises(ConfigurationError) as info:
        load_templates(path.parent, _labels())
    assert info.value.detail == (f"{path}: (file): no such file (every taxonomy label needs its template)")


def test_the_drafter_uses_the_taxonomy_it_is_given(folder: Path) -> None:
    settings = Settings(
        _env_file=None,
        taxonomy_file=folder / "not-read.yaml",
        factcheck_file=folder / "guardrails" / "factcheck.yaml",
        prompts_dir=folder / "prompts",
        llm_base_url=None,
    )
    taxonomy = load_taxonomy(TAXONOMY)
    assert build_drafter(settings, taxonomy).prompts_version
    data = taxonomy.model_dump(mode="json")
    data["categories"]["teleportation"] = data["categories"]["other"]
    with pytest.raises(ConfigurationError, match=r"teleportation\.yaml: \(file\): no such file"):
        build_drafter(settings, Taxonomy.model_validate(data))
    with pytest.raises(ConfigurationError, match=r"not-read\.yaml: \(file\): no such file"):
        build_drafter(settings)
