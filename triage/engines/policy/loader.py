"""Loading the policy file and the store that holds the policy in force.

A policy's version is ``Policy.version_hash``, the SHA-256 of its validated content: the same rules always
give the same version, an edit to a comment does not count as a change, and an edit to any rule does.
"""

from __future__ import annotations

import threading
from pathlib import Path

from triage.core.governed import Where, dotted, governed_error, load_governed
from triage.engines.policy.models import Policy
from triage.engines.policy.taxonomy import Taxonomy, load_taxonomy

Problem = tuple[Where, str]


def _against_taxonomy(policy: Policy, taxonomy: Taxonomy) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) as ``(where, problem)`` pairs; see ``cross_check``."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for label, category in policy.categories.items():
        if label not in taxonomy.categories:
            errors.append((("categories", label), f"not a taxonomy category ({', '.join(taxonomy.labels)})"))
            continue
        known = taxonomy.categories[label].actions
        errors += [
            (("categories", label, "actions", action), f"not an action of {label} ({', '.join(known)})")
            for action in category.actions
            if action not in known
        ]
        warnings += [
            (("categories", label), f"taxonomy action {action} has no rule, so it is never recommended")
            for action in known
            if action not in category.actions
        ]
    warnings += [
        (("categories", label), "no entry; defaults apply and no action is recommended")
        for label in taxonomy.categories
        if label not in policy.categories
    ]
    return errors, warnings


def cross_check(policy: Policy, taxonomy: Taxonomy) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the policy against the taxonomy, each ``<path in the policy>: <problem>``.

    Errors: a category or an action the taxonomy does not know. Warnings: a taxonomy category without its
    own policy entry (it runs on ``defaults`` with no action catalogue), or a taxonomy action left out of a
    catalogue.
    """
    errors, warnings = _against_taxonomy(policy, taxonomy)
    return [_line(p) for p in errors], [_line(p) for p in warnings]


def _line(problem: Problem) -> str:
    where, message = problem
    return f"{where if isinstance(where, str) else dotted(where)}: {message}"


def load_policy(path: Path, taxonomy: Taxonomy | None = None) -> Policy:
    """Read, validate and (given a taxonomy) cross-check a policy file; ``ConfigurationError`` if unusable."""
    policy = load_governed(path, Policy)
    if taxonomy is not None:
        errors, _ = _against_taxonomy(policy, taxonomy)
        if errors:
            raise governed_error(path, errors)
    return policy


class PolicyStore:
    """The policy in force. ``reload()`` swaps in a changed, valid file; an invalid one never replaces it.

    Given a taxonomy (or its file), every load is also cross-checked against it. Read ``current`` once per
    triage and use that object throughout, so one case is decided under one policy even across a reload.
    """

    def __init__(
        self, path: Path, taxonomy: Taxonomy | None = None, *, taxonomy_file: Path | None = None
    ) -> None:
        if taxonomy is None and taxonomy_file is not None:
            taxonomy = load_taxonomy(taxonomy_file)
        self.path = path
        self._taxonomy = taxonomy
        self._lock = threading.Lock()
        self._current = load_policy(path, taxonomy)

    @property
    def current(self) -> Policy:
        return self._current

    @property
    def version(self) -> str:
        return self._current.version_hash

    def load_candidate(self) -> Policy:
        """Read and validate the file without putting it in force (raises ``ConfigurationError``)."""
        return load_policy(self.path, self._taxonomy)

    def apply(self, policy: Policy) -> None:
        """Put an already validated policy in force (after its reload has been audited)."""
        with self._lock:
            self._current = policy

    def reload(self) -> bool:
        """Re-read the file: True when a different valid policy is now in force, False when unchanged.

        Raises ``ConfigurationError`` (with every problem) when the file is invalid; the old policy stays.
        """
        with self._lock:
            loaded = load_policy(self.path, self._taxonomy)
            if loaded.version_hash == self._current.version_hash:
                return False
            self._current = loaded
            return True
