"""One charge, read top to bottom (DESIGN.md, "The payment hot path"):

1. **claim** the Idempotency-Key in the transaction that opens the payment (`idempotency.take`);
2. **card and configuration**: vault the card (or read the stored one) in one statement that
   also reads the company's configuration version, its rule-set version and the card's retry
   budget, so the cached company, routing configuration and compiled rules are checked for
   free (`configs`);
3. **decide**: the company's rules (block, route, surcharge, flag ...);
4. **plan and reserve**: the strategy's plan over the live usage and circuits (one read), the
   payment written `pending`, capacity reserved last (one conditional UPDATE), commit;
5. **call** the connector with no transaction open; an answer in doubt is inquired, never sent
   again; an account-level failure moves on to the plan's next account (`_reroute`);
6. **settle** in one transaction that reads nothing: the payment's UPDATE holds only while it
   is still pending, events and the stored answer ride along; commit;
7. **answer**: the payment as the API shows it (201, or 202 while in doubt).

What learns from the payment afterwards (routing's attempt records, the rules' counters) is
published off its transactions (`publishing`).
"""

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from avnz import idempotency
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import AppError, NotFound
from avnz.core.ids import new_id
from avnz.gateways.base import (
    Connector,
    GatewayResult,
    InquireRequest,
    PaymentRequest,
)
from avnz.idempotency import Claim, KeyInUse, StoredResponse
from avnz.payments import charge_request as request
from avnz.payments.models import Payment, PaymentKind
from avnz.payments.publishing import publisher_for
from avnz.payments.ruling import (
    RuleRefusal,
    Ruling,
    queue_notifications,
    record_refusal,
    refusal,
    rule_payment,
)
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import (
    PaymentCreate,
)
from avnz.payments.settling import (
    after_inquiry,
    close_decision,
    emit_event,
    locked_payment,
    payment_answer,
    record_settlement,
    release_capacity,
)
from avnz.payments.states import PaymentStatus
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.config import RoutingConfig
from avnz.routing.decisions import circuit_breaker
from avnz.routing.decisions.failover import (
    FailoverConfig,
    Step,
    is_account_failure,
    is_issuer_decline,
    may_try_again,
    next_step,
)
from avnz.routing.decisions.service import (
    NoEligibleAccount,
    RoutePlan,
    RoutingContext,
    plan_route,
    prefer,
)
from avnz.routing.decisions.snapshot import in_flight
from avnz.rules.inputs import home_country
from avnz.tenancy.models import Company

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)


class CardRetryBudgetSpent(AppError):
    """Too many attempts on one card across the company's accounts: card networks penalize
    merchants whose declined cards hop from account to account."""

    status_code = 429
    type = "rate_limit_error"
    default_code = "card_retry_budget_spent"


@dataclass(frozen=True, slots=True)
class Opened:
    """A payment written `pending` and the attempt about to go to `plan.accounts[position]`."""

    payment: Payment  # as committed (detached): settling starts from it, without a SELECT
    kind: PaymentKind
    connector: Connector
    request: PaymentRequest
    plan: RoutePlan
    position: int
    failover: FailoverConfig
    declines_left: int  # of the card's retry budget: failover stops before it is spent
    # As read when the payment opened: settling needs them (fees) and need not read them again.
    account: MerchantAccount
    company: Company
    attempts: tuple[dict[str, Any], ...] = ()  # the attempts made so far, as the payment keeps them

    @property
    def account_id(self) -> str:
        return self.plan.accounts[self.position].account.id

    @property
    def payment_id(self) -> str:
        return self.payment.id


# --- charge ----------------------------------------------------------------------------------


async def charge(
    gateways: PaymentRuntime, principal: Principal, data: PaymentCreate, claim: Claim | None
) -> StoredResponse | KeyInUse:
    """`create_payment`, answered as the API answers it: the work `idempotency.run_claiming`
    runs for `POST /payments`, the dashboard and the demo alike."""
    payment = await create_payment(gateways, principal, data, claim)
    if isinstance(payment, KeyInUse):
        return payment
    # Rendered once: the answer the settling transaction stored is the one to send.
    stored = claim.stored if claim is not None else None
    return stored if stored is not None else payment_answer(payment)


