"""The desk in a real browser: sign in, the queue's filters and claims, a case worked end to end (a finding
appears in an edit as it is typed, an acknowledged approval, re-label), the timeline and the dashboard moving,
and what agents of other teams cannot see."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SignIn
from tests.browser.desk import Desk, event_of
from triage.core.actors import Role

pytestmark = pytest.mark.slow  # serves the real app on a bootstrapped home and drives Chromium


def _row_of(page: Any, case_id: str) -> Any:
    return page.locator(f"tr[data-item]:has(a[href*='{case_id}'])")


def _figure(page: Any, selector: str) -> int:
    page.goto("/ui/dashboard")
    return int(re.findall(r"\d+", page.locator(selector).inner_text())[0])


def test_sign_in_gives_a_strict_session_cookie_that_sign_out_ends(chromium: Any, desk: Desk) -> None:
    context = chromium.new_context(base_url=desk.base_url)
    page = context.new_page()
    page.goto("/ui/queue")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next=/ui/queue$"))

    page.fill("#credential", "trk_0000000000000000_" + "x" * 43)
    page.keyboard.press("Enter")
    expect(page.locator("#sign-in-error")).to_contain_text("not valid")

    page.fill("#credential", desk.keys["agent"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/queue$"))
    session = next(c for c in context.cookies() if c["name"] == "triage_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/ui"
    assert context.request.get("/v1/reviews").status == 401, (
        "the desk's cookie must never authenticate the API"
    )
    forged = context.request.post("/ui/sign-out", form={"x": "1"})
    assert forged.status == 403, "a form without the CSRF token is refused"

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#notice")).to_contain_text("signed out")
    replay = chromium.new_context(base_url=desk.base_url)
    replay.add_cookies([{**session, "expires": -1}])
    replayed = replay.new_page()
    replayed.goto("/ui/queue")
    expect(replayed).to_have_url(re.compile(r"/ui/sign-in"))
    replay.close()
    context.close()


def test_queue_filters_and_counts(signed_in: SignIn, desk: Desk) -> None:
    labels = [
        desk.triage(event_of(label))["classification"]["label"] for label in ("pricing_discrepancy",) * 2
    ]
    desk.triage(event_of("credit_hold"))
    page = signed_in("supervisor")
    page.select_option("#f-category", labels[0])
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(f"category={labels[0]}"))
    rows = page.locator("tr[data-item]")
    expect(rows.first).to_be_visible()
    categories = {text.split("\n")[0] for text in rows.locator("td:nth-child(4)").all_inner_texts()}
    assert categories == {labels[0].replace("_", " ")}
    assert int(page.locator("#count-total").inner_text()) == rows.count()

    response = page.goto("/ui/queue?kind=bogus")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("bogus")


def test_a_claimed_item_is_not_offered_to_another_agent(signed_in: SignIn, desk: Desk) -> None:
    case = desk.triage(event_of("shipment_delay"))
    teams = (case["owner_team"],)
    desk.new_key("agent-a", Role.AGENT, teams)
    desk.new_key("agent-b", Role.AGENT, teams)
    first = signed_in("agent-a")
    row = _row_of(first, case["case_id"]).first
    item_id = row.get_attribute("data-item")
    row.get_by_role("button", name=re.compile("^Claim")).click()
    expect(first.locator("#notice")).to_contain_text("Claimed")
    expect(first.locator(f"tr[data-item='{item_id}']")).to_contain_text("Yours")

    second = signed_in("agent-b")
    expect(second.locator("h1")).to_have_text("Review queue")
    expect(second.locator(f"tr[data-item='{item_id}']")).to_have_count(0)
    second.goto("/ui/queue?status=claimed_by_others")
    held = second.locator(f"tr[data-item='{item_id}']")
    expect(held).to_contain_text("agent-a")
    expect(held.get_by_role("button", name=re.compile("^Claim"))).to_have_count(0)

    second.goto(f"/ui/cases/{case['case_id']}")
    second.locator("#approve-all button").click()
    with desk.api("supervisor") as api:
        items = api.get("/v1/reviews", params={"status": "any"}).json()["items"]
    assert any(i["item_id"] == item_id for i in items), "agent-b decided an item agent-a holds"


def test_an_agent_of_another_team_gets_nothing(signed_in: SignIn, desk: Desk) -> None:
    case = desk.triage(event_of("inventory_shortage"))
    other = next(t for t in ("finance", "logistics", "compliance") if t != case["owner_team"])
    desk.new_key("outsider", Role.AGENT, (other,))
    page = signed_in("outsider")
    expect(page.locator("h1")).to_have_text("Review queue")
    expect(_row_of(page, case["case_id"])).to_have_count(0)
    assert case["owner_team"] not in page.locator("#f-team").inner_text()
    response = page.goto(f"/ui/cases/{case['case_id']}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")


def test_a_case_is_worked_end_to_end(signed_in: SignIn, desk: Desk) -> None:
    hostile = "Where is my order? <script>document.title='pwned'</script> <b>bold</b>"
    case = desk.triage(event_of("shipment_delay", customer_message=hostile))
    case_id, item_id = case["case_id"], case["drafts"]["customer_update"]["item_id"]
    boss = signed_in("supervisor")
    latency_before = _figure(boss, "#m-latency")

    page = signed_in("agent")
    page.goto(f"/ui/cases/{case_id}")
    expect(page.locator("#customer-message")).to_have_text(hostile)
    assert page.title() != "pwned" and page.locator("#customer-message b").count() == 0
    expect(page.locator("#case-label")).to_have_text(case["classification"]["label"].replace("_", " "))

    page.get_by_text("Edit the customer update…").click()
    editor = page.locator(f"#edit-{item_id}")
    editor.fill("Hello, we shipped 999 units of your order today.")
    finding = page.locator(f"#check-{item_id} mark.finding")
    expect(finding).to_have_text("999 units")

    page.get_by_role("button", name="Approve my edit").click()
    expect(page.locator("#form-error")).to_contain_text("finding")
    page.locator(f"#ack-{item_id}").check()
    page.get_by_role("button", name="Approve my edit").click()
    expect(page.locator("#notice")).to_have_text("Edit approved.")
    expect(page.locator("#timeline")).to_contain_text("edited and approved the customer update")
    expect(page.locator("#text-customer_update")).to_contain_text("999 units")

    page.locator("#approve-all button").click()
    expect(page).to_have_url(re.compile(r"/ui/queue\?done=approved_all"))
    with desk.api("supervisor") as api:
        decisions = api.get(f"/v1/cases/{case_id}").json()["decisions"]
    assert any(d["decision"] == "edit_and_approve" and "999 units" in d["text"] for d in decisions)
    assert _figure(boss, "#m-latency") == latency_before + 1


def test_relabel_reroutes_the_case_and_counts_on_the_dashboard(signed_in: SignIn, desk: Desk) -> None:
    case = desk.triage(event_of("inventory_shortage"))
    old_team = case["owner_team"]
    desk.new_key("old-team-agent", Role.AGENT, (old_team,))
    boss = signed_in("supervisor")
    relabels_before = _figure(boss, "#m-relabels")
    target = "credit_hold" if case["classification"]["label"] != "credit_hold" else "shipment_delay"

    page = signed_in("agent")
    page.goto(f"/ui/cases/{case['case_id']}")
    page.get_by_text("Re-label (wrong category)…").click()
    page.select_option("#relabel-label", target)
    page.fill("#relabel-reason", "The order is blocked by credit, not by stock.")
    page.get_by_role("button", name=re.compile("^Re-label and re-run")).click()
    expect(page.locator("#notice")).to_contain_text("Re-labelled")
    expect(page.locator("#case-label")).to_have_text(target.replace("_", " "))
    with httpx.Client(
        base_url=desk.base_url, headers={"Authorization": f"Bearer {desk.keys['supervisor']}"}
    ) as api:
        moved = api.get(f"/v1/cases/{case['case_id']}").json()
    expect(page.locator("#owner-team")).to_have_text(moved["owner_team"].replace("_", " "))
    assert moved["owner_team"] != old_team

    assert _figure(boss, "#m-relabels") == relabels_before + 1
    left_behind = signed_in("old-team-agent")
    response = left_behind.goto(f"/ui/cases/{case['case_id']}")
    assert response is not None and response.status == 404, "the case stayed with its old team"


def test_revoking_the_key_ends_its_desk_sessions(signed_in: SignIn, desk: Desk) -> None:
    desk.new_key("leaver", Role.AGENT, ("logistics",))
    page = signed_in("leaver")
    expect(page.locator("h1")).to_have_text("Review queue")
    keys = desk.registry.require().keys
    key_id = next(k.key_id for k in keys.list() if k.subject == "leaver")
    keys.revoke(key_id)
    page.goto("/ui/queue")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next=/ui/queue$"))
