"""Prompt, template and fact-check files: loaded and validated; a broken file names itself and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from triage.core.errors import ConfigurationError
from triage.engines.drafting.factcheck_config import load_factcheck_config
from triage.engines.drafting.prompts import load_prompts
from triage.engines.drafting.templates import load_templates

ROOT = Path(__file__).resolve().parents[2]
LABELS = [
    "inventory_shortage",
    "credit_hold",
    "pricing_discrepancy",
    "shipment_delay",
    "incomplete_order_data",
    "backorder_conflict",
    "carrier_failure",
    "compliance_requirement",
    "other",
]


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    target = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_prompts_load_into_langchain_templates() -> None:
    registry = load_prompts(ROOT / "prompts")
    update = registry["customer_update"]
    assert update.ref == "customer_update@1"
    assert set(update.chat.input_variables) == {
        "facts",
        "situation",
        "customer_message",
        "message_nonce",
        "output_schema",
    }
    messages = update.chat.format_messages(
        facts="{}", situation="{}", customer_message="hi", message_nonce="ab", output_schema="{}"
    )
    assert [m.type for m in messages] == ["system", "human"]
    assert '<customer_message id="ab">\nhi\n</customer_message' in str(messages[1].content)
    assert registry["case_summary"].output_schema["required"] == ["text"]


def test_version_is_the_content_hash(prompts: Path) -> None:
    before = load_prompts(prompts).version
    assert load_prompts(prompts).version == before
    edit(prompts / "templates" / "other.yaml", "looking into it", "looking into it now")
    assert load_prompts(prompts).version != before


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("customer_update.yaml", "{facts}", "{factz}", "input_variables"),
        (
            "customer_update.yaml",
            "name: customer_update",
            "name: customer_updates",
            "does not match the file",
        ),
        ("customer_update.yaml", "version: 1", "version: zero", "version"),
        ("case_summary.yaml", "required: [text]", "required: []", "output_schema"),
        ("case_summary.yaml", "system: |", "sistem: |", "system: Field required"),
        (
            "case_summary.yaml",
            "repair: |\n  Your previous answer could not be used: {error}",
            "repair: |\n  Your previous answer {oops}",
            "repair",
        ),
        ("case_summary.yaml", "name: case_summary", "name: [case_summary", "invalid YAML"),
        ("case_summary.yaml", "type: string", "type: number", "output_schema.properties.text.type: must be"),
        ("case_summary.yaml", "Your previous answer", "Your previous } answer", "repair: template does not"),
    ],
)
def test_broken_prompt_file_raises_naming_file_and_problem(
    prompts: Path, file: str, old: str, new: str, problem: str
) -> None:
    edit(prompts / file, old, new)
    with pytest.raises(ConfigurationError) as info:
        load_prompts(prompts)
    assert file in str(info.value) and problem in str(info.value)


def test_missing_prompt_file_is_named(prompts: Path) -> None:
    (prompts / "case_summary.yaml").unlink()
    with pytest.raises(ConfigurationError, match=r"case_summary\.yaml"):
        load_prompts(prompts)


def test_shipped_templates_cover_every_taxonomy_label() -> None:
    templates = load_templates(ROOT / "prompts" / "templates", LABELS)
    assert set(LABELS) <= set(templates.categories)


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        (
            "credit_hold.yaml",
            "The order is on hold",
            "The order {credit_limit} is on hold",
            "unknown variables",
        ),
        (
            "credit_hold.yaml",
            "The order is on hold",
            "The order {internal_context} is on hold",
            "internal variables",
        ),
        ("credit_hold.yaml", "label: credit_hold", "label: credit", "does not match"),
        ("_common.yaml", "version: 1", "versio: 1", "versio"),
    ],
)
def test_broken_template_file_raises(prompts: Path, file: str, old: str, new: str, problem: str) -> None:
    edit(prompts / "templates" / file, old, new)
    with pytest.raises(ConfigurationError) as info:
        load_templates(prompts / "templates", LABELS)
    assert file in str(info.value) and problem in str(info.value)


def test_missing_label_template_is_refused(prompts: Path) -> None:
    (prompts / "templates" / "credit_hold.yaml").unlink()
    with pytest.raises(ConfigurationError, match="credit_hold"):
        load_templates(prompts / "templates", LABELS)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "unsupported_fact: {enabled: true",
            "unsupported_facts: {enabled: true",
            "checks.unsupported_facts: unknown check",
        ),
        (
            "severity: error, audiences: [customer]}",
            "severity: fatal, audiences: [customer]}",
            "severity: Input should be 'error' or 'warning' (got 'fatal')",
        ),
        ("  - '\\byou are now\\b'", "  - '(unclosed'", "injection_patterns[2]: invalid regular expression"),
    ],
)
def test_broken_factcheck_file_raises(tmp_path: Path, old: str, new: str, problem: str) -> None:
    path = tmp_path / "factcheck.yaml"
    shutil.copy(ROOT / "guardrails" / "factcheck.yaml", path)
    edit(path, old, new)
    with pytest.raises(ConfigurationError) as info:
        load_factcheck_config(path)
    assert "factcheck.yaml" in str(info.value) and problem in str(info.value)
