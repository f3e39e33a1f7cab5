"""Deterministic generator of synthetic historical order-exception cases.

Writes ``history.jsonl`` and ``test.jsonl`` in the contract's shipped-history format. Everything is made up:
ids, companies, people (phone numbers in the fictional 555-01xx range, e-mail domains under ``.example``),
amounts. The same seed and sizes give byte-identical files; only the standard library is used::

    python -m eval.generate_history --seed 7 --out eval/datasets/order_exceptions

The file is long because most of it is template data (wording per label and source system); the logic is the
few functions at the bottom.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

LABEL_WEIGHTS: dict[str, int] = {
    "inventory_shortage": 16,
    "shipment_delay": 15,
    "carrier_failure": 11,
    "pricing_discrepancy": 11,
    "credit_hold": 10,
    "incomplete_order_data": 10,
    "backorder_conflict": 9,
    "compliance_requirement": 9,
    "other": 9,
}
ACTIONS: dict[str, tuple[str, ...]] = {
    "inventory_shortage": (
        "check_alternate_warehouse",
        "propose_transfer",
        "split_shipment",
        "update_promise_date",
    ),
    "credit_hold": ("route_to_finance", "request_credit_release", "escalate_credit_review"),
    "pricing_discrepancy": ("compare_to_contract", "route_to_sales_ops", "issue_price_correction"),
    "shipment_delay": ("recalculate_commitment", "notify_customer", "expedite_shipment"),
    "incomplete_order_data": ("request_missing_data", "correct_master_data"),
    "backorder_conflict": ("reprioritize_allocation", "offer_substitute", "update_promise_date"),
    "carrier_failure": ("rebook_carrier", "file_carrier_claim", "notify_customer"),
    "compliance_requirement": ("apply_customer_labeling", "hold_for_compliance_docs", "route_to_compliance"),
    "other": ("manual_triage",),
}
OUTCOMES = ("resolved", "partially_resolved", "customer_cancelled", "escalated")
HISTORY_WINDOW = (date(2024, 1, 2), date(2025, 6, 30))
TEST_WINDOW = (date(2025, 7, 1), date(2025, 12, 19))

# Wording is data: one section per "@kind args" header, one entry per line. In templates «a|b» picks one
# option, «?x» keeps x half of the time and {slot} is filled from the case. Template lines read
# "source_system | exception codes ("-" for none) | text". Sections: @core (the label's usual wording),
# @confusable (a neighbouring label's vocabulary, still this label when read carefully), @ambiguous (text that
# fits both labels; the label depends on facts the classifier cannot see), @terse (near-empty notes any label
# can carry), @tail (shared phrases appended to any label), @resolution, @outcome ("-" = nothing), @message.
WORDING = """
@core inventory_shortage
erp | ATP-FAIL ALLOC-SHORT | ATP check failed for SKU {sku} at {site}: req {qty} {uom}, avail {avail}«?, short {short}»
erp | ATP-FAIL V1-154 | Availability check: material {sku} plant {site} - confirmed qty {avail} of {qty} {uom}. «Remaining {short} unconfirmed.|{short} {uom} open.»
erp | ALLOC-SHORT INV-01 | Order {order_id} line 10: insufficient on-hand for {sku} at {site}. «Required|Reqd» {qty}, on hand {avail}«?, {short} short».
erp | ALLOC-SHORT | Allocation run {run}: {sku} partially allocated on {order_id} ({avail}/{qty}). «On-hand depleted at {site}.|{site} on-hand exhausted after cycle count adj.»
erp | STOCKOUT ATP-FAIL | Stock-out: {sku} ({item}) at {site}, order {order_id} needs {qty}, ATP {avail}.
erp | - | {site} inventory for {sku} dropped to {avail} after «inventory adjustment|write-off of {dmg} damaged units|recount»; {order_id} requires {qty} {uom}.
wms | CC-VAR | Cycle count variance {loc} {sku}: system {sys_qty}, counted {counted}. Order {order_id} pick short {short} {uom}.
wms | PICK-SHORT | Pick short on wave {wave}: {sku} loc {loc} expected {qty} picked {avail}. «Bin empty.|Damaged cases found, {dmg} units set aside.|Location empty, no overflow.»
wms | PICK-SHORT WMS-EXC | Short pick - {order_id} / {sku}. «Picker reports|Found» only {avail} in {loc}, need {qty}. «Inventory adj pending.|Qty on hand wrong after recount.»
wms | DMG-QTN | Damaged stock: {dmg} {uom} of {sku} quarantined at {site} «(forklift damage)|(water damage, dock 4)|(crushed in racking)», order {order_id} now short {short}.
wms | QA-MISPICK | Mis-pick found in QA: {sku} staged for {order_id} was actually {sku2}; correct item on hand {avail} vs {qty} needed.
wms | - | Replen task failed for {sku} at {loc}: reserve location empty. {order_id} waiting, {short} {uom} short at {site}.
crm | - | CSR note: cust {cust} called about {order_id}, «{sku} showing out of stock at {site}|portal says only {avail} avail of {sku}». «They need|Need» {qty} by {req_date}.
portal | INV-WARN | Portal checkout warning: requested {qty} x {sku}, available to ship from {site}: {avail}.
edi | 855-IR | 855 ack PO {po} line 1 {sku}: IA qty {avail}, IR qty {short} (insufficient stock at {site}).
@core backorder_conflict
erp | BO-ALLOC ALLOC-SHORT | SKU {sku} backordered: {n_orders} open orders ({bo_orders}) competing for inbound PO {inbound_po} ({inbound_qty} {uom}, ETA {eta}). Allocation decision needed.
erp | BO-ALLOC | Backorder allocation conflict on {sku}: inbound {inbound_qty} vs demand {demand} across {n_orders} orders. «{order_id} is {tier} tier.|Includes {order_id}.»
erp | BO-REL | BO release run {run}: {sku} receipt of {inbound_qty} on PO {inbound_po} cannot cover all backorders; {order_id} «and {n_other} others» pending.
erp | - | Order {order_id} line on backorder for {sku}; «two|several» customers waiting on same container {container} ETA {eta}. «Who gets it first?|Pls decide priority.»
erp | ALLOC-RULE | Rule-based allocation skipped {order_id}: {sku} reserved for {other_order} (earlier req date). Inbound {inbound_qty} on {inbound_po}.
erp | BO-ALLOC | Backlog for {sku} is {demand} {uom} on {n_orders} orders, next receipt {inbound_qty} ({inbound_po}, {eta}). Need fair-share or priority rule for {order_id}.
crm | - | Sales rep asking to move {order_id} ahead of {other_order} for {sku} backorder - «strategic account|key account, quarter-end order». Inbound PO {inbound_po} ETA {eta}.
crm | - | Cust {cust} escalation: on backorder for {sku} since {order_date}, «says|claims» another customer got shipped first. Order {order_id}.
wms | XD-SHORT | Receipt {receipt} for {sku} ({inbound_qty} {uom}) at {site}: cross-dock to backorders, {n_orders} orders queued, qty insufficient for all.
portal | - | Backorder queue: {order_id} {sku} position {pos} of {n_orders} for PO {inbound_po}, customer asking to be moved up.
edi | 855-IB | 855 ack PO {po}: {sku} status IB (backordered), {n_orders} other orders ahead on inbound {inbound_po}.
@core credit_hold
erp | CR-BLK V1-CR | Order {order_id} blocked: credit limit exceeded, exposure {exposure_s} vs limit {limit_s}«? ({cur})».
erp | CR-BLK | Sales document {order_id} not released - credit check «(static)|(dynamic)» failed. Credit acct {cust}, risk class {risk_class}.
erp | DLV-BLK-01 | Delivery block 01 (credit) on {order_id}. Open items overdue {dpd} days, {overdue_s} {cur}.
erp | CR-BLK | Credit check failed: customer {cust} over limit by {over_s}. Order value {amount} {cur}.
erp | HOLD-CR | ORDER ON HOLD - CREDIT. {order_id} / {cust}. «OLDEST INVOICE {dpd} DAYS PAST DUE.|LIMIT {limit_s}, EXPOSURE {exposure_s}.»
finance | AR-PASTDUE | Credit review: {cust} account past due {overdue_s} ({dpd}+ days). Hold all new orders incl. {order_id} until payment received.
finance | AR-NSF | Collections flagged {cust}: NSF on last payment «(check {check_no})|(ACH return R01)». {order_id} on credit hold.
finance | RISK-CHG | Risk class changed to {risk_class} for {cust} after «D&B downgrade|bureau score drop»; {order_id} ({amount} {cur}) requires manual credit release.
finance | CR-BLK | Dynamic credit check: exposure incl. this order {exposure_s}, limit {limit_s}. Approver needed for {order_id}.
finance | - | Account {cust} exceeded approved line; open AR {overdue_s} {cur} beyond terms. «Stop-ship|Hold» on {order_id}.
crm | - | Cust {cust} says order {order_id} stuck - it's on credit hold. «They claim payment sent {pay_date}.|AP contact says wire went out yesterday.»
@core pricing_discrepancy
edi | 850-PRC | 850 price mismatch PO {po} line 1 {sku}: EDI unit price {po_price} vs system {unit_price} {cur}.
edi | 810-REJ | 810 rejected by customer: invoice {invoice_no} line {sku} billed {unit_price}, PO price {po_price}.«? Variance {variance_pct}%.»
edi | 850-PRC PRC-TOL | EDI 850 {po}: price tolerance exceeded ({variance_pct}%) on {sku}, order {order_id} set to price hold.
erp | PRC-COND | Pricing error on {order_id}: condition PR00 {unit_price} differs from contract {contract_id} price {contract_price} for {sku}.
erp | PRC-FLOOR | Price below floor: {sku} on {order_id} priced {po_price}, min {floor_price}.«? Margin check failed.»
erp | PRC-OVR | Manual price override on {order_id} by {user} ({unit_price} -> {po_price}) needs approval.
finance | DED-PRC | Customer short-paid invoice {invoice_no} by {variance_amt} {cur} citing contract price for {sku} ({contract_price} vs billed {unit_price}).
finance | DED-PRC | Deduction {ded_no} on remittance: price discrepancy, {variance_amt} {cur}, ref order {order_id}.
crm | - | Buyer at {cust} says we invoiced {sku} at {unit_price} but their contract ({contract_id}) says {contract_price}. Order {order_id}.
crm | - | CSR: promo price {po_price} not applied on {order_id}, cust quoting {quote_id}.
portal | PRC-MISM | Portal cart price {po_price} does not match order confirmation price {unit_price} for {sku} on {order_id}.
@core shipment_delay
tms | 214-EXC ETA-LATE | 214 status {delay_code} - shipment PRO {pro} ({carrier}) delayed at {city} terminal, new ETA {new_date} (promised {promise}).
tms | ETA-LATE | Load {load} running {days_late}d late - «weather|driver hours|terminal backlog|linehaul delay» in {city}. Still in transit, ETA {new_date}.
tms | PU-LATE | Late pickup: {carrier} arrived «3h|6h|next morning» late at {site}, {order_id} will deliver {new_date} vs promise {promise}.
tms | ETA-LATE 214-EXC | ETA slipped for PRO {pro}: {promise} -> {new_date}. Reason: «linehaul delay|missed connection at hub|capacity|weather».«? In transit.»
wms | DOCK-CONG | Dock congestion at {site}: {order_id} staged but not loaded, «next slot|trailer» {ship_date}. Will miss promise {promise}.
wms | WAVE-LATE | Wave {wave} released late - {order_id} won't ship today, «short staffed second shift|conveyor down 2h|system outage». Promise {promise}.
erp | PROD-DLY | Production order for {sku} delayed (line down), {order_id} ship date moved to {ship_date}; promised {promise}.
erp | DLV-LATE | Delivery {delivery} for {order_id} past planned GI date {ship_date}, not yet shipped.
edi | 214-AG | 214 AG for PO {po}: estimated delivery {new_date}, original {promise}. Status reason {reason}.
crm | - | Cust {cust} asking where {order_id} is - tracking {trk} shows in transit, was due {promise}.
tms | - | Transit exception on {trk}: «weather delay in {city}|held at hub {city}, volume» - delivery expected {new_date} instead of {promise}.
@core carrier_failure
tms | TND-REJ | Tender rejected by {carrier} for load {load} ({order_id}). «No capacity on lane {lane}.|Reason: equipment unavailable.»
tms | PU-MISS | Missed pickup: {carrier} no-show at {site} dock {dock} for {order_id}, appointment {appt}.
tms | FRT-LOST 214-EXC | Freight lost: PRO {pro} last scanned {city} {last_scan}, carrier cannot locate after {hours}h trace.
tms | OSD | OS&D report: {n_cartons} cartons damaged on PRO {pro}, {cust_name} refused «partial|full» delivery.
tms | 214-EXC | 214 {fail_code} for PRO {pro}: «A3 returned to shipper|AP delivery not completed, refused damaged|A7 refused by consignee, damaged».
edi | 990-DEC | EDI 990 decline from {scac} for load {load}, tender {tender_id}.«? No alternate carrier assigned.»
edi | 214-EXC | 214 exception for {trk}: status 'A7 refused by consignee' reason 'AH damaged'. Order {order_id}.
wms | - | Driver for {carrier} refused load at {site} - trailer «not clean|no load bars|wrong equipment (dry van vs reefer)»; {order_id} still on dock.
crm | - | Cust {cust} received {order_id} with crushed pallet«?, photos attached». Tracking {trk}.
crm | - | Customer says {carrier} marked {trk} delivered but nothing received - lost? Order {order_id}.
tms | TND-REJ | {scac} rejected tender {tender_id} after acceptance, {order_id} uncovered for pickup {ship_date}.
@core incomplete_order_data
edi | 850-ERR | 850 rejected: PO {po} missing ship-to «(N1*ST)|address» segment. Customer {cust}.
edi | 850-ERR UOM-ERR | EDI 850 from {cust}: UOM «'CS'|'BX'|'PL'» not defined for {sku}, line held.
edi | - | 855 not sent: order {order_id} missing «buyer part number|requested delivery date».
erp | INC-LOG | Order {order_id} incomplete: «tax exemption certificate|tax id|VAT number» missing for ship-to in «{state}|{country}».
erp | INC-LOG | Incompletion log {order_id}: «PO number|Ship-to party|Unit of measure|Payment terms» missing.
erp | MD-MISSING | Customer master {cust}: ship-to {shipto} has no «postal code|delivery address|dock hours», delivery cannot be created.
portal | - | Web order {order_id} submitted without PO number; cust account requires PO «per AP policy|on all orders».
portal | ADDR-VAL | Portal order {order_id}: ship-to address failed validation «(zip {zip} doesn't match city)|(no street number)».
crm | - | Email order from {cust}, no PO#, qty for {sku} unclear («'a few cases'|'same as last time'»). Order {order_id} parked.
crm | - | CSR: {order_id} phone order missing contact/phone for delivery appt, carrier requires it.
other | IMP-ERR | Import job {job}: order {order_id} row {row} missing required field «ship_to_id|uom|sku».
@core compliance_requirement
edi | 856-ERR | 856 ASN rejected by {retailer}: SSCC-18 label data missing for {n_cartons} cartons on PO {po}. «Routing guide sec {section}.|Per vendor compliance manual.»
edi | ASN-LATE | ASN not sent within «1 hour|2 hours|24h» of ship for PO {po}; {retailer} compliance violation {viol_no}.
edi | 856-ERR | 856 failed validation: HL pack level required by {retailer} routing guide, PO {po}.
wms | LBL-NC | Labels: {retailer} requires GS1-128 carton labels «+ retail price tickets|with store #», order {order_id} staged without. Hold at {dock}.
wms | HAZ | Hazmat: {sku} (UN{un}) on {order_id} needs SDS and DG declaration before {carrier} will accept.
wms | PLT-NC | Pallet config non-compliant for {retailer} DC: max height 60in, built {height}in. Order {order_id}.
erp | EXP-CTL | Export control: {order_id} ship-to {country} requires «EEI filing|ECCN review» for {sku}.
erp | QA-HOLD | «Certificate of conformance|COA|RoHS certificate» required for {sku} per customer spec, missing for lot {lot}. Order {order_id} on QA hold.
finance | CHBK | Compliance chargeback {viol_no}: {retailer} fined {chargeback_amt} {cur} for late ASN on PO {po}«? (vendor compliance program)».
finance | CHBK | Chargeback {ded_no} {chargeback_amt} {cur}: non-compliant labels per {retailer} routing guide, invoice {invoice_no}.
crm | - | Cust {cust} compliance team: «all shipments must carry|missing» Prop 65 warning on {sku} packaging; order {order_id}.
crm | RTG-GUIDE | Routing guide: {retailer} requires {req_carrier} for LTL over {weight} lb; {order_id} booked with {carrier}.
@core other
crm | - | Cust {cust} requests change of delivery address on {order_id} to «their new warehouse|their {city} branch». Order not yet released.
crm | DUP-CHK | Possible duplicate: {order_id} and {other_order} identical «(same PO {po})|(lines and qty match)» from {cust}.
crm | - | General inquiry from {cust}: «copy of invoice {invoice_no} requested|asking about holiday shipping schedule|needs updated W-9 for vendor setup».
crm | - | Customer asks to cancel line 20 of {order_id}; not shipped yet.«? No reason given.»
portal | PRT-500 | Portal error 500 on order submit; {order_id} may have been created twice.
portal | - | Portal user at {cust} cannot see order history incl. {order_id}; «login works|password reset done», list empty.
erp | IF-FAIL | Interface job {job} failed at {time}; {order_id} status not updated in «WMS|TMS|CRM». Retrigger?
erp | - | Order {order_id} stuck in status 'in process' after system upgrade; no errors in log.
edi | 997-MISS | 997 not received from {cust} for 810 {invoice_no}; duplicate transmission suspected.
other | - | Sales rep asks to flag {order_id} as sample shipment, no charge to {cust}.
other | - | Misc request {ticket}: {cust} wants order confirmations for {order_id} sent to a different mailbox.
crm | - | Cust {cust} asking for statement of account and copy of POD for {order_id}.
@confusable inventory_shortage
wms | CC-VAR ALLOC-SHORT | {sku} short at {site} after recount (sys {sys_qty} / cnt {counted}). Next inbound PO {inbound_po} ETA {eta}, but order {order_id} needs {qty} now.
erp | BO-ALLOC | Order {order_id}: {sku} set to backorder status by system, on-hand {avail} vs {qty} at {site}; no other orders waiting.
erp | ATP-FAIL | Backordered line on {order_id}: {sku} ATP at {site} {avail} after damaged stock write-off, «only order affected|single order impacted».
@confusable backorder_conflict
erp | ATP-FAIL ALLOC-SHORT | ATP check failed for SKU {sku} at {site}: req {qty} {uom}, avail 0. «Open backorders: {n_orders}.|{n_orders} orders waiting on {inbound_po}.»
erp | ALLOC-SHORT | Insufficient stock for {sku}: {qty} needed on {order_id}; inbound {inbound_qty} already pegged to {other_order}.
wms | - | No stock of {sku} in {loc}; the receipt due {eta} is split between {order_id} and {other_order}, not enough for both.
@confusable credit_hold
finance | DED-PRC | Order {order_id} held: unapplied deductions and short-pays of {overdue_s} pushed {cust} exposure over limit {limit_s}.
crm | - | Cust {cust} disputes invoice pricing and withheld payment; account now past due {dpd} days, {order_id} on credit hold.
@confusable pricing_discrepancy
finance | DED-VC | Contract clause {clause} price protection: customer claims {variance_amt} {cur} credit on {sku} after list price increase; ref {order_id}.
finance | CHBK | Deduction {ded_no} {variance_amt} {cur} on {invoice_no} - reason code «PD|PR» (price difference) per «vendor agreement|trading partner terms».
edi | 810-REJ | 810 rejected by {retailer} compliance check: unit price {unit_price} on invoice {invoice_no} differs from PO price {po_price}.
@confusable compliance_requirement
finance | DED-VC | Deduction {ded_no} {chargeback_amt} {cur} on invoice {invoice_no}: vendor compliance fine, «carton labels unreadable|ASN mismatch to receipt» per {retailer} terms.
edi | 856-ERR | ASN for PO {po} missing carton-level detail «(no SSCC)|(MAN segment blank)»; {retailer} will refuse receipt.
@confusable incomplete_order_data
crm | - | Cust wants {order_id} shipped to a location not in master data; ship-to must be set up before release.
edi | 850-ERR | 856 prep blocked for {order_id}: customer PO {po} has no store/DC number, cannot build labels.
@confusable shipment_delay
tms | PU-LATE | {carrier} pickup pushed to tomorrow for {order_id} «(carrier capacity)|(driver ran out of hours)»; freight still at {site}, promise {promise} at risk.
tms | 214-EXC | 214 SD reason AI (mechanical breakdown) for PRO {pro}; carrier swapped tractor, moving again, ETA {new_date}.
@confusable carrier_failure
tms | ETA-LATE | {order_id} will be late: {carrier} missed pickup yesterday and has no truck until {new_date}.
tms | 214-EXC | 214 SD for PRO {pro}: «trailer involved in accident|carrier ceased operations», freight must be recovered and reshipped.
@confusable other
crm | - | Cust {cust} asking whether {order_id} can ship to a different dock door at the same address; no other change.
finance | - | Customer {cust} asks for a copy of the credit application and W-9; no order blocked ({order_id} for reference).
@ambiguous inventory_shortage backorder_conflict
erp | ALLOC-SHORT EXC-GEN | Not enough {sku} at {site} for {order_id} (req {qty}, avail {avail}). «Supply team looking at it.|Need decision.»
erp | ALLOC-SHORT | Allocation short {sku} {site} {order_id} {avail}/{qty}
erp | - | {order_id}: {sku} can't be fully allocated, {short} {uom} open. «Next receipt {eta}.|PO {inbound_po} due {eta}.»
wms | - | Stock issue on {sku} ({site}) affecting {order_id}; «several lines|{short} units» unconfirmed.
crm | - | CSR: cust {cust} asking why {sku} on {order_id} is not allocated; system shows {avail} avail.
@ambiguous shipment_delay carrier_failure
tms | 214-EXC EXC-GEN | No tracking updates for PRO {pro} in {hours}h. «Last scan {city}.|Carrier not answering.»
crm | - | {carrier} shipment for {order_id} did not arrive {promise}; «checking with carrier|carrier investigating».
tms | 214-EXC | 214 exception on PRO {pro}, status reason {reason}; {order_id} will not make {promise}.
tms | - | Pickup issue at {site} with {carrier} for {order_id}; freight not moving today.
crm | - | Cust {cust} says delivery of {order_id} didn't happen, tracking {trk} shows exception.
@ambiguous pricing_discrepancy compliance_requirement
finance | DED EXC-GEN | Deduction taken on remittance for {order_id}: {variance_amt} {cur}, customer reason code {ded_code}. Backup requested.
finance | - | Cust {cust} chargeback {ded_no} {variance_amt} {cur} against invoice {invoice_no}, «see portal|no detail provided».
finance | DED | Short payment {variance_amt} {cur} on invoice {invoice_no} ({retailer}); deduction per trading partner agreement, reason unclear.
finance | - | {retailer} debit memo {ded_no} for {order_id}, {variance_amt} {cur}. Need to validate against agreement.
@ambiguous incomplete_order_data compliance_requirement
edi | 856-ERR EXC-GEN | 856 for PO {po} failed: required element missing «(REF*BM)|(TD5 carrier SCAC)|(N1*ST DUNS)». Order {order_id}.
edi | - | Missing ASN data for PO {po}: «carton count|BOL number|pallet ids» not provided.
edi | 856-ERR | EDI 856 not generated for {order_id}: «store number|mark-for location|DC code» not on order.
erp | - | Customer requires «GTIN|UPC» on every line; {sku} has none in item master, {order_id} held.
@ambiguous incomplete_order_data other
crm | - | Ship-to for {order_id} needs updating, «cust moved|new dock address». «Pls fix before release.|See email.»
crm | - | Cust {cust} sent new delivery address for {order_id} by email; not yet in system.
crm | - | Order {order_id}: buyer contact changed, new details to be entered before confirmation.
@ambiguous credit_hold pricing_discrepancy
finance | - | {cust} withholding payment on invoice {invoice_no} over price dispute; {order_id} held by AR.
finance | DED EXC-GEN | Invoice dispute {invoice_no} ({variance_amt} {cur}) open for {cust}; new order {order_id} not released.
@ambiguous inventory_shortage shipment_delay
erp | - | {order_id} will miss {promise}: {sku} not yet available at {site}.
wms | - | Ship date for {order_id} pushed to {ship_date} - waiting on {sku} at {site}.
@ambiguous backorder_conflict shipment_delay
erp | - | {order_id} waiting on inbound {inbound_po} for {sku} (ETA {eta}); promise {promise} will be missed.
crm | - | Cust {cust} chasing {order_id}: promised {promise}, now told {new_date} because of {sku} supply.
@terse
other | EXC-GEN | Exception on {order_id} - see notes.
erp | EXC-GEN | Order {order_id} on hold. «Pls review.|Review needed.»
crm | - | {cust} called re {order_id}, needs callback.
crm | - | Issue with {order_id} ({sku}), details in ticket {ticket}.
other | - | Workflow task: review {order_id} for {cust}.
portal | - | Customer message received on {order_id}, «see attachment|see thread».
@tail
Promise {promise} at risk.
Cust asking for update.
Cust is {tier} tier.
Order value {amount} {cur}.
Pls advise next steps.
Ref PO {po}.
Site {site}.
Related ticket {ticket}.
Need answer today.
@resolution inventory_shortage check_alternate_warehouse
Checked {alt_site} for {sku}: {alt_qty} {uom} on hand; sourced the {short} short units from {alt_site} for {order_id}.
Searched network stock for {sku}; {alt_site} had {alt_qty} {uom}, reserved {short} for {order_id} and shipped from there.
@resolution inventory_shortage check_alternate_warehouse:none
Checked {alt_site} and other DCs for {sku}: only {alt_qty} {uom}, not enough to cover {short} on {order_id}.
No usable stock of {sku} outside {site} ({alt_site}: {alt_qty}); {order_id} left waiting for replenishment.
@resolution inventory_shortage propose_transfer
Proposed STO {sto} moving {short} {uom} of {sku} from {alt_site} to {site} for {order_id}; new ship date {new_date}.
Transfer of {short} {uom} {sku} {alt_site} -> {site} raised (STO {sto}) to cover {order_id}.
@resolution inventory_shortage split_shipment
Split {order_id}: shipped {avail} {uom} of {sku} from {site} now, balance of {short} to follow on {new_date}.
Customer accepted partial: {avail} of {qty} {sku} shipped from {site}, {short} {uom} on a second delivery.
@resolution inventory_shortage update_promise_date
Moved promise date on {order_id} from {promise} to {new_date} pending replenishment of {sku} at {site}.
No stock of {sku} in network; re-promised {order_id} for {new_date} (was {promise}) against next receipt.
@resolution backorder_conflict reprioritize_allocation
Reallocated inbound PO {inbound_po} ({inbound_qty} {uom} {sku}) to put {order_id} ({tier} tier) ahead of {other_order}.
Allocation override: {order_id} gets {qty} of the {inbound_qty} {uom} on {inbound_po}; {other_order} moved to next receipt.
@resolution backorder_conflict offer_substitute
Offered substitute {sub_sku} for {sku} on {order_id} instead of waiting for PO {inbound_po}.
Proposed equivalent item {sub_sku} (in stock at {site}) to replace backordered {sku} on {order_id}.
@resolution backorder_conflict update_promise_date
Kept allocation sequence; re-promised {order_id} to {new_date} based on PO {inbound_po} ETA {eta}.
Updated promise on {order_id} to {new_date}; {other_order} keeps priority on {inbound_po}.
@resolution credit_hold route_to_finance
Routed {order_id} ({amount} {cur}) to credit desk for review of {cust} exposure {exposure_s} vs limit {limit_s}.
Sent to finance: {cust} past due {overdue_s}; order {order_id} held pending payment.
@resolution credit_hold request_credit_release
Requested one-time credit release for {order_id} ({amount} {cur}); {cust} over limit by {over_s}.
Credit release requested for {order_id} after {cust} confirmed payment of {overdue_s} on {pay_date}.
@resolution credit_hold escalate_credit_review
Escalated {cust} to credit manager: {dpd} days past due, risk class {risk_class}; {order_id} stays blocked.
Credit review escalated for {cust} (exposure {exposure_s}, limit {limit_s}); {order_id} held for decision.
@resolution pricing_discrepancy compare_to_contract
Compared {sku} price on {order_id} with contract {contract_id}: contract {contract_price}, ordered {unit_price}.
Checked contract {contract_id} for {sku}; price {contract_price} applies, difference {variance_amt} {cur} on {order_id}.
@resolution pricing_discrepancy route_to_sales_ops
Routed {order_id} to sales ops for pricing decision on {sku} ({po_price} vs {unit_price}).
Sales ops reviewing quote {quote_id} vs order price for {sku} on {order_id}.
@resolution pricing_discrepancy issue_price_correction
Issued price correction on {order_id}: {sku} set to {contract_price}, credit memo {variance_amt} {cur}.
Corrected {sku} unit price to {contract_price} on invoice {invoice_no}; rebilled.
@resolution shipment_delay recalculate_commitment
Recalculated commitment for {order_id}: new delivery {new_date} (was {promise}) after {days_late}-day slip.
Re-ran ATP/transit for {order_id}; committed date moved to {new_date}.
@resolution shipment_delay notify_customer
Notified {cust} that {order_id} will arrive {new_date} instead of {promise}.
Sent delay notice for {order_id} with tracking {trk} and new ETA {new_date}.
@resolution shipment_delay expedite_shipment
Expedited {order_id}: upgraded to «next-day air|team service» with {carrier}, delivered {new_date}.
Paid expedite for {order_id} from {site} to hold promise {promise}.
@resolution incomplete_order_data request_missing_data
Requested missing {missing_what} from {cust} for {order_id}.
Emailed buyer at {cust} for the {missing_what} on {order_id}; order parked until received.
@resolution incomplete_order_data correct_master_data
Corrected master data ({missing_what}) for {cust} and reprocessed {order_id}.
Master data fixed for {cust}/{sku}; {order_id} released from incompletion log.
@resolution carrier_failure rebook_carrier
Rebooked {order_id} with {alt_carrier}; pickup {ship_date}, new ETA {new_date}.
Retendered load {load} to {alt_carrier} after {carrier} failure; {order_id} picked up {ship_date}.
@resolution carrier_failure file_carrier_claim
Filed claim {claim_no} with {carrier} for PRO {pro} ({claim_amt} {cur}); replacement shipped for {order_id}.
Carrier claim {claim_no} opened against {carrier} for {order_id}, value {claim_amt} {cur}.
@resolution carrier_failure notify_customer
Informed {cust} about {carrier} failure on {order_id}; new ETA {new_date}.
Customer notified of carrier issue on {trk}; reshipment planned {ship_date}.
@resolution compliance_requirement apply_customer_labeling
Relabelled {n_cartons} cartons on {order_id} to {retailer} GS1-128 spec at {site} before ship.
Applied customer labelling (SSCC-18 + store #) on {order_id}; ASN resent for PO {po}.
@resolution compliance_requirement hold_for_compliance_docs
Held {order_id} until the {docs} were on file; released after review.
Order {order_id} on compliance hold pending {docs} for {sku}; received and cleared.
@resolution compliance_requirement route_to_compliance
Routed {viol_no} ({retailer}) to vendor compliance team for dispute/root cause on PO {po}.
Compliance team reviewed {retailer} routing guide issue on {order_id}; process fix logged.
@resolution other manual_triage
Manual triage: handled request on {order_id} for {cust} «and closed|and updated the order|with IT ticket {ticket}».
Reviewed by triage desk; {order_id} «updated as requested|confirmed no duplicate|interface retriggered».
CS desk took it: {cust} request on {order_id} done, ref {ticket}.
@outcome resolved
-
-
Customer confirmed on {resolved_date}.
Closed {resolved_date}.
No further action.
@outcome partially_resolved
Only part of the issue fixed; follow-up {ticket} open.
Partially resolved; remainder of {order_id} still open.
Customer accepted the partial fix; remainder open.
@outcome customer_cancelled
Customer cancelled {order_id} before completion.
{cust} cancelled the affected line instead of waiting.
@outcome escalated
Escalated to «team lead|ops manager|account manager» after SLA breach.
Customer escalated; handed to «regional manager|key account team» ({ticket}).
@message inventory_shortage
Hi, we got a notice that {sku} is short on our PO {po}. We need all {qty} by {req_date} - can you ship what you have and the rest later?
Your portal says {sku} is unavailable. This is holding up our job site. Please call me.
@message backorder_conflict
We have been waiting on {sku} for weeks. I heard other customers are getting stock first. Why is PO {po} not shipped?
Please confirm when {sku} will ship on PO {po}. We were promised {promise}.
@message credit_hold
Our order {po} shows on hold. We paid invoice {invoice_no} last week, please release it today.
Why is our account on hold? AP sent the payment on {pay_date}. Need this order out.
@message pricing_discrepancy
The price on your invoice {invoice_no} for {sku} is {unit_price}, our agreement says {contract_price}. Please correct.
We were quoted {po_price} for {sku} but the confirmation shows {unit_price}. Which one is right?
@message shipment_delay
Where is PO {po}? It was supposed to be here {promise}. Tracking hasn't moved.
Our crew is waiting on this delivery. Can you give me a real ETA for PO {po}?
@message carrier_failure
The pallet for PO {po} arrived crushed, we refused it. Photos attached. What now?
Tracking says delivered but we never got it. PO {po}.
@message incomplete_order_data
Sorry, forgot the PO number on the order. Will send it over. Ship to our main dock as usual.
Can you tell us what's missing on PO {po}? Your system kicked it back.
@message compliance_requirement
Reminder: all cartons must carry GS1-128 labels per our routing guide. PO {po} will be refused otherwise.
We need the SDS and certificate for {sku} before we can receive PO {po}.
@message other
Please change the delivery address for PO {po} to our new warehouse at {street}, {city}.
I think we placed PO {po} twice by mistake, can you check and cancel the duplicate?
Can you send me a copy of the invoice and the POD for PO {po}? Thanks.
"""

Tpl = tuple[str, str, str]


def _sections(block: str) -> dict[tuple[str, ...], list[str]]:
    sections: dict[tuple[str, ...], list[str]] = {}
    current: list[str] = []
    for line in block.strip().splitlines():
        if line.startswith("@"):
            current = sections.setdefault(tuple(line[1:].split()), [])
        else:
            current.append("" if line == "-" else line)
    return sections


def _templates(lines: list[str]) -> list[Tpl]:
    return [(parts[0], parts[1], parts[2]) for parts in (line.split(" | ", 2) for line in lines)]


_SECTIONS = _sections(WORDING)
CORE = {key[1]: _templates(v) for key, v in _SECTIONS.items() if key[0] == "core"}
CONFUSABLE = {key[1]: _templates(v) for key, v in _SECTIONS.items() if key[0] == "confusable"}
AMBIGUOUS = {(key[1], key[2]): _templates(v) for key, v in _SECTIONS.items() if key[0] == "ambiguous"}
TERSE = _templates(_SECTIONS[("terse",)])
TAILS = [" " + line for line in _SECTIONS[("tail",)]]
RESOLUTIONS: dict[str, dict[str, list[str]]] = {}
for _key, _lines in _SECTIONS.items():
    if _key[0] == "resolution":
        RESOLUTIONS.setdefault(_key[1], {})[_key[2]] = _lines
OUTCOME_TEXT = {key[1]: v for key, v in _SECTIONS.items() if key[0] == "outcome"}
CUSTOMER_MESSAGES = {key[1]: v for key, v in _SECTIONS.items() if key[0] == "message"}

# --- Slot fillers (all fictional).
ITEMS: list[tuple[str, str, float, str | None]] = [
    ("Nitrile exam gloves L 100/bx", "BX", 7.9, None),
    ("Stretch film 18in x 1500ft", "RL", 21.5, None),
    ("Hex bolt 1/2-13 x 2 ZP", "EA", 0.38, None),
    ("Safety glasses clear AF", "EA", 3.2, None),
    ("Cable tie 8in black 1000/pk", "PK", 18.4, None),
    ("Corrugated box 12x12x12", "EA", 1.15, None),
    ("Shop towel roll blue", "CS", 42.0, None),
    ("Hand sanitizer 1L", "EA", 6.75, "1170"),
    ("Disinfectant wipes 160ct", "CS", 38.9, None),
    ("Packing tape 2in clear", "CS", 56.0, None),
    ("Hi-vis vest class 2 XL", "EA", 9.4, None),
    ("LED shop light 4ft", "EA", 34.0, None),
    ("Ear plugs corded 100pr", "BX", 29.5, None),
    ("Trash liner 40-45gal", "CS", 31.2, None),
    ("Floor cleaner concentrate 5gal", "EA", 64.0, "1760"),
    ("Copy paper 8.5x11", "CS", 44.5, None),
    ("Cut-resistant gloves A4 M", "PR", 8.1, None),
    ("Anchor bolt 5/8x6", "EA", 1.9, None),
    ("Lithium battery AA 24pk", "PK", 27.0, "3090"),
    ("Pallet 48x40 GMA", "EA", 14.0, None),
    ("Spill kit 20gal", "EA", 129.0, None),
    ("Isopropyl alcohol 99% 1gal", "EA", 23.5, "1219"),
    ("Respirator N95 20/bx", "BX", 24.0, None),
    ("Extension cord 50ft 12/3", "EA", 46.0, None),
    ("Thermal label 4x6 roll", "RL", 12.6, None),
    ("Aerosol lubricant 11oz", "EA", 7.3, "1950"),
]
SITES: dict[str, list[str]] = {
    "USD": ["DC-ATL", "DC-RNO", "DC-DFW", "DC-CHI", "DC-NJ", "WH-03", "WH-07", "DC-PHX"],
    "CAD": ["DC-TOR", "WH-11"],
    "EUR": ["DC-RTM"],
}
CARRIERS: dict[str, list[tuple[str, str, str]]] = {  # name, SCAC, tracking style
    "USD": [
        ("UPS", "UPSN", "ups"),
        ("FedEx Ground", "FDEG", "fedex"),
        ("XPO Logistics", "CNWY", "pro"),
        ("Old Dominion", "ODFL", "pro"),
        ("Estes Express", "EXLA", "pro"),
        ("Saia", "SAIA", "pro"),
        ("R+L Carriers", "RLCA", "pro"),
        ("J.B. Hunt", "HJBT", "pro"),
        ("Schneider", "SNDR", "pro"),
    ],
    "CAD": [("Purolator", "PURO", "pro"), ("Day & Ross", "DAYR", "pro")],
    "EUR": [("DHL Freight", "DHLF", "pro"), ("DSV Road", "DSVA", "pro")],
}
CITIES = [
    "Memphis",
    "Indianapolis",
    "Columbus",
    "Dallas",
    "Kansas City",
    "Harrisburg",
    "Reno",
    "Atlanta",
    "Chicago Heights",
    "Laredo",
    "Louisville",
    "Salt Lake City",
    "Toronto",
    "Rotterdam",
]
COMPANY_A = [
    "Harbor",
    "Summit",
    "Pinecrest",
    "Bluewater",
    "Ironwood",
    "Redline",
    "Keystone",
    "Cascade",
    "Prairie",
    "Tri-County",
    "Granite",
    "Lakeshore",
    "Copperfield",
    "Silverleaf",
    "Northfork",
    "Eastgate",
]
COMPANY_B = [
    "Industrial Supply",
    "Fastener Co",
    "Janitorial",
    "Building Products",
    "Medical Supply",
    "Foodservice",
    "Electrical",
    "Facility Services",
    "Packaging",
    "Safety Products",
]
RETAILERS = [
    "Northgate Retail Group",
    "Valuemark Stores",
    "Crestline Home Centers",
    "Fairway Grocers",
    "BlueRiver Pharmacy",
    "TriState Hardware Co-op",
]
FIRST = [
    "Maria",
    "James",
    "Priya",
    "Tom",
    "Aisha",
    "Kevin",
    "Lena",
    "Marco",
    "Dana",
    "Chris",
    "Yuki",
    "Omar",
    "Sofia",
    "Brett",
    "Nadia",
    "Luis",
    "Hannah",
    "Raj",
    "Erin",
    "Felix",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Brennan",
    "Castillo",
    "Nguyen",
    "Hartmann",
    "Delacroix",
    "Petrov",
    "Sandoval",
    "Whitaker",
    "Kowalski",
    "Abernathy",
    "Ferreira",
    "Moreau",
    "Tanaka",
    "Rasmussen",
]
USERS = ["JDOE", "MKIM", "RPATEL", "SLOPEZ", "TNGUYEN", "AWEBER", "BCHEN", "batch_user", "KOBRIEN"]
STATES = ["TX", "CA", "NY", "IL", "WA", "FL", "ON", "QC"]
TIERS = ("strategic", "key", "standard", "basic")
ABBREVIATIONS = {
    "quantity": "qty",
    "available": "avail",
    "warehouse": "whse",
    "customer": "cust",
    "please": "pls",
    "shipment": "shpmt",
    "required": "reqd",
    "received": "rcvd",
    "with": "w/",
    "order": "ord",
    "because": "b/c",
    "inventory": "inv",
}
# The facts in ``context`` follow what the description says (first matching pattern wins).
DELAY_CAUSES = [
    ("weather", "weather"),
    ("late_pickup", "pickup"),
    ("production", "production"),
    ("warehouse", "dock|wave|staff|conveyor|outage|gi date"),
    ("mechanical", "mechanical"),
]
MISSING_FIELDS = [
    ("tax_id", "tax|vat"),
    ("uom", "uom|unit of measure"),
    ("postal_code", "postal|zip"),
    ("po_number", "po number|no po|po#|without po"),
    ("delivery_contact", "contact|phone"),
    ("ship_to", "ship-to|ship_to|address|location|store|dock"),
    ("quantity", "qty|quantity"),
    ("buyer_part_number", "part number"),
    ("requested_date", "delivery date"),
]
CARRIER_FAILURES = [
    ("lost", "lost|cannot locate|nothing received|no tracking|did not arrive|ceased"),
    ("damaged", "damag|crushed|os&d|refused|accident"),
    ("tender_rejected", "tender|990"),
    ("missed_pickup", "pickup|no-show"),
    ("equipment", "trailer|equipment"),
]
COMPLIANCE_KINDS = [
    ("chargeback", "chargeback|fine|deduction|violation"),
    ("hazmat", "hazmat|sds"),
    ("certificate", "certificate|coa|rohs|conformance"),
    ("export", "export|eei|eccn"),
    ("pallet", "pallet config|height"),
    ("labeling", "label|sscc|gs1|prop 65"),
    ("routing_guide", "routing guide"),
    ("asn", "asn|856"),
]
OTHER_REQUESTS = [
    ("duplicate_order", "duplicate|twice"),
    ("cancel_line", "cancel"),
    ("address_change", "address|dock door|ship-to|mailbox"),
    ("system_issue", "error|interface|stuck|cannot see"),
]
OPTION_RE = re.compile(r"«([^«»]*)»")
WORD_RE = re.compile(r"\b[a-z]{5,}\b")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    tier: str
    currency: str
    channel: str
    retail: bool


def _kind(text: str, patterns: Sequence[tuple[str, str]], default: str) -> str:
    return next((kind for kind, pattern in patterns if re.search(pattern, text)), default)


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _money(value: float | Decimal) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _big(rng: random.Random, value: float) -> str:
    style = rng.random()
    if style < 0.35 and value >= 1_000_000:
        return f"{value / 1e6:.1f}M"
    if style < 0.5 and value >= 10_000:
        return f"{value / 1e3:.0f}K"
    if style < 0.8:
        return f"{value:,.2f}"
    return f"{value:.2f}"


def _date_fmt(rng: random.Random) -> str:
    return rng.choice(["%Y-%m-%d", "%Y-%m-%d", "%m/%d", "%m/%d/%Y", "%d-%b", "%b %d"])


def _tracking(rng: random.Random, style: str) -> str:
    if style == "ups":
        body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTVWXY") for _ in range(6))
        return f"1Z{body}{rng.randint(10, 99)}{rng.randint(10_000_000, 99_999_999)}"
    if style == "fedex":
        return str(rng.randint(10**11, 10**12 - 1))
    return str(rng.randint(10**8, 10**10 - 1))


def _customers(rng: random.Random, n: int = 420) -> list[Customer]:
    result = []
    ids = rng.sample(range(10_000, 39_999), n)
    for i, num in enumerate(ids):
        retail = i % 9 == 0
        name = rng.choice(RETAILERS) if retail else f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        currency = _pick(rng, {"USD": 85, "CAD": 10, "EUR": 5})
        tier = _pick(rng, {"strategic": 8, "key": 20, "standard": 52, "basic": 20})
        channel = _pick(rng, {"edi": 35, "portal": 22, "email": 18, "phone": 8, "sales_rep": 10, "api": 7})
        result.append(Customer(f"C-{num}", name, tier, currency, channel, retail))
    return result


def _skus(rng: random.Random, n: int = 260) -> list[tuple[str, int]]:
    seen: set[str] = set()
    result: list[tuple[str, int]] = []
    while len(result) < n:
        style = rng.randrange(4)
        if style == 0:
            colour = rng.choice(["BLK", "WHT", "RED", "CLR", "BLU"])
            sku = f"{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-{colour}"
        elif style == 1:
            sku = f"HX-{rng.randint(10_000, 99_999)}"
        elif style == 2:
            sku = f"{rng.randint(1_000_000, 9_999_999)}-{rng.randint(1, 12):02d}"
        else:
            sku = f"PLT-{rng.randint(1000, 9999)}-{rng.choice('ABCDE')}"
        if sku not in seen:
            seen.add(sku)
            result.append((sku, rng.randrange(len(ITEMS))))
    return result


def _po_number(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.6:
        return str(rng.randint(100_000, 99_999_999))
    if style < 0.85:
        return f"{rng.choice(['NG', 'VM', 'B2B', 'CH'])}-{rng.randint(10_000, 999_999)}"
    return f"P{rng.randint(1_000_000, 9_999_999)}"


def _order_id(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return f"SO-{rng.randint(7_000_000, 7_999_999)}"
    return str(rng.randint(4_500_000_000, 4_509_999_999))


class CaseFactory:
    """Builds one case at a time from a seeded ``random.Random``; holds the fixed customer and SKU pools."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.customers = _customers(rng)
        self.skus = _skus(rng)

    def case(self, label: str, day: date) -> dict[str, Any]:
        rng = self.rng
        cust = self._customer_for(label)
        site = rng.choice(SITES[cust.currency])
        fmt = _date_fmt(rng)
        lead = rng.randint(0, 4) if label not in ("shipment_delay", "carrier_failure") else rng.randint(2, 12)
        order_date = day - timedelta(days=lead)
        requested = order_date + timedelta(days=rng.randint(3, 21))
        promised = requested + timedelta(days=rng.choice([0, 0, 0, 1, 2, 3]))
        order, line = self._order(cust, site, order_date, requested, promised, label)
        slots = self._slots(cust, site, order, line, fmt, day)
        text, source, code = self._describe(label, slots)
        context, action, res_key = self._specifics(label, cust, order, line, slots, text.lower())
        if context.get("missing_field") == "po_number":
            order.pop("po_number", None)
        occurred = datetime(
            day.year, day.month, day.day, rng.randint(5, 21), rng.randint(0, 59), rng.randint(0, 59)
        )
        event: dict[str, Any] = {
            "event_id": "",
            "source_system": source,
            "occurred_at": self._timestamp(occurred),
        }
        event["order"] = order
        if code:
            event["exception_code"] = code
        event["description"] = text
        message = self._customer_message(label, cust, slots, source)
        if message:
            event["customer_message"] = message
        event["context"] = context
        outcome = self._outcome(action)
        hours = self._hours(action, outcome)
        resolved = occurred + timedelta(hours=hours)
        slots["resolved_date"] = resolved.strftime(fmt)
        resolution = self._resolution(label, res_key, outcome, slots)
        return {
            "event": event,
            "label": label,
            "resolution_action": action,
            "resolution": resolution,
            "outcome": outcome,
            "hours_to_resolve": hours,
            "resolved_at": resolved.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "_occurred": occurred,
        }

    def _customer_for(self, label: str) -> Customer:
        if label == "compliance_requirement" and self.rng.random() < 0.6:
            return self.rng.choice([c for c in self.customers if c.retail])
        return self.rng.choice(self.customers)

    def _timestamp(self, occurred: datetime) -> str:
        if self.rng.random() < 0.12:
            offset = self.rng.choice([-5, -6, -4, 1])
            local = occurred.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=offset)))
            return local.isoformat()
        return occurred.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _order(
        self, cust: Customer, site: str, order_date: date, requested: date, promised: date, label: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        n_lines = rng.choices([1, 2, 3, 4, 5], weights=[45, 25, 15, 10, 5])[0]
        lines = []
        total = Decimal(0)
        for i, (sku, item_idx) in enumerate(rng.sample(self.skus, n_lines)):
            item, uom, base, _ = ITEMS[item_idx]
            qty = rng.randint(20, 2400) if uom == "EA" else rng.randint(4, 400)
            price = Decimal(_money(base * rng.uniform(0.85, 1.2)))
            total += price * qty
            lines.append(
                {
                    "line_id": str((i + 1) * 10),
                    "sku": sku,
                    "description": item,
                    "uom": uom,
                    "quantity_ordered": qty,
                    "quantity_allocated": qty,
                    "unit_price": str(price),
                }
            )
        order: dict[str, Any] = {
            "order_id": _order_id(rng),
            "customer_id": cust.customer_id,
            "customer_tier": cust.tier,
            "site": site,
            "channel": cust.channel,
            "currency": cust.currency,
            "order_value": _money(total),
            "order_date": order_date.isoformat(),
            "requested_date": requested.isoformat(),
        }
        if rng.random() < 0.85:
            order["promised_date"] = promised.isoformat()
        if rng.random() < 0.8 or cust.channel == "edi":
            order["po_number"] = _po_number(rng)
        if label in ("shipment_delay", "carrier_failure") or rng.random() < 0.15:
            name, _, style = rng.choice(CARRIERS[cust.currency])
            order["carrier"] = name
            order["tracking_number"] = _tracking(rng, style)
        order["lines"] = lines
        return order, lines[0]

    def _slots(
        self, cust: Customer, site: str, order: dict[str, Any], line: dict[str, Any], fmt: str, day: date
    ) -> dict[str, Any]:
        rng = self.rng
        qty = int(line["quantity_ordered"])
        avail = rng.randint(0, max(0, qty - 1)) if rng.random() < 0.8 else 0
        promise = date.fromisoformat(order.get("promised_date", order["requested_date"]))
        days_late = rng.choice([1, 1, 2, 2, 3, 4, 5, 7, 10])
        carrier_name, scac, style = rng.choice(CARRIERS[cust.currency])
        if "carrier" in order:
            carrier_name = order["carrier"]
            scac = next(c[1] for c in CARRIERS[cust.currency] if c[0] == carrier_name)
        alt_carriers = [c[0] for c in CARRIERS[cust.currency] if c[0] != carrier_name]
        unit = Decimal(line["unit_price"])
        variance = rng.choice([0.02, 0.03, 0.05, 0.08, 0.12, 0.2])
        contract = unit * Decimal(str(1 - variance))
        limit = {"strategic": 4e6, "key": 1.2e6, "standard": 2.5e5, "basic": 5e4}[cust.tier] * rng.uniform(
            0.5, 1.5
        )
        exposure = limit * rng.uniform(1.01, 1.35)
        inbound_qty = rng.randint(max(1, qty // 2), qty * 2)
        n_orders = rng.randint(2, 7)
        others = [_order_id(rng) for _ in range(n_orders - 1)]
        sku2, _ = rng.choice(self.skus)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slots: dict[str, Any] = {
            "order_id": order["order_id"],
            "cust": cust.customer_id,
            "cust_name": cust.name,
            "tier": cust.tier,
            "retailer": cust.name if cust.retail else rng.choice(RETAILERS),
            "site": site,
            "alt_site": rng.choice([s for s in SITES["USD"] + SITES["CAD"] if s != site]),
            "sku": line["sku"],
            "sku2": sku2,
            "sub_sku": rng.choice(self.skus)[0],
            "item": line["description"],
            "uom": line["uom"],
            "qty": qty,
            "avail": avail,
            "short": qty - avail,
            "sys_qty": avail + rng.randint(qty - avail, qty * 2),
            "counted": avail,
            "dmg": rng.randint(1, max(1, qty - avail)),
            "loc": f"{rng.choice('ABCDEFG')}-{rng.randint(1, 40):02d}-{rng.randint(1, 6):02d}",
            "wave": f"W{rng.randint(1000, 9999)}",
            "run": f"AR{rng.randint(10_000, 99_999)}",
            "inbound_po": str(rng.randint(4_500_100_000, 4_500_999_999)),
            "inbound_qty": inbound_qty,
            "demand": inbound_qty + rng.randint(qty // 3 + 1, qty * 2),
            "n_orders": n_orders,
            "n_other": n_orders - 1,
            "bo_orders": ", ".join([order["order_id"], *others[:3]]),
            "other_order": others[0],
            "pos": rng.randint(2, n_orders),
            "container": f"{rng.choice(['MSCU', 'TGHU', 'CMAU', 'OOLU'])}{rng.randint(1_000_000, 9_999_999)}",
            "receipt": f"RCV-{rng.randint(100_000, 999_999)}",
            "eta": (day + timedelta(days=rng.randint(3, 30))).strftime(fmt),
            "po": order.get("po_number", _po_number(rng)),
            "unit_price": str(unit),
            "po_price": _money(unit * Decimal(str(1 - variance))),
            "contract_price": _money(contract),
            "floor_price": _money(unit * Decimal("1.04")),
            "contract_id": f"CTR-{rng.randint(2019, 2025)}-{rng.randint(100, 999)}",
            "variance_pct": f"{variance * 100:.1f}",
            "variance_amt": _money(float(unit) * variance * qty),
            "invoice_no": str(rng.randint(90_000_000, 99_999_999)),
            "ded_no": f"D{rng.randint(100_000, 999_999)}",
            "ded_code": rng.choice(["'VC'", "'PD'", "'99'", "'OT'", "'MISC'"]),
            "quote_id": f"Q-{rng.randint(10_000, 99_999)}",
            "clause": f"{rng.randint(3, 12)}.{rng.randint(1, 6)}",
            "amount": f"{Decimal(order['order_value']):,.2f}",
            "cur": cust.currency,
            "exposure_s": _big(rng, exposure),
            "limit_s": _big(rng, limit),
            "over_s": _big(rng, exposure - limit),
            "overdue_s": _big(rng, limit * rng.uniform(0.05, 0.4)),
            "dpd": rng.choice([15, 31, 38, 45, 62, 75, 91, 120]),
            "risk_class": rng.choice(["B", "C", "D", "E", "003", "005"]),
            "check_no": str(rng.randint(1000, 99999)),
            "pay_date": (day - timedelta(days=rng.randint(0, 6))).strftime(fmt),
            "carrier": carrier_name,
            "scac": scac,
            "alt_carrier": rng.choice(alt_carriers),
            "pro": order.get("tracking_number") or _tracking(rng, "pro"),
            "trk": order.get("tracking_number") or _tracking(rng, style),
            "load": f"L{rng.randint(1_000_000, 9_999_999)}",
            "lane": f"{site[-3:]}-{rng.choice(['MEM', 'IND', 'LAX', 'SEA', 'BOS', 'MIA'])}",
            "tender_id": f"T{rng.randint(100_000, 999_999)}",
            "city": rng.choice(CITIES),
            "promise": promise.strftime(fmt),
            "req_date": date.fromisoformat(order["requested_date"]).strftime(fmt),
            "new_date": (max(promise, day) + timedelta(days=days_late)).strftime(fmt),
            "ship_date": (day + timedelta(days=rng.randint(0, 3))).strftime(fmt),
            "order_date": date.fromisoformat(order["order_date"]).strftime(fmt),
            "days_late": days_late,
            "hours": rng.choice([24, 36, 48, 72, 96]),
            "last_scan": (day - timedelta(days=rng.randint(2, 6))).strftime(fmt),
            "appt": f"{rng.randint(6, 16):02d}:{rng.choice(['00', '30'])}",
            "dock": f"D{rng.randint(1, 24):02d}",
            "delivery": str(rng.randint(80_000_000, 89_999_999)),
            "reason": rng.choice(["AO weather", "AJ other carrier related", "BG other", "NS normal"]),
            "delay_code": rng.choice(["SD", "AG", "X6 en route", "SD reason AO"]),
            "fail_code": rng.choice(["A3", "AP", "A7"]),
            "n_cartons": rng.randint(2, 60),
            "section": f"{rng.randint(2, 9)}.{rng.randint(1, 9)}",
            "viol_no": f"VC-{rng.randint(100_000, 999_999)}",
            "chargeback_amt": _money(rng.choice([150, 250, 350, 500, 750]) + rng.choice([0, 0, 0.5, 25])),
            "height": rng.randint(62, 84),
            "country": rng.choice(["MX", "BR", "AE", "CN", "TR", "IN"]),
            "lot": f"L{rng.randint(24_000, 25_999)}{rng.choice('ABC')}",
            "req_carrier": rng.choice(
                ["their contracted LTL carrier", "collect via CHR", "prepaid via routing portal"]
            ),
            "weight": rng.choice([150, 200, 500]),
            "state": rng.choice(STATES),
            "shipto": f"{cust.customer_id}-{rng.randint(1, 40):02d}",
            "zip": f"{rng.randint(10_000, 99_999)}",
            "row": rng.randint(2, 400),
            "job": f"IF_{rng.randint(100, 999)}",
            "user": rng.choice(USERS),
            "ticket": f"INC{rng.randint(1_000_000, 9_999_999)}",
            "sto": str(rng.randint(4_700_000_000, 4_709_999_999)),
            "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            "alt_qty": 0,
            "claim_no": f"CLM-{rng.randint(10_000, 99_999)}",
            "claim_amt": _money(float(unit) * qty * rng.uniform(0.1, 1.0)),
            "first": first,
            "last": last,
        }
        road = rng.choice(["Industrial", "Commerce", "Harbor", "Mill"])
        slots["street"] = f"{rng.randint(10, 9999)} {road} {rng.choice(['Dr', 'Pkwy', 'Rd', 'Blvd'])}"
        item_un = next((it[3] for it in ITEMS if it[0] == line["description"]), None)
        slots["un"] = item_un or rng.choice(["1170", "1219", "1950", "3090"])
        slots["_variance"] = variance
        slots["_overdue_days"] = slots["dpd"]
        slots["_limit"] = round(limit, 2)
        slots["_exposure"] = round(exposure, 2)
        return slots

    def _specifics(
        self,
        label: str,
        cust: Customer,
        order: dict[str, Any],
        line: dict[str, Any],
        s: dict[str, Any],
        text: str,
    ) -> tuple[dict[str, Any], str, str]:
        """Label-specific context and order facts, and a resolution action correlated with them."""
        rng = self.rng
        ctx: dict[str, Any] = {}
        res_key = ""
        if rng.random() < 0.5:
            ctx["erp_status"] = rng.choice(["open", "blocked", "in_process", "partially_allocated"])
        if label == "inventory_shortage":
            line["quantity_allocated"] = s["avail"]
            line["quantity_available"] = s["avail"]
            alt_ok = rng.random() < 0.55
            s["alt_qty"] = (
                rng.randint(s["short"], s["short"] * 3) if alt_ok else rng.randint(0, max(0, s["short"] // 3))
            )
            partial_ok = rng.random() < 0.6
            ctx.update(
                atp_qty=s["avail"],
                alt_site=s["alt_site"],
                alt_site_qty=s["alt_qty"],
                partial_shipments_allowed=partial_ok,
            )
            if alt_ok:
                weights = {
                    "propose_transfer": 50,
                    "check_alternate_warehouse": 30,
                    "split_shipment": 10,
                    "update_promise_date": 10,
                }
            elif s["avail"] > 0 and partial_ok:
                weights = {"split_shipment": 60, "update_promise_date": 25, "check_alternate_warehouse": 15}
            else:
                weights = {"update_promise_date": 70, "check_alternate_warehouse": 20, "split_shipment": 10}
            if s["avail"] == 0:
                weights.pop("split_shipment", None)
            action = _pick(rng, weights)
            if action == "check_alternate_warehouse" and not alt_ok:
                res_key = "check_alternate_warehouse:none"
        elif label == "backorder_conflict":
            line["quantity_allocated"] = 0
            line["quantity_available"] = 0
            has_sub = rng.random() < 0.35
            ctx.update(
                inbound_po=s["inbound_po"],
                inbound_qty=s["inbound_qty"],
                backorder_demand=s["demand"],
                competing_orders=s["n_orders"] - 1,
                substitute_sku=s["sub_sku"] if has_sub else None,
            )
            if cust.tier in ("strategic", "key"):
                weights = {"reprioritize_allocation": 60, "offer_substitute": 15, "update_promise_date": 25}
            elif has_sub:
                weights = {"offer_substitute": 55, "update_promise_date": 30, "reprioritize_allocation": 15}
            else:
                weights = {"update_promise_date": 60, "reprioritize_allocation": 25, "offer_substitute": 15}
            action = _pick(rng, weights)
            if action == "offer_substitute":
                ctx["substitute_sku"] = s["sub_sku"]
        elif label == "credit_hold":
            ctx.update(
                credit_limit=s["_limit"],
                exposure=s["_exposure"],
                days_past_due=s["dpd"],
                risk_class=s["risk_class"],
            )
            if rng.random() < 0.3:
                ctx["internal_note"] = rng.choice(
                    [
                        "Do not disclose limit or exposure to customer.",
                        "Account on collections watch list.",
                        "CFO approval needed above limit for this account.",
                    ]
                )
            if s["dpd"] > 60 or s["risk_class"] in ("D", "E", "005"):
                weights = {"escalate_credit_review": 60, "route_to_finance": 30, "request_credit_release": 10}
            elif cust.tier in ("strategic", "key"):
                weights = {"request_credit_release": 60, "route_to_finance": 28, "escalate_credit_review": 12}
            else:
                weights = {"route_to_finance": 60, "request_credit_release": 25, "escalate_credit_review": 15}
            action = _pick(rng, weights)
        elif label == "pricing_discrepancy":
            line["contract_price"] = s["contract_price"]
            has_contract = rng.random() < 0.6
            ctx.update(
                variance_pct=float(s["variance_pct"]),
                margin_pct=round(rng.uniform(4, 32), 1),
                contract_id=s["contract_id"] if has_contract else None,
                price_source=rng.choice(["contract", "list", "quote", "promo"]),
            )
            if s["_variance"] <= 0.03:
                weights = {"issue_price_correction": 60, "compare_to_contract": 25, "route_to_sales_ops": 15}
            elif has_contract:
                weights = {"compare_to_contract": 55, "issue_price_correction": 25, "route_to_sales_ops": 20}
            else:
                weights = {"route_to_sales_ops": 55, "compare_to_contract": 25, "issue_price_correction": 20}
            action = _pick(rng, weights)
        elif label == "shipment_delay":
            ctx.update(
                days_late=s["days_late"],
                in_transit=rng.random() < 0.6,
                delay_cause=_kind(text, DELAY_CAUSES, "linehaul"),
            )
            if cust.tier == "strategic" and s["days_late"] <= 2:
                weights = {"expedite_shipment": 55, "notify_customer": 25, "recalculate_commitment": 20}
            elif s["days_late"] >= 4:
                weights = {"recalculate_commitment": 50, "notify_customer": 38, "expedite_shipment": 12}
            else:
                weights = {"notify_customer": 45, "recalculate_commitment": 40, "expedite_shipment": 15}
            action = _pick(rng, weights)
        elif label == "incomplete_order_data":
            missing = _kind(text, MISSING_FIELDS, "other_field")
            ctx["missing_field"] = missing
            s["missing_what"] = (
                missing.replace("_", " ").replace("uom", "unit of measure").replace("id", "ID")
            )
            master = missing in ("ship_to", "uom", "tax_id", "postal_code")
            action = _pick(
                rng,
                {"correct_master_data": 70, "request_missing_data": 30}
                if master
                else {"request_missing_data": 80, "correct_master_data": 20},
            )
        elif label == "carrier_failure":
            kind = _kind(text, CARRIER_FAILURES, rng.choice(["lost", "damaged", "missed_pickup"]))
            ctx.update(failure_type=kind, carrier_scac=s["scac"])
            if kind in ("lost", "damaged"):
                ctx["claim_value"] = float(s["claim_amt"])
                weights = {"file_carrier_claim": 70, "notify_customer": 15, "rebook_carrier": 15}
            else:
                weights = {"rebook_carrier": 75, "notify_customer": 20, "file_carrier_claim": 5}
            action = _pick(rng, weights)
        elif label == "compliance_requirement":
            kind = _kind(text, COMPLIANCE_KINDS, "asn")
            ctx.update(requirement=kind, trading_partner=s["retailer"])
            s["docs"] = {
                "hazmat": "SDS and DG declaration",
                "certificate": f"certificate for lot {s['lot']}",
                "export": "export filing papers",
                "asn": f"corrected ASN data for PO {s['po']}",
                "labeling": "label spec sign-off",
            }.get(kind, "compliance documents")
            if kind in ("labeling", "pallet"):
                weights = {
                    "apply_customer_labeling": 70,
                    "route_to_compliance": 20,
                    "hold_for_compliance_docs": 10,
                }
            elif kind in ("certificate", "hazmat", "export"):
                weights = {
                    "hold_for_compliance_docs": 70,
                    "route_to_compliance": 25,
                    "apply_customer_labeling": 5,
                }
            else:
                weights = {
                    "route_to_compliance": 70,
                    "apply_customer_labeling": 20,
                    "hold_for_compliance_docs": 10,
                }
            action = _pick(rng, weights)
        else:
            ctx["request_type"] = _kind(text, OTHER_REQUESTS, "inquiry")
            action = "manual_triage"
        if rng.random() < 0.2:
            ctx["margin_pct"] = ctx.get("margin_pct", round(rng.uniform(3, 35), 1))
        if rng.random() < 0.1 and "internal_note" not in ctx:
            ctx["internal_note"] = rng.choice(
                [
                    "Thin margin account - no freight concessions.",
                    "Customer on price watch, do not quote cost.",
                    f"Landed cost {_money(float(s['unit_price']) * 0.71)} per {s['uom']}.",
                ]
            )
        return ctx, action, res_key or action

    def _describe(self, label: str, slots: dict[str, Any]) -> tuple[str, str, str | None]:
        rng = self.rng
        pairs = [pair for pair in AMBIGUOUS if label in pair]
        roll = rng.random()
        if roll < 0.03:
            pool = TERSE
        elif pairs and roll < 0.15:
            pool = AMBIGUOUS[rng.choice(pairs)]
        elif roll < 0.27 and label in CONFUSABLE:
            pool = CONFUSABLE[label]
        else:
            pool = CORE[label]
        source, codes, template = rng.choice(pool)
        text = self._fill(template, slots)
        if pool is not TERSE and rng.random() < 0.25:
            text = text.rstrip(".") + "." + self._fill(rng.choice(TAILS), slots)
        text = self._noise(text, source)
        options = codes.split() if codes != "-" else []
        code: str | None = None
        r = rng.random()
        if options and r < 0.72:
            code = rng.choice(options)
        elif r < 0.8:
            code = "EXC-GEN"
        return text, source, code

    def _fill(self, template: str, slots: dict[str, Any]) -> str:
        def choose(match: re.Match[str]) -> str:
            body: str = match.group(1)
            if body.startswith("?"):
                return body[1:] if self.rng.random() < 0.5 else ""
            return self.rng.choice(body.split("|"))

        return OPTION_RE.sub(choose, template).format(**slots)

    def _noise(self, text: str, source: str) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            for word, short in ABBREVIATIONS.items():
                if rng.random() < 0.7:
                    text = re.sub(rf"\b{word}\b", short, text)
        if rng.random() < 0.09:
            for _ in range(rng.randint(1, 2)):
                words = WORD_RE.findall(text)
                if words:
                    word = rng.choice(words)
                    text = text.replace(word, self._typo(word), 1)
        if rng.random() < 0.18:
            prefix = rng.choice(["[{user}] ", "AUTO: ", "{ticket} - ", "Job {job}: ", "RE: ", "Note: "])
            text = (
                prefix.format(
                    user=rng.choice(USERS),
                    ticket=f"INC{rng.randint(1_000_000, 9_999_999)}",
                    job=f"BATCH{rng.randint(10, 99)}",
                )
                + text
            )
        if rng.random() < 0.12:
            text += rng.choice(
                [" pls advise", " FYI", " -- " + rng.choice(USERS), " Thx", " urgent", " see attached"]
            )
        if source in ("erp", "wms", "tms", "edi") and rng.random() < 0.07:
            text = text.upper()
        elif rng.random() < 0.06:
            text = text.lower()
        return text

    def _typo(self, word: str) -> str:
        i = self.rng.randint(1, len(word) - 2)
        kind = self.rng.randrange(3)
        if kind == 0:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if kind == 1:
            return word[:i] + word[i + 1 :]
        return word[:i] + word[i] + word[i:]

    def _customer_message(self, label: str, cust: Customer, s: dict[str, Any], source: str) -> str | None:
        rng = self.rng
        likely = cust.channel in ("email", "portal", "phone", "sales_rep") or source == "crm"
        if rng.random() > (0.6 if likely else 0.12):
            return None
        body = self._fill(rng.choice(CUSTOMER_MESSAGES[label]), s)
        slug = re.sub(r"[^a-z]", "", cust.name.lower())[:14]
        email = f"{s['first'].lower()}.{s['last'].lower()}@{slug}.example"
        phone = f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"
        signature = rng.choice(
            [
                f"\n\n{s['first']} {s['last']}\n{cust.name}\n{phone}\n{email}",
                f"\n\nThanks, {s['first']} {s['last']} ({email})",
                f"\n-- {s['first']} | purchasing | {phone}",
                "",
            ]
        )
        greeting = rng.choice(["", "Hello,\n", f"Hi {rng.choice(FIRST)},\n", "To whom it may concern,\n"])
        if body.startswith("Hi"):
            greeting = ""
        return f"{greeting}{body}{signature}"

    def _outcome(self, action: str) -> str:
        weights = {"resolved": 72.0, "partially_resolved": 12.0, "customer_cancelled": 6.0, "escalated": 10.0}
        if action == "escalate_credit_review":
            weights["escalated"] = 35
        elif action == "update_promise_date":
            weights["customer_cancelled"] = 14
        elif action in ("split_shipment", "file_carrier_claim"):
            weights["partially_resolved"] = 30
        elif action == "manual_triage":
            weights.update(resolved=84, escalated=5)
        return _pick(self.rng, weights)

    def _hours(self, action: str, outcome: str) -> float:
        median = {
            "check_alternate_warehouse": 3,
            "propose_transfer": 30,
            "split_shipment": 8,
            "update_promise_date": 2,
            "route_to_finance": 12,
            "request_credit_release": 6,
            "escalate_credit_review": 48,
            "compare_to_contract": 10,
            "route_to_sales_ops": 26,
            "issue_price_correction": 5,
            "recalculate_commitment": 3,
            "notify_customer": 1.5,
            "expedite_shipment": 20,
            "request_missing_data": 18,
            "correct_master_data": 4,
            "reprioritize_allocation": 8,
            "offer_substitute": 12,
            "rebook_carrier": 5,
            "file_carrier_claim": 96,
            "apply_customer_labeling": 6,
            "hold_for_compliance_docs": 40,
            "route_to_compliance": 30,
            "manual_triage": 8,
        }[action]
        factor = {"resolved": 1.0, "partially_resolved": 1.3, "customer_cancelled": 0.8, "escalated": 1.8}[
            outcome
        ]
        return max(0.2, round(median * factor * self.rng.lognormvariate(0, 0.55), 1))

    def _resolution(self, label: str, action: str, outcome: str, s: dict[str, Any]) -> str:
        main = self._fill(self.rng.choice(RESOLUTIONS[label][action]), s)
        tail = self._fill(self.rng.choice(OUTCOME_TEXT[outcome]), s)
        return f"{main} {tail}".strip()


def generate(
    seed: int, n_history: int = 3600, n_test: int = 800
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build the history and test cases for ``seed``: disjoint ids, no description shared between the two."""
    rng = random.Random(seed)
    factory = CaseFactory(rng)
    labels, weights = list(LABEL_WEIGHTS), list(LABEL_WEIGHTS.values())
    seen: set[str] = set()
    parts: list[list[dict[str, Any]]] = []
    for size, (start, end) in ((n_history, HISTORY_WINDOW), (n_test, TEST_WINDOW)):
        quota = _quota(labels, weights, size)
        span = (end - start).days
        rows = []
        for label in quota:
            for _ in range(50):
                row = factory.case(label, start + timedelta(days=rng.randint(0, span)))
                if row["event"]["description"] not in seen:
                    break
            seen.add(row["event"]["description"])
            rows.append(row)
        rows.sort(key=lambda r: (r["_occurred"], r["event"]["description"]))
        parts.append(rows)
    counter = 0
    for rows in parts:
        for row in rows:
            counter += 1
            row["event"]["event_id"] = f"EVT-{row.pop('_occurred').year}-{counter:06d}"
    return parts[0], parts[1]


def _quota(labels: Sequence[str], weights: Sequence[int], size: int) -> list[str]:
    """Exact per-label counts (largest remainder), in a fixed order; the caller's rng spreads the dates."""
    total = sum(weights)
    exact = [size * w / total for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(labels)), key=lambda i: exact[i] - counts[i], reverse=True)[
        : size - sum(counts)
    ]:
        counts[i] += 1
    return [label for label, n in zip(labels, counts, strict=True) for _ in range(n)]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def distribution_table(history: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of label counts and shares in both files."""
    h, t = Counter(r["label"] for r in history), Counter(r["label"] for r in test)
    out = ["| label | history | % | test | % |", "|---|---:|---:|---:|---:|"]
    for label in LABEL_WEIGHTS:
        out.append(
            f"| `{label}` | {h[label]} | {100 * h[label] / len(history):.1f} | {t[label]} | "
            f"{100 * t[label] / len(test):.1f} |"
        )
    out.append(f"| **total** | {len(history)} | 100 | {len(test)} | 100 |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Generate the synthetic order-exception history and test set."
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("eval/datasets/order_exceptions"))
    parser.add_argument("--history", type=int, default=3600, help="number of history cases")
    parser.add_argument("--test", type=int, default=800, help="number of test cases")
    args = parser.parse_args(argv)
    history, test = generate(args.seed, args.history, args.test)
    write_jsonl(args.out / "history.jsonl", history)
    write_jsonl(args.out / "test.jsonl", test)
    print(distribution_table(history, test))
    print(f"wrote {len(history)} history and {len(test)} test cases to {args.out} (seed {args.seed})")


if __name__ == "__main__":
    main()
