"""`expand[]` on a payment: the objects a client would otherwise fetch one call at a time
(its customer, its payment method, its refunds, its routing decision) inlined in one answer,
each under its own key beside the id field it expands. Reads only; each expansion is one query
(the routing decision none), and only what is asked for is read.

Expanding the customer or the payment method needs `customers:read` as reading them would;
one that is gone (deleted, or in no scope the caller sees) expands to null."""

import enum
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.commerce.schemas import CustomerOut
from avnz.core.errors import NotFound, PermissionDenied
from avnz.payments import reading, vault
from avnz.payments.models import Payment
from avnz.payments.schemas import RefundOut

PARAM = "expand[]"
T = TypeVar("T")


class Expandable(enum.StrEnum):
    CUSTOMER = "customer"
    PAYMENT_METHOD = "payment_method"
    REFUNDS = "refunds"
    ROUTING_DECISION = "routing_decision"


_NEEDS_CUSTOMERS_READ = frozenset({Expandable.CUSTOMER, Expandable.PAYMENT_METHOD})


async def expanded(
    session: AsyncSession, principal: Principal, payment: Payment, fields: list[Expandable]
) -> dict[str, Any]:
    """The payment as the API shows it, with each of `fields` inlined (JSON-ready)."""
    wanted = list(dict.fromkeys(fields))
    if _NEEDS_CUSTOMERS_READ.intersection(wanted) and (
        Permission.CUSTOMERS_READ not in principal.permissions
    ):
        raise PermissionDenied(
            "Expanding customer or payment_method needs the permission customers:read.",
            param=PARAM,
        )
    body = reading.to_out(payment).model_dump(mode="json")
    for field in wanted:
        body[field.value] = await _expand(session, principal, payment, field)
    return body


async def _expand(
    session: AsyncSession, principal: Principal, payment: Payment, field: Expandable
) -> Any:
    match field:
        case Expandable.CUSTOMER:
            customer = (
                await _found(
                    commerce.get_customer(
                        session=session, principal=principal, customer_id=payment.customer_id
                    )
                )
                if payment.customer_id
                else None
            )
            return (
                CustomerOut.model_validate(customer).model_dump(mode="json") if customer else None
            )
        case Expandable.PAYMENT_METHOD:
            method = (
                await _found(
                    vault.get_method(
                        session=session, principal=principal, method_id=payment.payment_method_id
                    )
                )
                if payment.payment_method_id
                else None
            )
            return vault.to_out(method).model_dump(mode="json") if method else None
        case Expandable.REFUNDS:
            refunds = await reading.list_refunds(session, principal, payment.id)
            return [RefundOut.model_validate(r).model_dump(mode="json") for r in refunds]
        case Expandable.ROUTING_DECISION:
            return reading.decision_out(payment).model_dump(mode="json")


async def _found(read: Awaitable[T]) -> T | None:
    """What `read` finds, or None where it answers 404 (gone, or out of the caller's sight)."""
    try:
        return await read
    except NotFound:
        return None
