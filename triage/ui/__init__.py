"""The review desk: server-rendered pages under ``/ui`` that call the same services as the API.

``ui_route_handlers()`` and ``ui_template_config()`` are what the app registers. Pages and forms live in the
``*_pages.py`` modules, their Jinja templates in ``templates/`` and the vendored static files (htmx, the
stylesheet, the keyboard shortcuts) in ``static/``, all inside the package, so an installed service serves
them from any folder. Each route's authorization rule is the rule of the API call behind it
(``triage/domain/auth/policy.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Router
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.middleware.base import DefineMiddleware
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from triage.core.errors import TriageError
from triage.domain.auth.policy import UI_PREFIX
from triage.ui.audit_page import AuditPageController
from triage.ui.auth_pages import DeskSessionController
from triage.ui.case_page import CasePageController
from triage.ui.dashboard_page import DashboardPageController
from triage.ui.errors import desk_error
from triage.ui.formatting import FILTERS
from triage.ui.queue_page import QueuePageController
from triage.ui.security import PAGE_HEADERS, DeskCSRFMiddleware

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def ui_route_handlers() -> list[Any]:
    """The desk's route handlers: the pages and forms (one router), and the static files."""
    pages = Router(
        path=UI_PREFIX,
        route_handlers=[
            DeskSessionController,
            QueuePageController,
            CasePageController,
            DashboardPageController,
            AuditPageController,
        ],
        middleware=[DefineMiddleware(DeskCSRFMiddleware)],
        # Every key the app maps, so the desk's handler wins for each (Litestar picks the nearest class).
        exception_handlers=dict.fromkeys(
            [
                TriageError,
                ValidationException,
                NotAuthorizedException,
                PermissionDeniedException,
                HTTPException,
                Exception,
            ],
            desk_error,
        ),
        response_headers=PAGE_HEADERS,
        cache_control=CacheControlHeader(no_store=True),
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"{UI_PREFIX}/static",
        directories=[STATIC],
        name="ui-static",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600),
    )
    return [pages, static]


def ui_template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja over ``templates/``: every value escaped, and a name missing from a page's context is an error."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
