"""The review desk: server-rendered pages under ``/ui`` that call the same services as the API.

``ui_route_handlers()`` and ``ui_template_config()`` are what the app registers; the pages live in
``controllers.py``, their templates in ``templates/`` and vendored static files in ``static/``.
"""

from __future__ import annotations

from typing import Any


def ui_route_handlers() -> list[Any]:
    """The desk's route handlers (pages, forms and static files)."""
    return []


def ui_template_config() -> Any:
    """Litestar's template configuration for the desk's Jinja templates, or None while there are none."""
    return None
