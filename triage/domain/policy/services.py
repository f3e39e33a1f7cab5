"""``PolicyService``: the policy in force, reloaded from its file when it changes, every reload audited.

The reload is audited BEFORE the new policy is put in force, so a failed audit write leaves the old policy in
force; an invalid file is refused (audited once per change of the file) and never replaces the valid one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from triage.core.actors import Actor
from triage.core.errors import ConfigurationError, InvalidInput
from triage.db.engine import unit_of_work
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.events.schemas import EventCreate, EventType
from triage.domain.events.services import EventOutbox
from triage.domain.policy.schemas import PolicyRead
from triage.engines.policy.loader import PolicyStore
from triage.engines.policy.models import Policy

log = logging.getLogger("triage")


def file_stamp(path: Path) -> int | None:
    """The file's modification time in ns, or None while it is missing or unreadable."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class PolicyService:
    def __init__(self, store: PolicyStore, audit: AuditService, events: EventOutbox) -> None:
        self.store = store
        self.audit = audit
        self.events = events
        self._lock = threading.Lock()
        self._stamp = file_stamp(store.path)

    @property
    def current(self) -> Policy:
        return self.store.current

    def read(self) -> PolicyRead:
        current = self.store.current
        return PolicyRead(
            version=current.version_hash,
            file=str(self.store.path),
            policy=current.model_dump(mode="json", exclude={"version_hash"}),
        )

    def reload(self, actor: Actor) -> bool:
        """Put the file's policy in force if it changed: True when it did. ``InvalidInput`` (audited) when the
        file is invalid; the previous policy stays in force."""
        with self._lock:
            before = self.store.current.version_hash
            try:
                candidate = self.store.load_candidate()
            except ConfigurationError as exc:
                self.audit.record_event(
                    actor,
                    "policy.reload_refused",
                    outcome="refused",
                    reason=exc.detail,
                    details={"kept": before},
                )
                raise InvalidInput(
                    f"the policy file is invalid; the previous policy stays in force: {exc.detail}"
                ) from exc
            after = candidate.version_hash
            if after == before:
                return False
            with unit_of_work(self.audit.sessions) as session:
                entry = AuditEntryCreate(
                    action="policy.reloaded",
                    actor=actor,
                    outcome="applied",
                    reason="policy file changed",
                    details={"before": before, "after": after},
                    policy_version=after,
                )
                self.audit.append(session, [entry])
                change = {"before": before, "after": after, "by": actor.subject}
                self.events.append(session, [EventCreate(EventType.POLICY_CHANGED, None, change)])
            self.store.apply(candidate)
            return True

    def follow_file(self) -> None:
        """Reload when the file changed since the last look (run periodically by the app).

        A file that is missing counts as one change, not one per look: the refusal is audited once, and the
        next reload happens when the file is back.
        """
        stamp = file_stamp(self.store.path)
        if stamp == self._stamp:
            return
        try:
            self.reload(Actor.system())
        except InvalidInput as exc:
            log.error("policy reload refused, the previous policy stays in force: %s", exc.detail)
        # An audit failure (UpstreamUnavailable) propagates before this line, so the next look tries again.
        self._stamp = stamp
