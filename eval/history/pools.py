"""The values drawn into the synthetic history's texts and orders, read from ``pools.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

POOLS_FILE = Path(__file__).with_name("pools.yaml")


class Item(NamedTuple):
    """A catalogue item: description, unit of measure, base unit price, UN number when it is hazmat."""

    name: str
    uom: str
    price: float
    un: str | None


class Carrier(NamedTuple):
    """A carrier: name, SCAC, and the style of its tracking numbers (``ups``, ``fedex`` or ``pro``)."""

    name: str
    scac: str
    tracking: str


@dataclass(frozen=True)
class Pools:
    """The pools in file order (the generator draws by position); see ``pools.yaml`` for what each is."""

    items: list[Item]
    sites: dict[str, list[str]]
    carriers: dict[str, list[Carrier]]
    cities: list[str]
    company_first: list[str]
    company_second: list[str]
    retailers: list[str]
    first_names: list[str]
    last_names: list[str]
    users: list[str]
    states: list[str]
    abbreviations: dict[str, str]
    sku_colours: list[str]
    po_prefixes: list[str]
    container_prefixes: list[str]
    deduction_codes: list[str]
    risk_classes: list[str]
    lane_ends: list[str]
    status_reasons: list[str]
    delay_codes: list[str]
    failure_codes: list[str]
    export_countries: list[str]
    routing_carriers: list[str]
    roads: list[str]
    road_kinds: list[str]
    un_numbers: list[str]
    erp_statuses: list[str]
    date_formats: list[str]


def load_pools(path: Path) -> Pools:
    """The pools in ``path``; a pool missing from the file or unknown to ``Pools`` is a ``TypeError``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["items"] = [Item(**row) for row in data["items"]]
    data["carriers"] = {cur: [Carrier(**row) for row in rows] for cur, rows in data["carriers"].items()}
    return Pools(**data)


POOLS = load_pools(POOLS_FILE)
