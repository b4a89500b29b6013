"""Disputes in the Stripe sandbox, opened by Stripe's dispute test cards once their charge is
captured (docs.stripe.com/testing#disputes): 4000000000000259 (`pm_card_createDispute`, reason
fraudulent), 4000000000002685 (product_not_received) and 4000000000001976 (an inquiry:
warning_needs_response). Retrieve, list (by charge or payment_intent), update evidence, close.

Submitting evidence decides a test dispute as Stripe's does: `uncategorized_text` of
`winning_evidence` wins it, `losing_evidence` loses it, anything else leaves it under_review.
Closing accepts the loss. Each change is a `charge.dispute.*` event.
"""

from datetime import timedelta
from typing import Any

from avnz.core import clock
from avnz.gateways.sandbox.common import SandboxTxn
from avnz.gateways.stripe.sandbox.calls import (
    Call,
    StripeSandbox,
    emit,
    find_record,
    invalid_request,
    listing,
)
from avnz.gateways.stripe.sandbox.tables import (
    DISPUTE_EVIDENCE_DAYS,
    LOSING_EVIDENCE,
    WINNING_EVIDENCE,
    Trigger,
    dispute_ids,
)

OPEN = frozenset({"warning_needs_response", "needs_response", "under_review"})
EVIDENCE_FIELDS = frozenset(
    {
        "access_activity_log",
        "billing_address",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "product_description",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_tracking_number",
        "uncategorized_text",
    }
)


def open_dispute(sandbox: StripeSandbox, call: Call, txn: SandboxTxn, trigger: Trigger) -> str:
    """Dispute the captured charge of `txn` as `trigger` says; returns the dispute id."""
    now = clock.now()
    due = now + timedelta(days=DISPUTE_EVIDENCE_DAYS)
    dispute = {
        "id": dispute_ids(),
        "object": "dispute",
        "amount": txn.captured,
        "balance_transactions": [],
        "charge": txn.extra["charge"]["id"],
        "created": int(now.timestamp()),
        "currency": txn.currency,
        "evidence": dict.fromkeys(sorted(EVIDENCE_FIELDS)),
        "evidence_details": {
            "due_by": int(due.timestamp()),
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": trigger.inquiry,
        "livemode": False,
        "metadata": {},
        "payment_intent": txn.id,
        "reason": trigger.dispute,
        "status": "warning_needs_response" if trigger.inquiry else "needs_response",
    }
    sandbox.records("disputes")[dispute["id"]] = dispute
    emit(sandbox, call, "charge.dispute.created", dispute)
    return str(dispute["id"])


def _find(sandbox: StripeSandbox, dispute_id: str) -> dict[str, Any]:
    dispute: dict[str, Any] = find_record(sandbox, "disputes", dispute_id, "dispute")
    return dispute


def retrieve_dispute(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/disputes/{dispute}."""
    return _find(sandbox, call.path["dispute"])


def list_disputes(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/disputes, newest first, by `charge` or `payment_intent`."""
    charge, intent = call.params.get("charge"), call.params.get("payment_intent")
    found = [
        d
        for d in sandbox.records("disputes").values()
        if (charge is None or d["charge"] == charge)
        and (intent is None or d["payment_intent"] == intent)
    ]
    return listing("/v1/disputes", list(reversed(found)), call.params)


def update_dispute(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/disputes/{dispute}: evidence and metadata; `submit` (default true) decides it."""
    dispute = _find(sandbox, call.path["dispute"])
    _require_open(dispute)
    evidence = call.params.prefixed("evidence")
    unknown = sorted(set(evidence) - EVIDENCE_FIELDS)
    if unknown:
        raise invalid_request(
            f"Received unknown parameter: evidence[{unknown[0][:40]}]",
            code="parameter_unknown",
            param=f"evidence[{unknown[0][:40]}]",
        )
    previous = {"status": dispute["status"]}
    dispute["evidence"] = {**dispute["evidence"], **evidence}
    dispute["metadata"] = {**dispute["metadata"], **call.params.prefixed("metadata")}
    details = dispute["evidence_details"]
    details["has_evidence"] = details["has_evidence"] or bool(evidence)
    if call.params.get("submit") != "false" and details["has_evidence"]:
        details["submission_count"] += 1
        dispute["status"] = _decided(dispute)
    emit(sandbox, call, "charge.dispute.updated", dispute, previous)
    if dispute["status"] in ("won", "lost"):
        emit(sandbox, call, "charge.dispute.closed", dispute, previous)
    return dispute


def _decided(dispute: dict[str, Any]) -> str:
    text = dispute["evidence"].get("uncategorized_text")
    if text == WINNING_EVIDENCE:
        return "won"
    if text == LOSING_EVIDENCE:
        return "lost"
    return "under_review"


def close_dispute(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/disputes/{dispute}/close: accept the dispute as lost."""
    dispute = _find(sandbox, call.path["dispute"])
    _require_open(dispute)
    previous = {"status": dispute["status"]}
    dispute["status"] = "lost"
    emit(sandbox, call, "charge.dispute.closed", dispute, previous)
    return dispute


def _require_open(dispute: dict[str, Any]) -> None:
    if dispute["status"] not in OPEN:
        raise invalid_request(f"This dispute is already closed (status {dispute['status']}).")
