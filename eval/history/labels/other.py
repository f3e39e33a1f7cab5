"""Other: anything no category fits; it goes to the manual triage desk, the taxonomy's single action."""

from __future__ import annotations

from eval.history.draw import kind
from eval.history.labels.base import Case, Decision, LabelRules
from eval.history.wording import WORDING


def decide(case: Case) -> Decision:
    """The taxonomy's only action for the label, with the kind of request in the context."""
    case.context["request_type"] = kind(case.text, WORDING.readings["other"], "inquiry")
    (action,) = case.actions  # no draw: a second action in the taxonomy needs weights here first
    return Decision(action)


RULES = LabelRules(decide)
