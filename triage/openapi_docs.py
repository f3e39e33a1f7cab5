"""The error side of the OpenAPI document: every route lists each status the server can send it, with the one
error body the server really sends (RFC 9457 ``application/problem+json``, built by ``triage.app.problem``).

Litestar documents a generic validation error of its own shape; this replaces it. Which statuses a route can
answer follows from what it is: authenticated (401, 403, 429, 503), takes a body (400, 413, 415, 422), takes
parameters (422), names a resource in its path (404); routes that declare a 409 keep it.
"""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from triage.domain.auth.policy import rule_for

ASSETS = Path(__file__).resolve().parent / "static" / "openapi"
REDOC_URL = "/schema/assets/redoc.standalone.js"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM = "Problem"
DESCRIPTIONS = {
    400: "Malformed request: the body is not one JSON document (syntax, duplicate keys, nesting, encoding)",
    401: "No valid credential (missing, unknown, revoked or expired key or token)",
    403: "The caller's role may not call this route, or the policy forbids this decision",
    404: "No such resource, or not one the caller's teams may see",
    409: "Conflicts with what is already recorded",
    413: "The body is larger than TRIAGE_MAX_BODY_BYTES",
    415: "The body is not declared as application/json",
    422: "A parameter or a field of the body is invalid (`errors` names each one)",
    429: "Rate limit reached (per API key, or per client address); see Retry-After",
    503: "Starting up, or a part it needs (database, model) is unavailable",
}


def problem_schema() -> Schema:
    field_error = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "field": Schema(type=OpenAPIType.STRING, description="The parameter or body field."),
            "message": Schema(type=OpenAPIType.STRING, description="What is wrong with it."),
        },
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "title", "status", "detail", "instance"],
        description="An RFC 9457 problem: every error the service answers has this shape.",
        properties={
            "type": Schema(type=OpenAPIType.STRING, description="Always about:blank (the status says it)."),
            "title": Schema(type=OpenAPIType.STRING, description="Short summary of the status."),
            "status": Schema(type=OpenAPIType.INTEGER, description="The HTTP status."),
            "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, in plain words."),
            "instance": Schema(type=OpenAPIType.STRING, description="The request path."),
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                items=field_error,
                description="422: each invalid field (may be absent).",
            ),
            "reason": Schema(type=OpenAPIType.STRING, description="401: why the credential was refused."),
            "retry_after": Schema(
                type=OpenAPIType.INTEGER, description="429: seconds until the limit resets."
            ),
        },
    )


def statuses(method: str, path: str, operation: Operation) -> list[int]:
    """The error statuses ``method path`` can answer."""
    rule = rule_for(method.upper(), path)
    codes: set[int] = set()
    if rule is None or not rule.public:
        codes |= {401, 403, 429, 503}
    if operation.request_body is not None:
        codes |= {400, 413, 415, 422}
    if operation.parameters:
        codes.add(422)
    if "{" in path:
        codes.add(404)
    if operation.responses and "409" in operation.responses:
        codes.add(409)
    return sorted(codes)


def document_problems(openapi: OpenAPI) -> OpenAPI:
    """Replace every route's error responses by the problem+json ones it can really answer."""
    components = openapi.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas[PROBLEM] = problem_schema()
    content = {PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{PROBLEM}"))}
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            responses = {k: v for k, v in (operation.responses or {}).items() if not _is_error(k)}
            for code in statuses(method, path, operation):
                declared = (operation.responses or {}).get(str(code))
                description = (
                    declared.description if isinstance(declared, OpenAPIResponse) else DESCRIPTIONS[code]
                )
                responses[str(code)] = OpenAPIResponse(description=description, content=dict(content))
            operation.responses = responses
    return openapi


def _is_error(code: str) -> bool:
    return code.isdigit() and int(code) >= 400


def offline_render_plugins() -> list[RedocRenderPlugin]:
    """The interactive documentation at ``/schema``, its script served by this process (no CDN, no fonts)."""
    return [RedocRenderPlugin(path=["/", "/redoc"], js_url=REDOC_URL, google_fonts=False, favicon="")]


@get(REDOC_URL, opt={"public": True}, include_in_schema=False, media_type="application/javascript")
async def redoc_script() -> bytes:
    """The vendored Redoc bundle (npm ``redoc``, MIT; its licence beside it)."""
    return (ASSETS / "redoc.standalone.js").read_bytes()
