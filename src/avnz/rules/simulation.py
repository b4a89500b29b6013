"""The rule simulator: replay a date range of a company's payments through its current rules and
compare what would have matched with what actually routed them. Reads only.

Each payment is rebuilt as the engine saw it when it was made: the amount asked for (before any
surcharge or discount), its card, billing country, customer and order, at its own creation time;
its id is the A/B key, so a payment falls in the arm it fell in then. Customers are read as they
are now (lifetime value and risk move on; the payment did not keep them), and whether the card
was a stored token is not kept either: `is_tokenized` replays as false.
"""

from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.commerce.models import Customer, Order
from avnz.core.errors import InvalidRequest
from avnz.payments.models import Payment, PaymentMethod
from avnz.rules.cache import RuleCache
from avnz.rules.engine import Match, RuleSet, decide
from avnz.rules.inputs import CardFacts, Transaction, rule_context
from avnz.rules.schemas import (
    SimulatedPaymentOut,
    SimulatedRuleOut,
    SimulationOut,
    SimulationRequest,
)
from avnz.tenancy.visibility import target_company

MAX_RANGE = timedelta(days=92)
MAX_DIFFERENCES = 100


async def simulate(
    *, session: AsyncSession, principal: Principal, cache: RuleCache, data: SimulationRequest
) -> SimulationOut:
    if data.until <= data.since:
        raise InvalidRequest("until must be after since.", param="until")
    if data.until - data.since > MAX_RANGE:
        raise InvalidRequest(f"Simulate at most {MAX_RANGE.days} days at once.", param="until")
    company = await target_company(session, principal, data.company_id)
    rule_set = await cache.rule_set(session, company.id, company.timezone)
    payments = await _payments(session, company.id, data)
    replay = _Replay(rule_set)
    for payment, method in payments[: data.limit]:
        transaction = await _transaction(session, payment, method)
        context = await rule_context(session, company, transaction)
        match = decide(
            rule_set, context, transaction_key=payment.id, customer_key=payment.customer_id
        )
        replay.add(payment, match)
    return replay.result(data, truncated=len(payments) > data.limit)


async def _payments(
    session: AsyncSession, company_id: str, data: SimulationRequest
) -> list[tuple[Payment, PaymentMethod | None]]:
    """The range's payments (one more than `limit`, to tell truncation), with their cards; their
    customers and orders are loaded in two queries so the replay finds them in the session."""
    rows = (
        await session.execute(
            select(Payment, PaymentMethod)
            .outerjoin(PaymentMethod, PaymentMethod.id == Payment.payment_method_id)
            .where(
                Payment.company_id == company_id,
                Payment.created_at >= data.since,
                Payment.created_at < data.until,
            )
            .order_by(Payment.created_at, Payment.id)
            .limit(data.limit + 1)
        )
    ).all()
    pairs: list[tuple[Payment, PaymentMethod | None]] = [(p, m) for p, m in rows]
    customer_ids = {p.customer_id for p, _ in pairs if p.customer_id}
    order_ids = {p.order_id for p, _ in pairs if p.order_id}
    if customer_ids:
        await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    if order_ids:
        await session.scalars(select(Order).where(Order.id.in_(order_ids)))
    return pairs


async def _transaction(
    session: AsyncSession, payment: Payment, method: PaymentMethod | None
) -> Transaction:
    billing = (method.billing_address if method else None) or {}
    state = billing.get("state")
    return Transaction(
        amount=payment.amount - payment.surcharge_amount + payment.discount_amount,
        currency=payment.currency,
        moment=payment.created_at,
        card=CardFacts(
            brand=payment.card_brand,
            card_type=method.card_type if method else None,
            bin=payment.card_bin,
            issuing_country=payment.card_country,
        ),
        country=billing.get("country"),
        state=str(state).upper() if state else None,
        customer_id=payment.customer_id,
        order=await session.get(Order, payment.order_id) if payment.order_id else None,
        is_3ds_enrolled="three_d_secure" in payment.routing,
    )


class _Replay:
    """The tallies of one simulation."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.total = self.matched = self.changed = self.blocked = 0
        self.actions: Counter[str] = Counter()
        self.would: Counter[str] = Counter()
        self.actual: Counter[str] = Counter()
        self.differences: list[SimulatedPaymentOut] = []

    def add(self, payment: Payment, match: Match | None) -> None:
        self.total += 1
        actual_rule = payment.routing.get("rule_id")
        simulated_rule = match.rule.id if match else None
        if actual_rule:
            self.actual[actual_rule] += 1
        if match is not None:
            self.matched += 1
            self.would[match.rule.id] += 1
            self.actions.update(action.type for action in match.actions)
        would_block = match is not None and match.directive.block is not None
        self.blocked += would_block
        if simulated_rule == actual_rule and not would_block:
            return
        self.changed += 1
        if len(self.differences) < MAX_DIFFERENCES:
            self.differences.append(_difference(payment, match, would_block))

    def result(self, data: SimulationRequest, *, truncated: bool) -> SimulationOut:
        names = {rule.id: rule.name for rule in self.rule_set.rules}
        rule_ids = [rule.id for rule in self.rule_set.rules]
        rule_ids += [rule_id for rule_id in self.actual if rule_id not in names]
        return SimulationOut(
            since=data.since,
            until=data.until,
            total=self.total,
            truncated=truncated,
            matched=self.matched,
            unmatched=self.total - self.matched,
            changed=self.changed,
            would_block=self.blocked,
            actions=dict(self.actions),
            by_rule=[
                SimulatedRuleOut(
                    rule_id=rule_id,
                    name=names.get(rule_id, "(no longer active)"),
                    would_match=self.would[rule_id],
                    actually_matched=self.actual[rule_id],
                )
                for rule_id in rule_ids
            ],
            differences=self.differences,
            rule_set_version=self.rule_set.version,
        )


def _difference(payment: Payment, match: Match | None, would_block: bool) -> SimulatedPaymentOut:
    directive = match.directive if match else None
    return SimulatedPaymentOut(
        payment_id=payment.id,
        created_at=payment.created_at,
        amount=payment.amount,
        currency=payment.currency,
        actual_rule_id=payment.routing.get("rule_id"),
        simulated_rule_id=match.rule.id if match else None,
        actual_pool_id=payment.routing.get("pool_id"),
        actual_account_id=payment.merchant_account_id,
        simulated_pool_id=directive.pool_id if directive else None,
        simulated_account_id=directive.account_id if directive else None,
        would_block=would_block,
    )
