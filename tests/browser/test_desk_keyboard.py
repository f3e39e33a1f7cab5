"""An agent clears a queue of 20 items from the keyboard alone: sign in, open the most urgent item's case,
approve everything they may decide on it, back in the queue, again, until nothing is left."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.desk import DESKTOP, Desk, event_of
from triage.core.actors import Role

pytestmark = pytest.mark.slow  # serves the real app on a bootstrapped home and drives Chromium

QUEUE_SIZE = 20
TEAM = "logistics"


def _queue_total(desk: Desk) -> int:
    with desk.api("keyboard-agent") as api:
        return int(api.get("/v1/reviews").json()["counts"]["total"])


def fill_queue(desk: Desk) -> int:
    """Shipment delays (the logistics team's) until the agent's queue holds at least 20 items."""
    desk.new_key("keyboard-agent", Role.AGENT, (TEAM,))
    for _ in range(40):
        if _queue_total(desk) >= QUEUE_SIZE:
            break
        desk.triage(event_of("shipment_delay"))
    return _queue_total(desk)


def test_an_agent_clears_a_queue_of_20_items_from_the_keyboard(chromium: Any, desk: Desk) -> None:
    total = fill_queue(desk)
    assert total >= QUEUE_SIZE
    context = chromium.new_context(viewport=DESKTOP, base_url=desk.base_url)
    page = context.new_page()
    page.goto("/ui/sign-in")
    page.keyboard.type(desk.keys["keyboard-agent"])  # the key field has the focus on arrival
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/queue$"))
    expect(page.locator("#count-total")).to_have_text(str(total))

    cases = 0
    while page.locator("tr[data-item]").count() and cases < QUEUE_SIZE:
        page.keyboard.press("j")  # the first row is selected on arrival; j then k shows selection moves
        page.keyboard.press("k")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/ui/cases/"))
        page.keyboard.press("Shift+A")
        expect(page).to_have_url(re.compile(r"/ui/queue\?done=approved_all$"))
        cases += 1

    expect(page.locator("#queue-empty")).to_be_visible()
    expect(page.locator("#count-total")).to_have_text("0")
    assert _queue_total(desk) == 0
    assert cases < total, "approve-all takes every item of a case in one action"
    context.close()
