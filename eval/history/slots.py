"""The slot values of one case: every {name} a template may use, drawn in one fixed order.

Every slot is drawn for every case, whichever template is used, so that one case's draws never depend on
its wording. The groups below are drawn in the order they are listed; changing that order, or the order
inside a group, changes every file the generator writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from eval.history.draw import big_amount, money, order_id, po_number, tracking_number
from eval.history.mix import MIX
from eval.history.parties import Customer
from eval.history.pools import POOLS

Slots = dict[str, Any]


@dataclass(frozen=True)
class Setting:
    """The facts of a case that its slots are drawn around."""

    customer: Customer
    site: str
    order: dict[str, Any]
    line: dict[str, Any]  # the order's first line, the one its texts talk about
    fmt: str  # how this case's texts write dates
    day: date  # the day the exception occurred
    skus: list[tuple[str, int]]  # the run's SKUs, for the second SKUs a text mentions


@dataclass(frozen=True)
class Basis:
    """Values drawn first because several slots derive from them."""

    qty: int
    avail: int
    promise: date
    days_late: int
    carrier: str
    scac: str
    tracking_style: str
    alt_carriers: list[str]
    unit: Decimal
    variance: float
    limit: float
    exposure: float
    inbound_qty: int
    n_orders: int
    others: list[str]
    sku2: str
    first: str
    last: str


def case_slots(rng: random.Random, at: Setting) -> Slots:
    """All slots of the case ``at`` describes; names starting with ``_`` are facts, not wording."""
    b = _basis(rng, at)
    slots: Slots = {}
    for group in (_party_and_stock, _supply, _commercial, _transport, _compliance_and_desk):
        slots.update(group(rng, at, b))
    road = rng.choice(POOLS.roads)
    slots["street"] = f"{rng.randint(10, 9999)} {road} {rng.choice(POOLS.road_kinds)}"
    item_un = next((item.un for item in POOLS.items if item.name == at.line["description"]), None)
    slots["un"] = item_un or rng.choice(POOLS.un_numbers)
    slots["_variance"] = b.variance
    slots["_limit"] = round(b.limit, 2)
    slots["_exposure"] = round(b.exposure, 2)
    return slots


def _basis(rng: random.Random, at: Setting) -> Basis:
    order, currency = at.order, at.customer.currency
    qty = int(at.line["quantity_ordered"])
    avail = rng.randint(0, max(0, qty - 1)) if rng.random() < 0.8 else 0
    days_late = rng.choice([1, 1, 2, 2, 3, 4, 5, 7, 10])
    carrier, scac, style = rng.choice(POOLS.carriers[currency])
    if "carrier" in order:  # the order's own carrier, but the draw above still happens
        carrier = order["carrier"]
        scac = next(c.scac for c in POOLS.carriers[currency] if c.name == carrier)
    variance = rng.choice([0.02, 0.03, 0.05, 0.08, 0.12, 0.2])
    limit = MIX.credit_limits[at.customer.tier] * rng.uniform(0.5, 1.5)
    exposure = limit * rng.uniform(1.01, 1.35)
    inbound_qty = rng.randint(max(1, qty // 2), qty * 2)
    n_orders = rng.randint(2, 7)
    # Arguments are evaluated left to right: the draws below come after all of those above.
    return Basis(
        qty=qty,
        avail=avail,
        promise=date.fromisoformat(order.get("promised_date", order["requested_date"])),
        days_late=days_late,
        carrier=carrier,
        scac=scac,
        tracking_style=style,
        alt_carriers=[c.name for c in POOLS.carriers[currency] if c.name != carrier],
        unit=Decimal(at.line["unit_price"]),
        variance=variance,
        limit=limit,
        exposure=exposure,
        inbound_qty=inbound_qty,
        n_orders=n_orders,
        others=[order_id(rng) for _ in range(n_orders - 1)],
        sku2=rng.choice(at.skus)[0],
        first=rng.choice(POOLS.first_names),
        last=rng.choice(POOLS.last_names),
    )


def _party_and_stock(rng: random.Random, at: Setting, b: Basis) -> Slots:
    cust, line = at.customer, at.line
    return {
        "order_id": at.order["order_id"],
        "cust": cust.customer_id,
        "cust_name": cust.name,
        "tier": cust.tier,
        "retailer": cust.name if cust.retail else rng.choice(POOLS.retailers),
        "site": at.site,
        "alt_site": rng.choice([s for s in POOLS.sites["USD"] + POOLS.sites["CAD"] if s != at.site]),
        "sku": line["sku"],
        "sku2": b.sku2,
        "sub_sku": rng.choice(at.skus)[0],
        "item": line["description"],
        "uom": line["uom"],
        "qty": b.qty,
        "avail": b.avail,
        "short": b.qty - b.avail,
        "sys_qty": b.avail + rng.randint(b.qty - b.avail, b.qty * 2),
        "counted": b.avail,
        "dmg": rng.randint(1, max(1, b.qty - b.avail)),
        "loc": f"{rng.choice('ABCDEFG')}-{rng.randint(1, 40):02d}-{rng.randint(1, 6):02d}",
        "wave": f"W{rng.randint(1000, 9999)}",
        "run": f"AR{rng.randint(10_000, 99_999)}",
    }


def _supply(rng: random.Random, at: Setting, b: Basis) -> Slots:
    return {
        "inbound_po": str(rng.randint(4_500_100_000, 4_500_999_999)),
        "inbound_qty": b.inbound_qty,
        "demand": b.inbound_qty + rng.randint(b.qty // 3 + 1, b.qty * 2),
        "n_orders": b.n_orders,
        "n_other": b.n_orders - 1,
        "bo_orders": ", ".join([at.order["order_id"], *b.others[:3]]),
        "other_order": b.others[0],
        "pos": rng.randint(2, b.n_orders),
        "container": f"{rng.choice(POOLS.container_prefixes)}{rng.randint(1_000_000, 9_999_999)}",
        "receipt": f"RCV-{rng.randint(100_000, 999_999)}",
        "eta": (at.day + timedelta(days=rng.randint(3, 30))).strftime(at.fmt),
        # A spare PO number is drawn even when the order has one, so that later draws do not depend on it.
        "po": at.order.get("po_number", po_number(rng)),
    }


def _commercial(rng: random.Random, at: Setting, b: Basis) -> Slots:
    unit, variance = b.unit, b.variance
    return {
        "unit_price": str(unit),
        "po_price": money(unit * Decimal(str(1 - variance))),
        "contract_price": money(unit * Decimal(str(1 - variance))),
        "floor_price": money(unit * Decimal("1.04")),
        "contract_id": f"CTR-{rng.randint(2019, 2025)}-{rng.randint(100, 999)}",
        "variance_pct": f"{variance * 100:.1f}",
        "variance_amt": money(float(unit) * variance * b.qty),
        "invoice_no": str(rng.randint(90_000_000, 99_999_999)),
        "ded_no": f"D{rng.randint(100_000, 999_999)}",
        "ded_code": rng.choice(POOLS.deduction_codes),
        "quote_id": f"Q-{rng.randint(10_000, 99_999)}",
        "clause": f"{rng.randint(3, 12)}.{rng.randint(1, 6)}",
        "amount": f"{Decimal(at.order['order_value']):,.2f}",
        "cur": at.customer.currency,
        "exposure_s": big_amount(rng, b.exposure),
        "limit_s": big_amount(rng, b.limit),
        "over_s": big_amount(rng, b.exposure - b.limit),
        "overdue_s": big_amount(rng, b.limit * rng.uniform(0.05, 0.4)),
        "dpd": rng.choice([15, 31, 38, 45, 62, 75, 91, 120]),
        "risk_class": rng.choice(POOLS.risk_classes),
        "check_no": str(rng.randint(1000, 99999)),
        "pay_date": (at.day - timedelta(days=rng.randint(0, 6))).strftime(at.fmt),
    }


def _transport(rng: random.Random, at: Setting, b: Basis) -> Slots:
    order, fmt, day = at.order, at.fmt, at.day
    return {
        "carrier": b.carrier,
        "scac": b.scac,
        "alt_carrier": rng.choice(b.alt_carriers),
        "pro": order.get("tracking_number") or tracking_number(rng, "pro"),
        "trk": order.get("tracking_number") or tracking_number(rng, b.tracking_style),
        "load": f"L{rng.randint(1_000_000, 9_999_999)}",
        "lane": f"{at.site[-3:]}-{rng.choice(POOLS.lane_ends)}",
        "tender_id": f"T{rng.randint(100_000, 999_999)}",
        "city": rng.choice(POOLS.cities),
        "promise": b.promise.strftime(fmt),
        "req_date": date.fromisoformat(order["requested_date"]).strftime(fmt),
        "new_date": (max(b.promise, day) + timedelta(days=b.days_late)).strftime(fmt),
        "ship_date": (day + timedelta(days=rng.randint(0, 3))).strftime(fmt),
        "order_date": date.fromisoformat(order["order_date"]).strftime(fmt),
        "days_late": b.days_late,
        "hours": rng.choice([24, 36, 48, 72, 96]),
        "last_scan": (day - timedelta(days=rng.randint(2, 6))).strftime(fmt),
        "appt": f"{rng.randint(6, 16):02d}:{rng.choice(['00', '30'])}",
        "dock": f"D{rng.randint(1, 24):02d}",
        "delivery": str(rng.randint(80_000_000, 89_999_999)),
        "reason": rng.choice(POOLS.status_reasons),
        "delay_code": rng.choice(POOLS.delay_codes),
        "fail_code": rng.choice(POOLS.failure_codes),
    }


def _compliance_and_desk(rng: random.Random, at: Setting, b: Basis) -> Slots:
    return {
        "n_cartons": rng.randint(2, 60),
        "section": f"{rng.randint(2, 9)}.{rng.randint(1, 9)}",
        "viol_no": f"VC-{rng.randint(100_000, 999_999)}",
        "chargeback_amt": money(rng.choice([150, 250, 350, 500, 750]) + rng.choice([0, 0, 0.5, 25])),
        "height": rng.randint(62, 84),
        "country": rng.choice(POOLS.export_countries),
        "lot": f"L{rng.randint(24_000, 25_999)}{rng.choice('ABC')}",
        "req_carrier": rng.choice(POOLS.routing_carriers),
        "weight": rng.choice([150, 200, 500]),
        "state": rng.choice(POOLS.states),
        "shipto": f"{at.customer.customer_id}-{rng.randint(1, 40):02d}",
        "zip": f"{rng.randint(10_000, 99_999)}",
        "row": rng.randint(2, 400),
        "job": f"IF_{rng.randint(100, 999)}",
        "user": rng.choice(POOLS.users),
        "ticket": f"INC{rng.randint(1_000_000, 9_999_999)}",
        "sto": str(rng.randint(4_700_000_000, 4_709_999_999)),
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "alt_qty": 0,  # set by the shortage rules, the only label whose texts use it
        "claim_no": f"CLM-{rng.randint(10_000, 99_999)}",
        "claim_amt": money(float(b.unit) * b.qty * rng.uniform(0.1, 1.0)),
        "first": b.first,
        "last": b.last,
    }
