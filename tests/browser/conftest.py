"""Fixtures of the browser tests: one headless Chromium per run, one served desk per module, signed-in pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.desk import (
    CHROMIUM_ARGS,
    DESKTOP,
    Desk,
    browser_unavailable_reason,
    chromium_executable,
    desk_server,
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium per browser test module, stopped at its end: Playwright's sync API keeps an event loop
    running in the main thread while it is open, which would break asyncio.run() in later tests."""
    reason = browser_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def desk(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The desk on a fresh home (Chromium is asked for first, so a missing browser skips before any start-up)."""
    with desk_server(Path(tmp_path_factory.mktemp("desk"))) as served:
        yield served


SignIn = Callable[..., Any]


@pytest.fixture
def signed_in(chromium: Any, desk: Desk) -> Iterator[SignIn]:
    """``signed_in("agent")``: a new browser context (its own cookies), signed in with that key, on its first
    page; every context opened is closed after the test."""
    contexts: list[Any] = []

    def open_page(key_name: str, viewport: dict[str, int] = DESKTOP) -> Any:
        context = chromium.new_context(viewport=viewport, base_url=desk.base_url)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, desk.keys[key_name])
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, key: str) -> None:
    page.goto("/ui/sign-in")
    page.fill("#credential", key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/ui/sign-in" not in url)
