"""What handlers receive by dependency injection, as ``Annotated`` aliases (one name per service).

The app (``triage/app.py``) provides each under the parameter name shown; a handler's signature lists exactly
the services it uses. ``skip_validation``: these are services, not request data, so Litestar must not parse
them.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.params import Dependency

from triage.core.actors import Actor
from triage.domain.audit.services import AuditService
from triage.domain.cases.flow import TriageFlow
from triage.domain.cases.history import CaseHistory
from triage.domain.cases.relabel import RelabelService
from triage.domain.cases.services import CaseService
from triage.domain.events.services import EventOutbox
from triage.domain.events.webhooks import WebhookService
from triage.domain.models.services import ModelRegistry
from triage.domain.policy.services import PolicyService
from triage.domain.reviews.queue import ReviewQueue
from triage.domain.reviews.services import ReviewService
from triage.domain.system.dashboard import DashboardService
from triage.domain.system.metrics import Metrics
from triage.domain.system.services import ModelService, ReadinessService

CurrentActor = Annotated[Actor, Dependency(skip_validation=True)]
"""``caller``: who is calling (set by the authentication middleware)."""
TriageFlowDep = Annotated[TriageFlow, Dependency(skip_validation=True)]
"""``flow``"""
CaseServiceDep = Annotated[CaseService, Dependency(skip_validation=True)]
"""``case_service``"""
CaseHistoryDep = Annotated[CaseHistory, Dependency(skip_validation=True)]
"""``case_history``"""
RelabelServiceDep = Annotated[RelabelService, Dependency(skip_validation=True)]
"""``relabel_service``"""
ReviewServiceDep = Annotated[ReviewService, Dependency(skip_validation=True)]
"""``review_service``"""
ReviewQueueDep = Annotated[ReviewQueue, Dependency(skip_validation=True)]
"""``review_queue``"""
AuditServiceDep = Annotated[AuditService, Dependency(skip_validation=True)]
"""``audit_service``"""
PolicyServiceDep = Annotated[PolicyService, Dependency(skip_validation=True)]
"""``policy_service``"""
EventOutboxDep = Annotated[EventOutbox, Dependency(skip_validation=True)]
"""``event_outbox``"""
WebhookServiceDep = Annotated[WebhookService, Dependency(skip_validation=True)]
"""``webhook_service``"""
DashboardServiceDep = Annotated[DashboardService, Dependency(skip_validation=True)]
"""``dashboard_service``"""
ModelServiceDep = Annotated[ModelService, Dependency(skip_validation=True)]
"""``model_service``"""
ModelRegistryDep = Annotated[ModelRegistry, Dependency(skip_validation=True)]
"""``model_registry``"""
ReadinessDep = Annotated[ReadinessService, Dependency(skip_validation=True)]
"""``readiness``"""
MetricsDep = Annotated[Metrics, Dependency(skip_validation=True)]
"""``metrics``"""


def provide_caller(request: Request[Actor, Any, Any]) -> Actor:
    """The ``caller`` dependency: the caller the authentication middleware put on the request."""
    return request.user
