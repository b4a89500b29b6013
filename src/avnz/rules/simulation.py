"""The rule simulator: replay a date range of a company's payments through its current rules and
compare what would have matched with what actually routed them. Reads only.

Each payment is rebuilt as the engine saw it when it was made: the amount asked for (before any
surcharge or discount), its card, billing country, customer and order, at its own creation time;
its id is the A/B key, so a payment falls in the arm it fell in then. Customers are read as they
are now (lifetime value and risk move on; the payment did not keep them), and whether the card
was a stored token is not kept either: `is_tokenized` replays as false.

The payments are the payments domain's: it rebuilds them (`PaymentHistory`, passed in by the
caller), and the rules domain never reads their tables.
"""

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core.errors import InvalidRequest
from avnz.rules.cache import RuleCache
from avnz.rules.engine import Match, RuleSet, decide
from avnz.rules.inputs import Transaction, rule_context
from avnz.rules.schemas import (
    SimulatedPaymentOut,
    SimulatedRuleOut,
    SimulationOut,
    SimulationRequest,
)
from avnz.tenancy.visibility import target_company

MAX_RANGE = timedelta(days=92)
MAX_DIFFERENCES = 100


@dataclass(frozen=True, slots=True)
class PastPayment:
    """A payment as the engine saw it when it was made, and how it was actually routed."""

    id: str
    created_at: datetime
    amount: int  # as charged
    currency: str
    customer_id: str | None
    transaction: Transaction
    actual_rule_id: str | None
    actual_pool_id: str | None
    actual_account_id: str


# (session, company id, since, until, limit) -> the company's payments of [since, until) in
# creation order, at most `limit`.
PaymentHistory = Callable[
    [AsyncSession, str, datetime, datetime, int], Awaitable[list[PastPayment]]
]


async def simulate(
    *,
    session: AsyncSession,
    principal: Principal,
    cache: RuleCache,
    history: PaymentHistory,
    data: SimulationRequest,
) -> SimulationOut:
    if data.until <= data.since:
        raise InvalidRequest("until must be after since.", param="until")
    if data.until - data.since > MAX_RANGE:
        raise InvalidRequest(f"Simulate at most {MAX_RANGE.days} days at once.", param="until")
    company = await target_company(session, principal, data.company_id)
    rule_set = await cache.rule_set(session, company.id, company.timezone)
    # One more than `limit`, to tell truncation.
    payments = await history(session, company.id, data.since, data.until, data.limit + 1)
    replay = _Replay(rule_set)
    for payment in payments[: data.limit]:
        context = await rule_context(session, company, payment.transaction)
        match = decide(
            rule_set, context, transaction_key=payment.id, customer_key=payment.customer_id
        )
        replay.add(payment, match)
    return replay.result(data, truncated=len(payments) > data.limit)


class _Replay:
    """The tallies of one simulation."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.total = self.matched = self.changed = self.blocked = 0
        self.actions: Counter[str] = Counter()
        self.would: Counter[str] = Counter()
        self.actual: Counter[str] = Counter()
        self.differences: list[SimulatedPaymentOut] = []

    def add(self, payment: PastPayment, match: Match | None) -> None:
        self.total += 1
        actual_rule = payment.actual_rule_id
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


def _difference(
    payment: PastPayment, match: Match | None, would_block: bool
) -> SimulatedPaymentOut:
    directive = match.directive if match else None
    return SimulatedPaymentOut(
        payment_id=payment.id,
        created_at=payment.created_at,
        amount=payment.amount,
        currency=payment.currency,
        actual_rule_id=payment.actual_rule_id,
        simulated_rule_id=match.rule.id if match else None,
        actual_pool_id=payment.actual_pool_id,
        actual_account_id=payment.actual_account_id,
        simulated_pool_id=directive.pool_id if directive else None,
        simulated_account_id=directive.account_id if directive else None,
        would_block=would_block,
    )
