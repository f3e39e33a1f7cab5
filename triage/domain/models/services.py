"""``ModelRegistry``: the one way a model version is registered, validated, promoted and rolled back.

Every promotion, refusal and rollback is audited with who, why and both models' figures, and a promotion or
rollback is announced (``model.promoted``) in the same transaction as the pointer's change. The pointer changes
by compare-and-swap on its generation: of two promotions at once, one wins and the other gets ``Conflict``.
Serving processes follow the pointer (``ModelFollower``) and swap the model without a restart.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from triage.core.actors import Actor
from triage.core.clock import Clock, utc_now
from triage.core.errors import ArtifactError, Conflict, InvalidInput, NotFound
from triage.core.paging import MAX_PAGE, clamp_limit
from triage.db.engine import read_snapshot, unit_of_work
from triage.db.tables import ModelVersionRow
from triage.domain.audit.schemas import AuditEntryCreate
from triage.domain.audit.services import AuditService
from triage.domain.events.schemas import EventCreate, EventType
from triage.domain.events.services import EventOutbox
from triage.domain.models.records import ModelJobRecords
from triage.domain.models.repositories import ConfirmedCase, ModelRepository, ResolvedCase
from triage.domain.models.schemas import (
    ModelStatus,
    ModelVersionPage,
    ModelVersionRead,
    PointerRead,
    PromoteCreate,
    PromotionRead,
    Recipe,
    RollbackCreate,
)
from triage.domain.models.validation import PromotionRule, decide, figures_of

log = logging.getLogger("triage")


class PromotionRefused(InvalidInput):
    """Validation found the candidate worse than the model in force (422 with the deciding figures)."""

    title = "Promotion refused"


class Validator(Protocol):
    """Checks a version's artifact and scores a candidate against the model in force (both on the same rows)."""

    def verify(self, version: ModelVersionRead) -> None:
        """Raise ``ArtifactError`` when the artifact (or its collection) is missing, corrupt or foreign."""

    def evaluate(self, candidate: ModelVersionRead, in_force: ModelVersionRead) -> dict[str, Any]:
        """``{"heldout": {"candidate", "in_force", ...}, "recorded": {"n", "candidate", "in_force"}}``."""
        ...


@dataclass(frozen=True)
class ModelVersionCreate:
    """A version to register (its artifact is already written)."""

    artifact_dir: str
    classifier_version: str
    recipe: Recipe
    embedding_model: str
    collection: str
    learnt_from: dict[str, Any]
    training_data_sha256: str | None = None
    embedding_space: str | None = None
    training_metrics: dict[str, Any] | None = None
    id: str = field(default_factory=lambda: new_version_id())


def new_version_id() -> str:
    """``mv_<UTC date>_<time>_<6 hex>``: sortable by eye, safe as a collection and folder name."""
    return f"mv_{utc_now().strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"


def _read(row: ModelVersionRow) -> ModelVersionRead:
    return ModelVersionRead.model_validate(row, from_attributes=True)


