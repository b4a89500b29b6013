"""The rule engine on the payment path (DESIGN.md, hot path step 4).

`rule_payment` evaluates the company's compiled rules for a payment about to be opened and
returns a `Ruling`: the matched rule (if any), its arm and the directive its actions produced.
The payment flow then follows the directive: a block or a missing 3-D Secure authentication
refuses the payment before any capacity is reserved (`RuleRefusal`, recorded by
`record_refusal` in a transaction of its own, since the refused one rolls back); routes,
surcharges, discounts, review flags, metadata and notifications shape the payment it writes.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.errors import AppError
from avnz.outbox import service as events
from avnz.rules import analytics, notify
from avnz.rules.actions.base import Directive
from avnz.rules.cache import RuleCache
from avnz.rules.context import RuleContext
from avnz.rules.engine import Match, decide
from avnz.rules.inputs import Transaction, rule_context
from avnz.tenancy.models import Company


@dataclass(frozen=True, slots=True)
class Ruling:
    context: RuleContext
    match: Match | None = None
    directive: Directive = field(default_factory=Directive)

    def record(self) -> dict[str, Any]:
        """What the payment keeps of the rule in its `routing`."""
        if self.match is None:
            return {"rule_id": None}
        rule = self.match.rule
        return {
            "rule_id": rule.id,
            "rule_name": rule.name,
            "rule_version": rule.version,
            "rule_arm": self.match.arm.value,
            "rule_failures": list(self.directive.failures),
        }

    def condition_results(self) -> list[dict[str, Any]] | None:
        """The matched rule's conditions, each with its result, for the routing decision."""
        if self.match is None:
            return None
        return [asdict(result) for result in self.match.explain(self.context)]


async def rule_payment(
    session: AsyncSession,
    cache: RuleCache,
    company: Company,
    transaction: Transaction,
    *,
    payment_id: str,
    rule_set_version: int | None = None,
) -> Ruling:
    """The company's rules applied to the payment (`rule_set_version`: when already read)."""
    context = await rule_context(session, company, transaction)
    rule_set = await cache.rule_set(session, company.id, company.timezone, rule_set_version)
    match = decide(
        rule_set, context, transaction_key=payment_id, customer_key=transaction.customer_id
    )
    if match is None:
        return Ruling(context)
    return Ruling(context, match, match.directive)


class RuleRefusal(AppError):
    """A payment a rule refused before anything was reserved or sent to a gateway."""

    status_code: ClassVar[int] = 402
    type: ClassVar[str] = "payment_error"
    default_code: ClassVar[str] = "payment_blocked"

    def __init__(
        self, message: str, *, code: str, ruling: Ruling, company_id: str, payment_id: str
    ) -> None:
        super().__init__(message, code=code)
        self.ruling = ruling
        self.company_id = company_id
        self.payment_id = payment_id


def refusal(
    ruling: Ruling, *, company_id: str, payment_id: str, authenticated: bool
) -> RuleRefusal | None:
    """The refusal the rule's directive calls for, if any (one that authentication lifts only
    when the payment is not authenticated)."""
    if ruling.match is None:
        return None
    found = ruling.directive.refusal(authenticated=authenticated)
    if found is None:
        return None
    rule = ruling.match.rule
    return RuleRefusal(
        f"Routing rule {rule.name!r} ({rule.id}) {found.message}",
        code=found.code,
        ruling=ruling,
        company_id=company_id,
        payment_id=payment_id,
    )


async def queue_notifications(
    session: AsyncSession, ruling: Ruling, company: Company, payment_id: str, *, livemode: bool
) -> None:
    if ruling.match is None or not ruling.directive.notifications:
        return
    context = ruling.context
    await notify.queue_notifications(
        session,
        ruling.directive.notifications,
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        rule_id=ruling.match.rule.id,
        rule_name=ruling.match.rule.name,
        payment_id=payment_id,
        amount=context.amount,
        currency=context.currency,
        country=context.country,
        card_brand=context.card_brand,
        livemode=livemode,
    )


async def record_refusal(
    session: AsyncSession, refused: RuleRefusal, at: datetime, *, livemode: bool
) -> None:
    """What survives a refused payment: the rule's hit and failure, its notifications and a
    `payment.blocked` event (the refused transaction itself rolled back)."""
    ruling = refused.ruling
    if ruling.match is None:
        return
    company = await session.get_one(Company, refused.company_id)
    match = ruling.match
    await analytics.record_payment(
        session, rule_id=match.rule.id, arm=match.arm, at=at, hit=True, succeeded=False
    )
    await queue_notifications(session, ruling, company, refused.payment_id, livemode=livemode)
    context = ruling.context
    events.emit(
        session,
        "payment.blocked",
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        livemode=livemode,
        payload={
            "payment_id": refused.payment_id,
            "code": refused.code,
            "message": refused.message,
            "amount": context.amount,
            "currency": context.currency,
            "card_brand": context.card_brand,
            "livemode": livemode,
            **ruling.record(),
        },
    )
