"""Every text of the synthetic history, read from ``wording.yaml`` next to this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from eval.history.actions import ACTIONS

WORDING_FILE = Path(__file__).with_name("wording.yaml")


class Template(NamedTuple):
    """A description template: the system that writes such text, the codes it may carry, and the text."""

    source: str
    codes: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Wording:
    """The texts in file order (the generator draws by position); see ``wording.yaml`` for what each is."""

    core: dict[str, list[Template]]
    confusable: dict[str, list[Template]]
    ambiguous: dict[tuple[str, str], list[Template]]
    terse: list[Template]
    tails: list[str]
    resolutions: dict[str, dict[str, list[str]]]
    outcomes: dict[str, list[str]]
    messages: dict[str, list[str]]
    greetings: list[str]
    signatures: list[str]
    prefixes: list[str]
    suffixes: list[str]
    internal_notes: dict[str, list[str]]
    readings: dict[str, dict[str, str]]


def _templates(rows: list[dict[str, Any]]) -> list[Template]:
    return [Template(row["source"], tuple(row["codes"]), row["text"]) for row in rows]


def load_wording(path: Path, actions: Mapping[str, tuple[str, ...]]) -> Wording:
    """The wording in ``path``; ``ValueError`` when a label of ``actions`` lacks text for a case or action."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    wording = Wording(
        core={label: _templates(rows) for label, rows in data["core"].items()},
        confusable={label: _templates(rows) for label, rows in data["confusable"].items()},
        ambiguous={
            (group["labels"][0], group["labels"][1]): _templates(group["templates"])
            for group in data["ambiguous"]
        },
        terse=_templates(data["terse"]),
        tails=data["tails"],
        resolutions=data["resolutions"],
        outcomes=data["outcomes"],
        messages=data["messages"],
        greetings=data["greetings"],
        signatures=data["signatures"],
        prefixes=data["prefixes"],
        suffixes=data["suffixes"],
        internal_notes=data["internal_notes"],
        readings=data["readings"],
    )
    missing = [
        f"{label}: {what}"
        for label, label_actions in actions.items()
        for what, present in (
            ("core", label in wording.core),
            ("messages", label in wording.messages),
            *((f"resolutions.{a}", a in wording.resolutions.get(label, {})) for a in label_actions),
        )
        if not present
    ]
    if missing:
        raise ValueError(f"{path}: no wording for " + ", ".join(missing))
    return wording


WORDING = load_wording(WORDING_FILE, ACTIONS)
