"""Refunds and the balance in the Stripe sandbox; a refund never exceeds what was captured."""

from typing import Any

from avnz.core import clock
from avnz.gateways.sandbox.common import SandboxTxn, TxnState
from avnz.gateways.stripe.sandbox.calls import (
    Call,
    Params,
    StripeSandbox,
    display_amount,
    emit,
    int_param,
    invalid_request,
    missing,
    positive,
)
from avnz.gateways.stripe.sandbox.intents import charge_json, find_intent, invalid_state
from avnz.gateways.stripe.sandbox.tables import REFUND_REASONS, refund_ids


def create_refund(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/refunds: refund all or part of what the PaymentIntent captured."""
    params = call.params
    txn = _refund_target(sandbox, params)
    if txn.extra["status"] != "succeeded":
        # Stripe's exact code here is not documented; an uncaptured payment is canceled instead.
        raise invalid_state(
            f"This PaymentIntent ({txn.id}) does not have a successful charge to refund.", txn
        )
    charge_id = txn.extra["charge"]["id"]
    if txn.extra.get("dispute") and not _refundable_dispute(sandbox, txn.extra["dispute"]):
        raise invalid_request(
            f"Charge {charge_id} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    if txn.refundable <= 0:
        raise invalid_request(
            f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
        )
    requested = int_param(params, "amount")
    amount = txn.refundable if requested is None else positive(requested, "amount")
    if amount > txn.refundable:
        raise invalid_request(
            f"Refund amount ({display_amount(amount, txn.currency)}) is greater than "
            f"unrefunded amount on charge ({display_amount(txn.refundable, txn.currency)})",
            code="amount_too_large",
            param="amount",
        )
    reason = params.get("reason")
    if reason and reason not in REFUND_REASONS:
        raise invalid_request(f"Invalid reason: {reason[:40]}", param="reason")
    refund = sandbox.state.ledger.add(_new_refund(txn, amount, reason, params))
    previous = {"amount_refunded": txn.refunded}
    txn.refunded += amount
    txn.state = TxnState.REFUNDED if txn.refundable == 0 else TxnState.PARTIALLY_REFUNDED
    emit(sandbox, call, "charge.refunded", charge_json(txn), previous)
    emit(sandbox, call, "refund.created", _refund_json(refund))
    return _refund_json(refund)


def _refundable_dispute(sandbox: StripeSandbox, dispute_id: str) -> bool:
    dispute = sandbox.records("disputes").get(dispute_id)
    return bool(dispute and dispute["is_charge_refundable"])


def _refund_target(sandbox: StripeSandbox, params: Params) -> SandboxTxn:
    intent_id, charge_id = params.get("payment_intent"), params.get("charge")
    if intent_id:
        return find_intent(sandbox, intent_id)
    if not charge_id:
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    owner = next(
        (
            t
            for t in sandbox.state.ledger.transactions.values()
            if t.kind == "payment_intent" and (t.extra.get("charge") or {}).get("id") == charge_id
        ),
        None,
    )
    if owner is None:
        raise missing("charge", charge_id, "charge")
    return owner


def _new_refund(txn: SandboxTxn, amount: int, reason: str | None, params: Params) -> SandboxTxn:
    return SandboxTxn(
        id=refund_ids(),
        kind="refund",
        amount=amount,
        currency=txn.currency,
        state=TxnState.REFUNDED,
        parent_id=txn.id,
        extra={
            "charge": txn.extra["charge"]["id"],
            "created": int(clock.now().timestamp()),
            "metadata": params.prefixed("metadata"),
            "reason": reason,
        },
    )


def retrieve_refund(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/refunds/{refund}."""
    refund = sandbox.state.ledger.get(call.path["refund"])
    if refund is None or refund.kind != "refund":
        raise missing("refund", call.path["refund"], "id")
    return _refund_json(refund)


def _refund_json(refund: SandboxTxn) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "charge": refund.extra["charge"],
        "created": refund.extra["created"],
        "currency": refund.currency,
        "metadata": refund.extra["metadata"],
        "payment_intent": refund.parent_id,
        "reason": refund.extra["reason"],
        "status": "succeeded",  # test cards refund synchronously
    }


def balance(sandbox: StripeSandbox, _call: Call) -> dict[str, Any]:
    """GET /v1/balance: what the captured, unrefunded payments add up to per currency."""
    totals: dict[str, int] = {}
    for txn in sandbox.state.ledger.transactions.values():
        if txn.kind == "payment_intent":
            totals[txn.currency] = totals.get(txn.currency, 0) + txn.refundable
    funds = [
        {"amount": amount, "currency": currency, "source_types": {"card": amount}}
        for currency, amount in (totals or {"usd": 0}).items()
    ]
    zero = [{**fund, "amount": 0, "source_types": {"card": 0}} for fund in funds]
    return {"object": "balance", "available": funds, "pending": zero, "livemode": False}
