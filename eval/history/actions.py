"""The labels and the actions each may resolve with, read from the service's taxonomy file."""

from __future__ import annotations

from pathlib import Path

from triage.engines.policy import load_taxonomy

TAXONOMY_FILE = Path(__file__).resolve().parents[2] / "guardrails" / "taxonomy.yaml"


def label_actions(path: Path = TAXONOMY_FILE) -> dict[str, tuple[str, ...]]:
    """Each category of the taxonomy in ``path`` with its actions, in the file's order."""
    taxonomy = load_taxonomy(path)
    return {label: tuple(taxonomy.actions(label)) for label in taxonomy.labels}


# Read once: the generator must never offer an action the service would not accept for the label.
ACTIONS = label_actions()
