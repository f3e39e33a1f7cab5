"""One synthetic case at a time: order, texts, context, action, outcome and time to resolve."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from eval.history.actions import ACTIONS
from eval.history.describe import customer_message, describe, resolution_text
from eval.history.draw import money, order_id, pick, po_number, tracking_number
from eval.history.labels import RULES, Case, Decision
from eval.history.mix import MIX
from eval.history.parties import Customer, customers, skus
from eval.history.pools import POOLS
from eval.history.slots import Setting, case_slots
from eval.history.wording import WORDING

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class CaseFactory:
    """Builds one case at a time from a seeded ``random.Random``; holds the run's customers and SKUs.

    The same rng state and label give the same case: every draw happens in a fixed order.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.customers = customers(rng)
        self.skus = skus(rng)

    def case(self, label: str, day: date) -> dict[str, Any]:
        """A case of ``label`` that occurred on ``day``, as a history row (``_occurred`` is for sorting)."""
        rng, rules = self.rng, RULES[label]
        cust = self._customer_for(label)
        site = rng.choice(POOLS.sites[cust.currency])
        fmt = rng.choice(POOLS.date_formats)
        order_date = day - timedelta(days=rng.randint(*rules.lead_days))
        requested = order_date + timedelta(days=rng.randint(3, 21))
        promised = requested + timedelta(days=rng.choice([0, 0, 0, 1, 2, 3]))
        order = self._order(cust, site, (order_date, requested, promised), rules.ships_with_carrier)
        line = order["lines"][0]
        slots = case_slots(rng, Setting(cust, site, order, line, fmt, day, self.skus))
        text, source, code = describe(rng, label, slots)
        facts = Case(rng, ACTIONS[label], cust, order, line, slots, text.lower(), context={})
        decision = self._decide(label, facts)
        occurred = datetime(
            day.year, day.month, day.day, rng.randint(5, 21), rng.randint(0, 59), rng.randint(0, 59)
        )
        event: dict[str, Any] = {
            "event_id": "",
            "source_system": source,
            "occurred_at": self._timestamp(occurred),
            "order": order,
        }
        if code:
            event["exception_code"] = code
        event["description"] = text
        message = customer_message(rng, label, cust, slots, source)
        if message:
            event["customer_message"] = message
        event["context"] = facts.context
        outcome = pick(rng, MIX.outcome_weights(decision.action))
        hours = self._hours(decision.action, outcome)
        resolved = occurred + timedelta(hours=hours)
        slots["resolved_date"] = resolved.strftime(fmt)
        return {
            "event": event,
            "label": label,
            "resolution_action": decision.action,
            "resolution": resolution_text(rng, label, decision.wording_key, outcome, slots),
            "outcome": outcome,
            "hours_to_resolve": hours,
            "resolved_at": resolved.strftime(UTC_FORMAT),
            "_occurred": occurred,
        }

    def _customer_for(self, label: str) -> Customer:
        share = RULES[label].retail_share
        if share and self.rng.random() < share:
            return self.rng.choice([c for c in self.customers if c.retail])
        return self.rng.choice(self.customers)

    def _timestamp(self, occurred: datetime) -> str:
        """``occurred`` in UTC, or for about 12% in a local offset as some systems send it."""
        if self.rng.random() < 0.12:
            offset = self.rng.choice([-5, -6, -4, 1])
            local = occurred.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=offset)))
            return local.isoformat()
        return occurred.strftime(UTC_FORMAT)

    def _order(
        self, cust: Customer, site: str, dates: tuple[date, date, date], with_carrier: bool
    ) -> dict[str, Any]:
        """An order of one to five lines; ``dates`` are ordered, requested and promised."""
        rng = self.rng
        order_date, requested, promised = dates
        n_lines = rng.choices([1, 2, 3, 4, 5], weights=[45, 25, 15, 10, 5])[0]
        lines = []
        total = Decimal(0)
        for i, (sku, item_index) in enumerate(rng.sample(self.skus, n_lines)):
            item = POOLS.items[item_index]
            qty = rng.randint(20, 2400) if item.uom == "EA" else rng.randint(4, 400)
            price = Decimal(money(item.price * rng.uniform(0.85, 1.2)))
            total += price * qty
            lines.append(
                {
                    "line_id": str((i + 1) * 10),
                    "sku": sku,
                    "description": item.name,
                    "uom": item.uom,
                    "quantity_ordered": qty,
                    "quantity_allocated": qty,
                    "unit_price": str(price),
                }
            )
        order: dict[str, Any] = {
            "order_id": order_id(rng),
            "customer_id": cust.customer_id,
            "customer_tier": cust.tier,
            "site": site,
            "channel": cust.channel,
            "currency": cust.currency,
            "order_value": money(total),
            "order_date": order_date.isoformat(),
            "requested_date": requested.isoformat(),
        }
        if rng.random() < 0.85:
            order["promised_date"] = promised.isoformat()
        if rng.random() < 0.8 or cust.channel == "edi":
            order["po_number"] = po_number(rng)
        if with_carrier or rng.random() < 0.15:
            carrier = rng.choice(POOLS.carriers[cust.currency])
            order["carrier"] = carrier.name
            order["tracking_number"] = tracking_number(rng, carrier.tracking)
        order["lines"] = lines
        return order

    def _decide(self, label: str, facts: Case) -> Decision:
        """The label's decision, with the context facts every label may carry around it."""
        rng, context = self.rng, facts.context
        if rng.random() < 0.5:
            context["erp_status"] = rng.choice(POOLS.erp_statuses)
        decision = RULES[label].decide(facts)
        if rng.random() < 0.2:
            # The margin is drawn even when the label set one, so that later draws do not depend on it.
            context["margin_pct"] = context.get("margin_pct", round(rng.uniform(3, 35), 1))
        if rng.random() < 0.1 and "internal_note" not in context:
            landed = money(float(facts.slots["unit_price"]) * 0.71)
            note = rng.choice(WORDING.internal_notes["any"])
            context["internal_note"] = note.format(landed=landed, uom=facts.slots["uom"])
        return decision

    def _hours(self, action: str, outcome: str) -> float:
        """Hours to resolve: log-normal around the action's median, stretched by the outcome."""
        median = MIX.median_hours[action] * MIX.hours_factor[outcome]
        return max(0.2, round(median * self.rng.lognormvariate(0, 0.55), 1))
