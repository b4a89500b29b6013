"""What the transaction pages show about a payment beyond its own row: account names, the
customer, the routing decision (rule, conditions, failover attempts) and refunds."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.commerce.models import Customer
from avnz.core.errors import NotFound
from avnz.core.pagination import PageParams
from avnz.payments import reading
from avnz.payments.models import Payment
from avnz.payments.states import PaymentStatus
from avnz.routing.accounts import service as routing
from avnz.routing.decisions.schemas import RoutingDecisionOut

ACCOUNT_OPTIONS = 100
# Keys the rule engine writes into a decision (and the payment's `routing`) when a rule matched.
RULE_KEYS = ("rule_id", "rule_name", "rule_version", "condition_results")


async def account_names(session: AsyncSession, principal: Principal) -> dict[str, str]:
    """id -> name of the merchant accounts in scope (newest first), for labels and filters."""
    if Permission.ACCOUNTS_READ not in principal.permissions:
        return {}
    page = await routing.list_accounts(
        session=session,
        principal=principal,
        page=PageParams(limit=ACCOUNT_OPTIONS, starting_after=None),
        status=None,
        provider_type=None,
        company_id=None,
        search=None,
    )
    return {account.id: account.name for account in page.items}


async def _customer(
    session: AsyncSession, principal: Principal, payment: Payment
) -> Customer | None:
    if payment.customer_id is None or Permission.CUSTOMERS_READ not in principal.permissions:
        return None
    try:
        return await commerce.get_customer(
            session=session, principal=principal, customer_id=payment.customer_id
        )
    except NotFound:
        return None


def _decision(payment: Payment) -> RoutingDecisionOut | None:
    try:
        return reading.decision_out(payment)
    except NotFound:
        return None


def rule_match(payment: Payment, decision: RoutingDecisionOut | None) -> dict[str, Any] | None:
    """The rule that routed the payment, from the decision or else the payment's `routing` JSON."""
    found: dict[str, Any] = {}
    sources = [payment.routing or {}, decision.model_dump() if decision else {}]
    for source in sources:
        for key in RULE_KEYS:
            if source.get(key) is not None:
                found[key] = source[key]
    return found if found.get("rule_id") or found.get("rule_name") else None


def allowed_actions(principal: Principal, payment: Payment) -> set[str]:
    """Which follow-ups to offer: the API's permissions, and a status that allows them."""
    actions = set()
    open_authorization = (
        payment.status == PaymentStatus.AUTHORIZED and payment.pending_action is None
    )
    if Permission.TRANSACTIONS_WRITE in principal.permissions and open_authorization:
        actions |= {"capture", "void"}
    refundable = payment.amount_captured - payment.amount_refunded > 0 and payment.status in (
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
    )
    if Permission.TRANSACTIONS_REFUND in principal.permissions and refundable:
        actions.add("refund")
    return actions


async def detail_context(
    session: AsyncSession, principal: Principal, payment: Payment
) -> dict[str, Any]:
    decision = _decision(payment)
    return {
        "payment": payment,
        "refunds": await reading.list_refunds(session, principal, payment.id),
        "customer": await _customer(session, principal, payment),
        "decision": decision,
        "rule": rule_match(payment, decision),
        "accounts": await account_names(session, principal),
        "actions": allowed_actions(principal, payment),
        "refundable": payment.amount_captured - payment.amount_refunded,
    }
