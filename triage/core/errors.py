"""The one error hierarchy of the service.

Services and engines raise these; ``triage.app`` maps them to RFC 9457 problem+json once.
"""

from __future__ import annotations

from typing import Any


class TriageError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500
    title = "Internal error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class InvalidInput(TriageError):
    status_code = 422
    title = "Invalid input"


class MalformedRequest(TriageError):
    """The body is not one well-formed JSON document this service accepts (syntax, nesting, duplicate keys)."""

    status_code = 400
    title = "Invalid request"


class UnsupportedMediaType(TriageError):
    status_code = 415
    title = "Unsupported media type"


class NotFound(TriageError):
    status_code = 404
    title = "Not found"


class Conflict(TriageError):
    status_code = 409
    title = "Conflict"


class Unauthorized(TriageError):
    status_code = 401
    title = "Unauthorized"


class Forbidden(TriageError):
    status_code = 403
    title = "Forbidden"


class PolicyViolation(TriageError):
    status_code = 403
    title = "Policy violation"


class UpstreamUnavailable(TriageError):
    status_code = 503
    title = "Upstream unavailable"


class ArtifactError(TriageError):
    """A model artifact is missing, tampered with, or built for another embedding model."""

    status_code = 503
    title = "Model artifact unusable"


class ConfigurationError(TriageError):
    """A settings value, prompt file or policy file is unusable; start-up stops with this."""

    status_code = 500
    title = "Configuration error"