async def create_payment(
    gateways: PaymentRuntime, principal: Principal, data: PaymentCreate, claim: Claim | None
) -> Payment | KeyInUse:
    """Charge (or authorize) a card once and return the payment in its final state, or
    `pending` when the gateway's answer is in doubt and its inquiry could not settle it. An
    attempt that failed at the account's end (nothing charged) moves on to the plan's next
    account, within the pool's attempt and time budget. With a `claim` (an Idempotency-Key),
    the payment takes it when it opens and stores its answer when it settles; KeyInUse when
    another request holds the key."""
    started = time.perf_counter()
    if claim is not None and claim.resumes is not None:
        # A retry of a request that died after writing its payment: that payment, as it is.
        async with gateways.transaction() as session:
            return await session.get_one(Payment, claim.resumes)
    try:
        async with gateways.transaction() as session:
            opened = await _open_payment(session, gateways, principal, data, claim)
        if isinstance(opened, KeyInUse):
            return opened
    except RuleRefusal as refused:
        async with gateways.transaction() as session:
            await record_refusal(session, refused, clock.now(), livemode=principal.livemode)
        raise
    result = await _charge(opened)
    attempt = 1
    while _fails_over(opened, result, attempt, started):
        async with gateways.transaction() as session:
            opened, rerouted = await _reroute(session, gateways, opened, result, attempt)
        if not rerouted:
            break
        attempt += 1
        result = await _charge(opened)
    try:
        payment = await _settle(gateways, opened, result, attempt, started, claim)
    except StaleDataError:  # the sweep settled it first (it was pending that long): its answer
        if claim is not None:
            claim.stored = None  # stored in the transaction that rolled back
        async with gateways.transaction() as session:
            return await session.get_one(Payment, opened.payment_id)
    publisher_for(gateways.sessions).soon()
    return payment


async def _settle(
    gateways: PaymentRuntime,
    opened: Opened,
    result: GatewayResult,
    attempt: int,
    started: float,
    claim: Claim | None,
) -> Payment:
    """Record the answer, in one transaction that reads nothing: the payment, its account and
    company are the ones the payment opened with, and the payment's UPDATE holds only while it
    is still pending (StaleDataError otherwise)."""
    async with gateways.transaction() as session:
        # Into this session without a SELECT, and held by it (its identity map holds rows
        # weakly).
        rows = (opened.account, opened.company)
        session.info["opened_rows"] = [await session.merge(row, load=False) for row in rows]
        payment = await session.merge(opened.payment, load=False)
        # Nothing read here depends on the payment's own pending changes: one UPDATE at commit.
        with session.no_autoflush:
            await record_settlement(session, payment, result)
            await _close_decision(session, opened, result, attempt, payment)
            payment.processing_ms = round((time.perf_counter() - started) * 1000, 2)
            if claim is not None:
                await idempotency.store_answer(session, claim, payment_answer(payment))
    return payment


def _fails_over(opened: Opened, result: GatewayResult, attempt: int, started: float) -> bool:
    if not opened.plan.failover_enabled or opened.position + 1 >= len(opened.plan.accounts):
        return False
    elapsed_ms = (time.perf_counter() - started) * 1000
    return (
        next_step(result, opened.failover) is Step.TRY_NEXT
        and opened.payment.issuer_declines + is_issuer_decline(result) < opened.declines_left
        and may_try_again(opened.failover, attempts=attempt, elapsed_ms=elapsed_ms)
    )


