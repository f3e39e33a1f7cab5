"""How the desk answers an error: a page (or a sign-in redirect) for a browser, problem+json for anyone else.

A browser asks for ``text/html`` (htmx sends ``HX-Request``); scripts and API clients calling a desk URL get
the same problem+json body the API sends, so the desk's routes refuse exactly as the API does.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from triage.core.errors import TriageError
from triage.domain.auth.middleware import SESSION_COOKIE
from triage.domain.auth.policy import SIGN_IN_PATH, UI_PREFIX
from triage.ui.pages import page

log = logging.getLogger("triage")
PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Invalid request", 401: "Sign in", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def wants_html(request: Request[Any, Any, Any]) -> bool:
    return "text/html" in request.headers.get("accept", "") or is_htmx(request)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def sign_in_url(next_path: str | None = None) -> str:
    return f"{SIGN_IN_PATH}?next={quote(next_path, safe='/')}" if next_path else SIGN_IN_PATH


def _status_title_detail(exc: Exception) -> tuple[int, str, str]:
    if isinstance(exc, TriageError):
        return exc.status_code, exc.title, exc.detail
    if isinstance(exc, ValidationException):
        return 400, "Invalid request", str(exc.detail)
    if isinstance(exc, HTTPException):
        return exc.status_code, TITLES.get(exc.status_code, "Error"), str(exc.detail)
    log.exception("unhandled error on a desk page", exc_info=exc)
    return (
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "an unexpected error occurred; it has been logged",
    )


def desk_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The router's one exception handler."""
    status, title, detail = _status_title_detail(exc)
    if not wants_html(request):
        headers = {"WWW-Authenticate": 'Bearer realm="exception-triage"'} if status == 401 else {}
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        return Response(
            {**body, "instance": request.url.path},
            status_code=status,
            media_type=PROBLEM_JSON,
            headers=headers,
        )
    if status == 401:
        return _to_sign_in(request)
    return page(request, "error.html", status_code=status, status=status, title=title, detail=detail)


def _to_sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """Back to the sign-in page (then to where the browser was going), forgetting an ended session."""
    back = request.url.path if request.method == "GET" and not is_htmx(request) else None
    target = sign_in_url(back)
    forget = Cookie(key=SESSION_COOKIE, value="", path=UI_PREFIX, max_age=0, httponly=True, samesite="strict")
    if is_htmx(request):
        return Response(None, status_code=204, headers={"HX-Redirect": target}, cookies=[forget])
    return Redirect(target, status_code=303, cookies=[forget])