class ModelRegistry(ModelJobRecords):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditService,
        events: EventOutbox,
        validator: Validator | None = None,
        *,
        rule: PromotionRule | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.events = events
        self.validator = validator
        self.rule = rule or PromotionRule()
        self.clock = clock
        self.repository = ModelRepository()

    # reading

    def versions(self, cursor: str | None = None, limit: int = 50) -> ModelVersionPage:
        with read_snapshot(self.sessions) as session:
            rows, next_cursor = self.repository.page(session, cursor, clamp_limit(limit, MAX_PAGE))
            pointer = self.repository.pointer(session)
            return ModelVersionPage(
                items=[_read(r) for r in rows],
                next_cursor=next_cursor,
                active_id=pointer.active_id,
                previous_id=pointer.previous_id,
            )

    def get(self, version_id: str) -> ModelVersionRead:
        with read_snapshot(self.sessions) as session:
            row = self.repository.get(session, version_id)
            if row is None:
                raise NotFound(f"no model version {version_id!r}")
            return _read(row)

    def pointer(self) -> PointerRead:
        with read_snapshot(self.sessions) as session:
            row = self.repository.pointer(session)
            return PointerRead(
                active_id=row.active_id, previous_id=row.previous_id, generation=row.generation
            )

    def active(self) -> ModelVersionRead | None:
        pointer = self.pointer()
        return self.get(pointer.active_id) if pointer.active_id else None

    def confirmed_cases(self) -> list[ConfirmedCase]:
        """The human-confirmed cases (final labels from re-labels, reviews and resolutions), oldest first."""
        with read_snapshot(self.sessions) as session:
            return self.repository.confirmed_cases(session)

    def resolved_cases(self) -> list[ResolvedCase]:
        """Cases resolved in the service (they join a new history collection beside the history file)."""
        with read_snapshot(self.sessions) as session:
            return self.repository.resolved_cases(session)

    # registering

    def register(self, new: ModelVersionCreate, actor: Actor) -> ModelVersionRead:
        """Record a trained artifact as a candidate (audited ``model.registered``); an artifact that does not
        load, or is not the classifier named, is refused (``InvalidInput``) and not registered."""
        row = self._row(new, actor, ModelStatus.CANDIDATE)
        if self.validator is not None:
            try:
                self.validator.verify(_read(row))
            except ArtifactError as exc:
                raise InvalidInput(f"{new.artifact_dir} not registered: {exc.detail}") from exc
        with unit_of_work(self.sessions) as session:
            self.repository.add(session, row)
            self.audit.append(
                session,
                [
                    AuditEntryCreate(
                        action="model.registered",
                        actor=actor,
                        outcome=ModelStatus.CANDIDATE.value,
                        model_version=new.classifier_version,
                        details={
                            "version": new.id,
                            "recipe": new.recipe.value,
                            "learnt_from": new.learnt_from,
                        },
                    )
                ],
            )
            return _read(row)

    def adopt(
        self, new: ModelVersionCreate, actor: Actor, *, replacing: str | None = None
    ) -> ModelVersionRead | None:
        """Put an existing install's model in force as the registry's first version; None when the registry
        already has a model in force (idempotent, and safe when several processes adopt at once).

        ``replacing``: the version in force whose artifact ``bootstrap`` had to train again (its folder was
        removed); that version is marked failed and leaves nothing to roll back to."""
        with unit_of_work(self.sessions) as session:
            pointer = self.repository.pointer(session)
            if pointer.active_id is not None and pointer.active_id != replacing:
                return None
            if replacing is not None:
                old = self.repository.get(session, replacing)
                if old is not None:
                    old.status, old.note = (
                        ModelStatus.FAILED.value,
                        "its artifact was removed and trained again",
                    )
            row = self._row(new, actor, ModelStatus.ACTIVE)
            self.repository.add(session, row)
            if not self.repository.swap_pointer(
                session, generation=pointer.generation, active_id=row.id, previous_id=None, at=self.clock()
            ):
                session.rollback()
                return None
            self.audit.append(
                session,
                [
                    AuditEntryCreate(
                        action="model.adopted",
                        actor=actor,
                        outcome=ModelStatus.ACTIVE.value,
                        reason=(
                            f"bootstrap trained the installed model again (the artifact of {replacing} was gone)"
                            if replacing
                            else "the model of an install without a registry becomes its first version"
                        ),
                        model_version=new.classifier_version,
                        details={
                            "version": row.id,
                            "artifact_dir": new.artifact_dir,
                            "collection": new.collection,
                        },
                    )
                ],
            )
            return _read(row)

    def _row(self, new: ModelVersionCreate, actor: Actor, status: ModelStatus) -> ModelVersionRow:
        values = asdict(new)
        values["recipe"] = new.recipe.value
        return ModelVersionRow(
            **values, created_at=self.clock(), created_by=actor.subject, status=status.value, evaluation=None
        )

    def mark_failed(self, version_id: str, note: str) -> None:
        with unit_of_work(self.sessions) as session:
            row = self.repository.get(session, version_id)
            if row is not None and row.status != ModelStatus.ACTIVE.value:
                row.status, row.note = ModelStatus.FAILED.value, note

    # validating

    def evaluate(self, version_id: str) -> dict[str, Any]:
        """Score ``version_id`` against the model in force and decide; stored on the version."""
        candidate = self.get(version_id)
        in_force = self.active()
        if in_force is None:
            raise Conflict("no model is in force to compare with")
        return self._evaluate(candidate, in_force)

    def _validator(self) -> Validator:
        if self.validator is None:
            raise InvalidInput("this process cannot validate models (no validator configured)")
        return self.validator

    def _evaluate(self, candidate: ModelVersionRead, in_force: ModelVersionRead) -> dict[str, Any]:
        evaluation = self._validator().evaluate(candidate, in_force)
        evaluation["against"] = in_force.id
        evaluation["at"] = self.clock().isoformat()
        evaluation["verdict"] = decide(evaluation, self.rule)
        with unit_of_work(self.sessions) as session:
            row = self.repository.get(session, candidate.id)
            if row is not None:
                row.evaluation = evaluation
        return evaluation

    def _verify(self, version: ModelVersionRead, actor: Actor, action: str, reason: str) -> None:
        try:
            self._validator().verify(version)
        except ArtifactError as exc:
            self._refusal(actor, action, reason, version, None, {"artifact": exc.detail})
            if version.status != ModelStatus.ACTIVE:
                self.mark_failed(version.id, exc.detail)
            raise InvalidInput(f"{version.id} refused: {exc.detail}") from exc

    # promoting and rolling back

    def promote(self, version_id: str, body: PromoteCreate, actor: Actor) -> PromotionRead:
        """Validate ``version_id`` against the model in force and put it in force when it is not worse (or
        ``force``, with the reason audited). ``PromotionRefused`` carries the deciding figures."""
        candidate = self.get(version_id)
        if candidate.status == ModelStatus.ACTIVE:
            raise Conflict(f"{version_id} is already in force")
        pointer = self.pointer()
        in_force = self.get(pointer.active_id) if pointer.active_id else None
        self._verify(candidate, actor, "model.promotion_refused", body.reason)
        evaluation = self._evaluate(candidate, in_force) if in_force is not None else None
        verdict = evaluation["verdict"] if evaluation else None
        if verdict is not None and not verdict["promotable"] and not body.force:
            refused = self._refusal(
                actor, "model.promotion_refused", body.reason, candidate, in_force, evaluation
            )
            raise PromotionRefused(
                f"{version_id} is worse than the model in force {in_force.id if in_force else None}: "
                + "; ".join(verdict["failed"]),
                extra={"verdict": verdict, "figures": refused["figures"], "audit_seq": refused["seq"]},
            )
        return self._swap(
            pointer,
            candidate,
            in_force,
            actor=actor,
            reason=body.reason,
            evaluation=evaluation,
            forced=bool(body.force and verdict is not None and not verdict["promotable"]),
        )

    def rollback(self, body: RollbackCreate, actor: Actor) -> PromotionRead:
        """Put the previous version back in force (its model and its collection), audited."""
        pointer = self.pointer()
        if pointer.previous_id is None or pointer.active_id is None:
            raise Conflict("there is no previous model version to roll back to")
        previous = self.get(pointer.previous_id)
        current = self.get(pointer.active_id)
        self._verify(previous, actor, "model.rollback_refused", body.reason)
        return self._swap(
            pointer,
            previous,
            current,
            actor=actor,
            reason=body.reason,
            evaluation=None,
            forced=False,
            rollback=True,
        )

    def _swap(
        self,
        pointer: PointerRead,
        chosen: ModelVersionRead,
        replaced: ModelVersionRead | None,
        *,
        actor: Actor,
        reason: str,
        evaluation: dict[str, Any] | None,
        forced: bool,
        rollback: bool = False,
    ) -> PromotionRead:
        action = "model.rolled_back" if rollback else "model.promoted"
        now = self.clock()
        figures = {
            "in_force": figures_of(chosen, evaluation, "candidate"),
            "replaced": figures_of(replaced, evaluation, "in_force"),
        }
        if rollback and replaced is not None and (replaced.evaluation or {}).get("against") == chosen.id:
            # the version rolled back was validated against the one restored: both figures come from that
            figures = {
                "in_force": figures_of(chosen, replaced.evaluation, "in_force"),
                "replaced": figures_of(replaced, replaced.evaluation, "candidate"),
            }
        with unit_of_work(self.sessions) as session:
            swapped = self.repository.swap_pointer(
                session,
                generation=pointer.generation,
                active_id=chosen.id,
                previous_id=replaced.id if replaced else None,
                at=now,
            )
            if swapped:
                for version_id, status in (
                    (chosen.id, ModelStatus.ACTIVE),
                    (replaced.id if replaced else None, ModelStatus.RETIRED),
                ):
                    row = self.repository.get(session, version_id) if version_id else None
                    if row is not None:
                        row.status = status.value
                self.audit.append(
                    session,
                    [self._entry(action, actor, reason, chosen, replaced, figures, evaluation, forced)],
                )
                data = {
                    "kind": "rollback" if rollback else "promotion",
                    "version": chosen.id,
                    "classifier_version": chosen.classifier_version,
                    "replaced": replaced.id if replaced else None,
                    "collection": chosen.collection,
                    "by": actor.subject,
                    "reason": reason,
                    "forced": forced,
                }
                # the subject is the version (a None subject is refused by the CloudEvents SDK when read)
                self.events.append(session, [EventCreate(EventType.MODEL_PROMOTED, chosen.id, data)])
        if not swapped:
            refused = "model.rollback_refused" if rollback else "model.promotion_refused"
            self._refusal(
                actor, refused, reason, chosen, replaced, {"conflict": "the model in force changed meanwhile"}
            )
            raise Conflict(
                f"another promotion or rollback changed the model in force meanwhile (generation "
                f"{pointer.generation}); look again and retry"
            )
        log.info(
            "%s: %s in force (was %s), by %s: %s",
            action,
            chosen.id,
            replaced.id if replaced else None,
            actor.subject,
            reason,
        )
        return PromotionRead(
            action="rolled_back" if rollback else "promoted",
            active=self.get(chosen.id),
            replaced=self.get(replaced.id) if replaced else None,
            forced=forced,
            evaluation=evaluation,
            generation=pointer.generation + 1,
        )

    def _entry(
        self,
        action: str,
        actor: Actor,
        reason: str,
        chosen: ModelVersionRead,
        replaced: ModelVersionRead | None,
        figures: dict[str, Any],
        evaluation: dict[str, Any] | None,
        forced: bool,
    ) -> AuditEntryCreate:
        return AuditEntryCreate(
            action=action,
            actor=actor,
            outcome="forced" if forced else "applied",
            reason=reason,
            before=figures["replaced"] or None,
            after=figures["in_force"],
            model_version=chosen.classifier_version,
            details={
                "version": chosen.id,
                "replaced": replaced.id if replaced else None,
                "forced": forced,
                "verdict": (evaluation or {}).get("verdict"),
            },
        )

    def _refusal(
        self,
        actor: Actor,
        action: str,
        reason: str,
        candidate: ModelVersionRead,
        in_force: ModelVersionRead | None,
        evaluation: dict[str, Any] | None,
    ) -> dict[str, Any]:
        is_figures = evaluation is not None and "heldout" in evaluation
        figures = {
            "candidate": figures_of(candidate, evaluation if is_figures else None, "candidate"),
            "in_force": figures_of(in_force, evaluation if is_figures else None, "in_force"),
        }
        record = self.audit.record_event(
            actor,
            action,
            outcome="refused",
            reason=reason,
            before=figures["in_force"] or None,
            after=figures["candidate"],
            model_version=candidate.classifier_version,
            details={
                "version": candidate.id,
                "in_force": in_force.id if in_force else None,
                "why": (evaluation or {}).get("verdict") if is_figures else evaluation,
            },
        )
        return {"figures": figures, "seq": record.seq}


def artifact_path(home: Path, artifact_dir: str) -> Path:
    """A version's artifact folder: relative paths are under ``TRIAGE_HOME``."""
    path = Path(artifact_dir)
    return path if path.is_absolute() else home / path