async def _open_payment(
    session: AsyncSession,
    gateways: PaymentRuntime,
    principal: Principal,
    data: PaymentCreate,
    claim: Claim | None,
) -> Opened | KeyInUse:
    payment_id = new_id("pay")
    # First, so that a retry of a request already under way stops here: committed with the payment.
    if claim is not None and not await idempotency.take(session, claim, payment_id):
        return KeyInUse()
    company = await gateways.configs.company(session, principal, data.company_id)
    customer_id = await request.customer_of(session, principal, company, data.customer_id)
    order = await request.order_of(session, principal, company, data.order_id)
    amount, currency = request.amount_of(data, order)
    charge_card, card = await request.instrument(
        session, gateways.keyring, principal, company, data
    )
    method = charge_card.method
    # The configuration this payment routes by, checked against the version the card read.
    config = await gateways.configs.current(
        session, principal, company.id, charge_card.config_version
    )
    company = config.company
    now = clock.now()
    transaction = request.transaction_facts(data, method, order, customer_id, amount, currency, now)
    ruling = await rule_payment(
        session,
        gateways.rules,
        company,
        transaction,
        payment_id=payment_id,
        rule_set_version=charge_card.rule_set_version,
    )
    refused = refusal(
        ruling,
        company_id=company.id,
        payment_id=payment_id,
        authenticated=data.three_d_secure is not None,
    )
    if refused is not None:
        raise refused
    directive = ruling.directive
    charged = directive.final_amount(amount)
    context = RoutingContext(
        company_id=company.id,
        amount=charged,
        currency=currency,
        card_brand=method.brand,
        card_country=method.issuing_country,
        product_category=ruling.context.product.category,
        account_id=data.merchant_account_id or directive.account_id,
        pool_id=directive.pool_id,
        strategy=directive.strategy,
        home_country=home_country(company),
        livemode=principal.livemode,
    )
    plan = await _plan(
        session, context, ruling, config.routing, pinned=data.merchant_account_id is not None
    )
    if order is not None and order.is_renewal and customer_id is not None:
        plan = prefer(plan, await _first_account(session, customer_id))
    failover = FailoverConfig.model_validate(plan.failover_config)
    budget = max(0, failover.card_retry_budget - charge_card.attempts_used)
    if budget == 0:
        raise CardRetryBudgetSpent(
            f"This card was declined {failover.card_retry_budget} times in the last 24 hours; "
            "try again later or with another card.",
            param="card",
        )
    # The strategy's choice; its capacity is reserved last (below).
    account = plan.accounts[0].account
    payment = Payment(
        id=payment_id,
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        customer_id=customer_id,
        order_id=order.id if order else None,
        payment_method_id=method.id,
        merchant_account_id=account.id,
        provider=account.provider_type,
        livemode=principal.livemode,
        kind=request.payment_kind(data, ruling).value,
        status=PaymentStatus.PENDING.value,
        amount=charged,
        currency=currency,
        surcharge_amount=directive.surcharge,
        discount_amount=amount + directive.surcharge - charged,
        review=request.review_flag(ruling),
        card_brand=method.brand,
        card_bin=method.bin,
        card_last4=method.last4,
        card_country=method.issuing_country,
        email=data.email,
        ip_address=data.ip_address,
        description=data.description,
        descriptor=data.descriptor or account.descriptor,
        metadata_={**directive.metadata, **data.metadata},  # the request's own keys win
        routing={
            **plan.record(),
            **ruling.record(),
            **request.three_d_secure(data),
            "decision_id": new_id("rdec"),
            "selected_account_id": plan.accounts[0].account.id,
            "condition_results": ruling.condition_results(),
            "attempts": [],
        },
        reserved_at=now,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(payment)
    await session.flush()
    _known_as_inserted(payment)
    await queue_notifications(session, ruling, company, payment.id, livemode=payment.livemode)
    if payment.review is not None:
        emit_event(session, "payment.review_required", payment)
    # Last: every payment on the account updates the same usage rows, and their row locks are
    # held until the commit that follows (the rule's hit is counted when the payment settles).
    position, reserved = await _reserve_from(session, plan, 0, charged, now)
    if reserved is not account:  # the first choice was full: the payment moves to another one
        account = reserved
        _assign(payment, account, now)
        # No probability describes the account the payment opened on instead.
        payment.routing |= {"selected_account_id": account.id, "probability": None}
    return Opened(
        payment=payment,
        kind=PaymentKind(payment.kind),
        connector=await gateways.connector(session, account),
        request=request.gateway_request(payment, card, data),
        plan=plan,
        position=position,
        failover=failover,
        declines_left=budget,
        account=account,
        company=company,
    )


def _known_as_inserted(payment: Payment) -> None:
    """Mark the columns the INSERT left NULL as known, so the payment settles later from this
    object without reading it back (`_settle`)."""
    state = inspect(payment)
    columns = state.mapper.columns
    for key in state.unloaded:
        if key in columns and columns[key].server_default is None:
            set_committed_value(payment, key, None)


async def _plan(
    session: AsyncSession,
    context: RoutingContext,
    ruling: Ruling,
    config: RoutingConfig,
    *,
    pinned: bool,
) -> RoutePlan:
    """The route the rule chose; when its pool or account cannot take the payment, the
    company's default routing (a rule's broken route never loses a payment). A route the
    request named itself is never second-guessed."""
    ruled = not pinned and (context.pool_id is not None or context.account_id is not None)
    try:
        return await plan_route(session, context, config)
    except (NotFound, NoEligibleAccount) as unusable:
        if not ruled:
            raise
        log.warning("rules.route_unusable", reason=unusable.message, **ruling.record())
        ruling.directive.failures.append(f"route: {unusable.message} Default routing used.")
        return await plan_route(
            session, replace(context, pool_id=None, strategy=None, account_id=None), config
        )


async def _first_account(session: AsyncSession, customer_id: str) -> str | None:
    """The account that served the customer's first successful payment: rebills stay there
    when they can (issuers trust a subscription that keeps its merchant)."""
    return await session.scalar(
        select(Payment.merchant_account_id)
        .where(Payment.customer_id == customer_id, Payment.amount_captured > 0)
        .order_by(Payment.created_at, Payment.id)
        .limit(1)
    )


async def _reserve_from(
    session: AsyncSession, plan: RoutePlan, start: int, amount: int, at: datetime
) -> tuple[int, MerchantAccount]:
    """The first account of the plan from `start` on whose caps can take `amount`, reserved.
    When none can: the only account's own refusal, or every account's reason."""
    refusals: dict[str, str] = {}
    last: usage.LimitExceeded | None = None
    for position in range(start, len(plan.accounts)):
        account = plan.accounts[position].account
        try:
            await usage.reserve(session, account, amount, at)
        except usage.LimitExceeded as refused:
            refusals[account.id], last = refused.message, refused
            continue
        return position, account
    if last is not None and len(plan.accounts) == 1:
        raise last
    raise NoEligibleAccount(
        "No merchant account can take this payment now ("
        + "; ".join(f"{account}: {why}" for account, why in refusals.items())
        + ")."
    )


def _assign(payment: Payment, account: MerchantAccount, reserved_at: datetime) -> None:
    """The payment now goes to `account`, whose capacity was reserved at `reserved_at`."""
    payment.merchant_account_id, payment.provider = account.id, account.provider_type
    payment.reserved_at = reserved_at
    payment.routing = {**payment.routing, "account_id": account.id}


async def _reroute(
    session: AsyncSession,
    gateways: PaymentRuntime,
    opened: Opened,
    result: GatewayResult,
    attempt: int,
) -> tuple[Opened, bool]:
    """Give the failed account its capacity back and move the payment to the next account of
    the plan that has room; and whether there was one."""
    payment = await locked_payment(session, opened.payment_id)
    payment.issuer_declines += is_issuer_decline(result)
    opened = await _note_attempt(session, opened, result, attempt, Step.TRY_NEXT)
    payment.routing = {**payment.routing, "attempts": list(opened.attempts)}
    await release_capacity(session, payment)
    now = clock.now()
    try:
        position, account = await _reserve_from(
            session, opened.plan, opened.position + 1, payment.amount, now
        )
    except (NoEligibleAccount, usage.LimitExceeded):
        return replace(opened, payment=payment), False
    _assign(payment, account, now)
    payment.attempt_count = attempt + 1
    connector = await gateways.connector(session, account)
    rerouted = replace(
        opened, payment=payment, connector=connector, position=position, account=account
    )
    return rerouted, True


async def _note_attempt(
    session: AsyncSession,
    opened: Opened,
    result: GatewayResult,
    attempt: int,
    step: Step,
) -> Opened:
    """`opened` with the attempt added to its attempts; the account's circuit breaker counts it."""
    ok = not is_account_failure(result)
    if not result.charge_may_exist and (not ok or opened.plan.closes_circuit(opened.account_id)):
        await circuit_breaker.record_outcome(session, opened.account_id, ok, opened.failover)
    noted = {
        "attempt": attempt,
        "account_id": opened.account_id,
        "outcome": result.outcome.value,
        "decline_reason": result.decline_reason.value if result.decline_reason else None,
        "latency_ms": result.latency_ms,
        "step": step.value,
        "created_at": clock.now().isoformat(),
    }
    return replace(opened, attempts=(*opened.attempts, noted))


async def _close_decision(
    session: AsyncSession, opened: Opened, result: GatewayResult, attempt: int, payment: Payment
) -> None:
    step = Step.INQUIRE if result.charge_may_exist else Step.STOP
    closed = await _note_attempt(session, opened, result, attempt, step)
    payment.routing = {
        **payment.routing,
        "attempts": list(closed.attempts),
        "final_account_id": opened.account_id,
    }
    # A payment still pending keeps its decision open: the sweep closes it once it knows.
    if payment.status != PaymentStatus.PENDING:
        close_decision(payment)


async def _charge(opened: Opened) -> GatewayResult:
    connector = opened.connector
    call = connector.sale if opened.kind is PaymentKind.SALE else connector.authorize
    in_flight.started(opened.account_id)
    try:
        result = await call(opened.request)
    finally:
        in_flight.ended(opened.account_id)
    if not result.charge_may_exist:
        return result
    # The answer was lost or unreadable: ask the gateway what it did, never charge again.
    return after_inquiry(
        result, await connector.inquire(InquireRequest(result.transaction_id, opened.payment_id))
    )
