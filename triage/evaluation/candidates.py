"""Validation of a model version before it goes in force: both models on the same rows, same figures.

The held-out rows are ``TRIAGE_MODEL_VALIDATION_FILE`` (the shipped test set by default); the recorded rows are
the service's human-confirmed cases (``ModelRegistry.confirmed_cases``). For each model: accuracy, macro-F1, ECE,
and precision and coverage at the policy's own auto thresholds, per category and pooled: the figures of
``triage eval classify`` (``triage/evaluation/metrics.py``), so a promotion is judged as the evaluation suite
judges a model. The rule that decides is ``triage/domain/models/validation.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from triage.core.errors import ArtifactError
from triage.core.events import ExceptionEvent, classification_text
from triage.domain.models.services import artifact_path
from triage.engines.classifier.metrics import classification_metrics
from triage.evaluation.classify import score_model
from triage.evaluation.metrics import arrays, policy_operating_points
from triage.evaluation.runner import spread

if TYPE_CHECKING:
    from triage.config import Settings
    from triage.domain.models.repositories import ConfirmedCase
    from triage.domain.models.schemas import ModelVersionRead
    from triage.engines.classifier import TextClassifier
    from triage.engines.datasets import LabelledText
    from triage.engines.embedder import Embedder
    from triage.engines.policy.models import Policy


def model_figures(classifier: TextClassifier, rows: Sequence[LabelledText], policy: Policy) -> dict[str, Any]:
    """One model's figures on ``rows``: accuracy, macro-F1, ECE, and the policy's auto band (pooled and per
    predicted category: how many it lets through, their share, their precision)."""
    items = score_model(classifier, rows)
    confidence, _ = arrays(items)
    contract = classification_metrics([s.label for s in items], [s.predicted for s in items], confidence)
    points = policy_operating_points(items, policy, classifier.labels)
    return {
        "n": contract["n"],
        "accuracy": contract["accuracy"],
        "macro_f1": contract["macro_f1"],
        "ece": contract["ece"],
        "coverage_at_precision": contract["coverage_at_precision"],
        "auto": points["overall"]["auto"],
        "auto_mode_only": points["overall_auto_mode_only"],
        "per_category": {
            label: {
                "mode": part["mode"],
                "auto_threshold": part["auto_threshold"],
                "predicted": part["predicted"],
                "auto": part["auto"],
            }
            for label, part in points["per_category"].items()
        },
    }


def confirmed_rows(cases: Sequence[ConfirmedCase]) -> list[LabelledText]:
    """Human-confirmed cases as labelled texts (the text the classifier reads, the final label)."""
    from triage.engines.datasets import LabelledText

    return [
        LabelledText(
            text=classification_text(ExceptionEvent.model_validate(case.event)),
            label=case.label,
            case_id=case.case_id,
            record={"source": case.source},
        )
        for case in cases
    ]


class CandidateValidator:
    """The registry's ``Validator``: loads both versions' artifacts and scores them on the same rows."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        *,
        policy: Callable[[], Policy],
        confirmed: Callable[[], Sequence[ConfirmedCase]],
        loaded: Callable[[ModelVersionRead], TextClassifier | None] = lambda _version: None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.policy = policy
        self.confirmed = confirmed
        self.loaded = loaded
        """The classifier this process already serves for a version, so it is not loaded twice."""

    @cached_property
    def heldout(self) -> list[LabelledText]:
        from triage.engines.datasets import load_labelled

        limit = self.settings.model_validation_limit or None
        return spread(load_labelled(self.settings.model_validation_file), limit)

    def classifier(self, version: ModelVersionRead) -> TextClassifier:
        from triage.engines.classifier import load_classifier

        served = self.loaded(version)
        if served is not None:
            return served
        path = artifact_path(self.settings.home, version.artifact_dir)
        classifier = load_classifier(path, self.embedder)
        if classifier.version != version.classifier_version:
            raise ArtifactError(
                f"{path}: holds classifier {classifier.version[:12]}, not the registered "
                f"{version.classifier_version[:12]} (a foreign artifact)"
            )
        return classifier

    def verify(self, version: ModelVersionRead) -> None:
        """The artifact loads, is the one registered, and its collection exists (embedded store)."""
        self.classifier(version)
        if not self.settings.qdrant_url:
            folder = self.settings.home / "edge" / version.collection
            if not folder.is_dir():
                raise ArtifactError(
                    f"{version.id}: its history collection {version.collection!r} is missing ({folder})"
                )

    def evaluate(self, candidate: ModelVersionRead, in_force: ModelVersionRead) -> dict[str, Any]:
        policy = self.policy()
        rows = self.heldout
        cases = list(self.confirmed())
        recorded = confirmed_rows(cases)
        models = {"candidate": self.classifier(candidate), "in_force": self.classifier(in_force)}
        heldout: dict[str, Any] = {"source": str(self.settings.model_validation_file), "n": len(rows)}
        heldout |= {side: model_figures(model, rows, policy) for side, model in models.items()}
        learnt = set(candidate.learnt_from.get("feedback_case_ids") or [])
        out_recorded: dict[str, Any] = {
            "n": len(recorded),
            "sources": dict(Counter(case.source for case in cases)),
            "in_candidate_training": sum(1 for case in cases if case.case_id in learnt),
        }
        if recorded:
            out_recorded |= {side: model_figures(model, recorded, policy) for side, model in models.items()}
        return {"policy_version": policy.version_hash, "heldout": heldout, "recorded": out_recorded}
