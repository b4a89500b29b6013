"""The payment hot path (DESIGN.md, "The payment hot path"): open, call, settle.

Every money movement runs in three steps, and no database transaction is open during the
gateway call:

1. **open** (one short transaction): check the request, vault the card, choose the account and
   reserve its capacity, write the payment `pending` (or claim the capture, void or refund),
   commit;
2. **call** the connector with the card held in memory only;
3. **settle** (one short transaction): the outcome class decides the status; a declined or failed
   payment gives its reservation back; events, customer and order follow; commit.

An answer that leaves the charge in doubt (timeout after sending, an unreadable reply) is
resolved by the connector's inquiry, never by charging again. What the inquiry cannot resolve
stays `pending` (or keeps its `pending_action`) for the worker's sweep (`payments.sweep`).
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.commerce.models import Order, OrderStatus
from avnz.core import clock
from avnz.core.cards import Brand
from avnz.core.errors import AppError, Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.money import Money
from avnz.db.engine import WriteTurns
from avnz.gateways import registry
from avnz.gateways.base import (
    Address,
    Card,
    Connector,
    GatewayResult,
    GatewayState,
    InquireRequest,
    Outcome,
    PaymentRequest,
    Timeouts,
)
from avnz.integrations import service as integrations
from avnz.outbox import service as events
from avnz.payments import configs, idempotency, vault
from avnz.payments.configs import ConfigCache
from avnz.payments.idempotency import Claim, KeyInUse, StoredResponse
from avnz.payments.models import Payment, PaymentKind, PaymentMethod
from avnz.payments.publishing import publisher_for
from avnz.payments.reading import to_out
from avnz.payments.ruling import (
    RuleRefusal,
    Ruling,
    queue_notifications,
    record_refusal,
    refusal,
    rule_payment,
)
from avnz.payments.schemas import (
    BillingAddress,
    PaymentCreate,
    PaymentMethodCreate,
)
from avnz.payments.states import PaymentAction, PaymentStatus, next_status
from avnz.routing import exclusions, usage
from avnz.routing import service as accounts
from avnz.routing.config import RoutingConfig
from avnz.routing.failover import FailoverConfig, Step, is_account_failure, may_try_again, next_step
from avnz.routing.fees import transaction_fee
from avnz.routing.models import MerchantAccount
from avnz.routing.schemas import AccountFees
from avnz.routing.selection import (
    NoEligibleAccount,
    RoutePlan,
    RoutingContext,
    plan_route,
    prefer,
)
from avnz.routing.snapshot import in_flight
from avnz.rules.cache import RuleCache
from avnz.rules.inputs import CardFacts, Transaction, home_country
from avnz.security.keyring import Keyring
from avnz.tenancy.models import Company

if TYPE_CHECKING:
    from avnz.runtime import Runtime

log = structlog.get_logger(__name__)


class CardRetryBudgetSpent(AppError):
    """Too many attempts on one card across the company's accounts: card networks penalize
    merchants whose declined cards hop from account to account."""

    status_code = 429
    type = "rate_limit_error"
    default_code = "card_retry_budget_spent"


class PaymentDeclined(AppError):
    """A capture, void or refund the gateway refused; the payment is unchanged."""

    status_code = 402
    type = "payment_error"
    default_code = "gateway_declined"


@dataclass(frozen=True, slots=True)
class Gateways:
    """What a gateway call needs from the process: sessions, the keyring, the shared client and
    the timeouts every connector gets."""

    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    http: httpx.AsyncClient
    timeouts: Timeouts = field(default_factory=Timeouts)
    rules: RuleCache = field(default_factory=RuleCache)
    write_turns: WriteTurns = field(default_factory=WriteTurns.unqueued)
    configs: ConfigCache = field(default_factory=ConfigCache)

    @classmethod
    def of(cls, runtime: "Runtime") -> "Gateways":
        settings = runtime.settings
        timeouts = Timeouts(
            connect=settings.gateway_connect_timeout_seconds,
            read=settings.gateway_read_timeout_seconds,
        )
        return cls(
            runtime.sessions,
            runtime.keyring,
            runtime.http,
            timeouts,
            runtime.rule_cache,
            runtime.write_turns,
            configs.cache_for(runtime.sessions),
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction of the payment path, in its turn (`WriteTurns`)."""
        async with self.write_turns.turn(), self.sessions.begin() as session:
            yield session

    async def connector(self, session: AsyncSession, account: MerchantAccount) -> Connector:
        config = await accounts.connector_config(session, self.keyring, account)
        config = replace(config, timeouts=self.timeouts)
        return registry.connector(account.provider_type, config, self.http)


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
    attempts_allowed: int  # the pool's max attempts, capped by the card's retry budget
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
    gateways: Gateways, principal: Principal, data: PaymentCreate, claim: Claim | None
) -> StoredResponse | KeyInUse:
    """`create_payment`, answered as the API answers it: the work `idempotency.run_claiming`
    runs for `POST /payments`, the dashboard and the demo alike."""
    payment = await create_payment(gateways, principal, data, claim)
    return payment if isinstance(payment, KeyInUse) else payment_answer(payment)


def payment_answer(payment: Payment) -> StoredResponse:
    """201 for a payment with a final answer (approved or declined: read `status`), 202 while
    the gateway's answer is in doubt (it is settled by inquiry; poll or wait for the webhook)."""
    in_doubt = payment.status == PaymentStatus.PENDING or payment.pending_action is not None
    code = 202 if in_doubt else 201
    return StoredResponse(code, to_out(payment).model_dump(mode="json"))


async def create_payment(
    gateways: Gateways, principal: Principal, data: PaymentCreate, claim: Claim | None
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
            await record_refusal(session, refused, clock.now())
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
        async with gateways.transaction() as session:
            return await session.get_one(Payment, opened.payment_id)
    publisher_for(gateways.sessions).soon()
    return payment


async def _settle(
    gateways: Gateways,
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
        and attempt < opened.attempts_allowed
        and may_try_again(opened.failover, attempts=attempt, elapsed_ms=elapsed_ms)
    )


async def _open_payment(
    session: AsyncSession,
    gateways: Gateways,
    principal: Principal,
    data: PaymentCreate,
    claim: Claim | None,
) -> Opened | KeyInUse:
    payment_id = new_id("pay")
    # First, so that a retry of a request already under way stops here: committed with the payment.
    if claim is not None and not await idempotency.take(session, claim, payment_id):
        return KeyInUse()
    company = await gateways.configs.company(session, principal, data.company_id)
    customer_id = await _customer_id(session, principal, company, data.customer_id)
    order = await _order(session, principal, company, data.order_id)
    amount, currency = _amount(data, order)
    charge_card, card = await _instrument(session, gateways.keyring, principal, company, data)
    method = charge_card.method
    # The configuration this payment routes by, checked against the version the card read.
    config = await gateways.configs.current(
        session, principal, company.id, charge_card.config_version
    )
    company = config.company
    now = clock.now()
    transaction = _transaction(data, method, order, customer_id, amount, currency, now)
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
            f"This card was tried {failover.card_retry_budget} times in the last 24 hours; "
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
        kind=_kind(data, ruling).value,
        status=PaymentStatus.PENDING.value,
        amount=charged,
        currency=currency,
        surcharge_amount=directive.surcharge,
        discount_amount=amount + directive.surcharge - charged,
        review=_review(ruling),
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
            **_three_d_secure(data),
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
    await queue_notifications(session, ruling, company, payment.id)
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
        request=_gateway_request(payment, card, data),
        plan=plan,
        position=position,
        failover=failover,
        attempts_allowed=min(failover.max_attempts, budget),
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


def _transaction(
    data: PaymentCreate,
    method: PaymentMethod,
    order: Order | None,
    customer_id: str | None,
    amount: int,
    currency: str,
    now: datetime,
) -> Transaction:
    """The payment as the rule engine reads it (before any surcharge or discount)."""
    billing = data.billing_address or BillingAddress.model_validate(method.billing_address or {})
    return Transaction(
        amount=amount,
        currency=currency,
        moment=now,
        card=CardFacts(method.brand, method.card_type, method.bin, method.issuing_country),
        country=billing.country,
        state=billing.state.upper() if billing.state else None,
        customer_id=customer_id,
        order=order,
        is_tokenized=data.payment_method_id is not None,
        is_3ds_enrolled=data.three_d_secure is not None,
    )


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


def _kind(data: PaymentCreate, ruling: Ruling) -> PaymentKind:
    """A sale unless the request asked for an authorization or a review holds the funds."""
    review = ruling.directive.review
    if not data.capture or (review is not None and review.hold_funds):
        return PaymentKind.AUTHORIZE
    return PaymentKind.SALE


def _review(ruling: Ruling) -> dict[str, Any] | None:
    review = ruling.directive.review
    if review is None or ruling.match is None:
        return None
    return {
        "status": "pending",
        "reason": review.reason,
        "severity": review.severity,
        "hold_funds": review.hold_funds,
        "rule_id": ruling.match.rule.id,
    }


def _three_d_secure(data: PaymentCreate) -> dict[str, Any]:
    """What the payment keeps of its 3-D Secure result: the ECI and version, never the CAVV."""
    if data.three_d_secure is None:
        return {}
    secure = data.three_d_secure
    return {"three_d_secure": {"eci": secure.eci, "version": secure.version}}


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
    gateways: Gateways,
    opened: Opened,
    result: GatewayResult,
    attempt: int,
) -> tuple[Opened, bool]:
    """Give the failed account its capacity back and move the payment to the next account of
    the plan that has room; and whether there was one."""
    payment = await locked_payment(session, opened.payment_id)
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
        await exclusions.record_outcome(session, opened.account_id, ok, opened.failover)
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


def close_decision(payment: Payment) -> None:
    """The payment's routing decision ends with its status, now."""
    payment.routing = {
        **payment.routing,
        "final_outcome": payment.status,
        "completed_at": clock.now().isoformat(),
    }


async def _customer_id(
    session: AsyncSession, principal: Principal, company: Company, customer_id: str | None
) -> str | None:
    if customer_id is None:
        return None
    customer = await commerce.get_customer(
        session=session, principal=principal, customer_id=customer_id
    )
    if customer.company_id != company.id:
        raise NotFound(f"No customer {customer_id!r} in this company.", param="customer_id")
    return customer.id


async def _order(
    session: AsyncSession, principal: Principal, company: Company, order_id: str | None
) -> Order | None:
    if order_id is None:
        return None
    order = await commerce.get_order(session=session, principal=principal, order_id=order_id)
    if order.company_id != company.id:
        raise NotFound(f"No order {order_id!r} in this company.", param="order_id")
    if order.status != OrderStatus.PENDING:
        raise InvalidRequest(
            f"Order {order_id!r} is {order.status}; only a pending order can be paid.",
            code="order_not_payable",
            param="order_id",
        )
    return order


def _amount(data: PaymentCreate, order: Order | None) -> tuple[int, str]:
    """The amount and currency: as sent, or the order's total; both must agree."""
    amount = data.amount if data.amount is not None else (order.total if order else None)
    currency = data.currency or (order.currency if order else None)
    if amount is None or currency is None:  # the schema guarantees one of the two sources
        raise InvalidRequest("amount and currency are required.", param="amount")
    if order is not None and (currency != order.currency or amount != order.total):
        raise InvalidRequest(
            f"The order is for {Money(order.total, order.currency)}; a payment for it must be "
            "for that amount and currency.",
            code="amount_mismatch",
            param="amount",
        )
    try:
        Money(amount, currency)
    except ValueError:
        raise InvalidRequest(
            f"{currency!r} is not an ISO 4217 currency.", code="invalid_currency", param="currency"
        ) from None
    if amount <= 0:
        raise InvalidRequest("The amount must be positive.", param="amount")
    return amount, currency


async def _instrument(
    session: AsyncSession,
    keyring: Keyring,
    principal: Principal,
    company: Company,
    data: PaymentCreate,
) -> tuple[vault.ChargeCard, Card]:
    """The vaulted card (with what its statement read along) and its clear form for this one
    call (the CVV only ever in memory)."""
    if data.card is not None:
        create = PaymentMethodCreate(
            company_id=company.id,
            customer_id=data.customer_id,
            card=data.card,
            billing_address=data.billing_address,
        )
        charge_card = await vault.vault_for_charge(session, principal, keyring, company, create)
        cvv = data.card.cvv.get_secret_value() if data.card.cvv else None
        return charge_card, vault.reveal(charge_card.method, keyring, cvv=cvv)
    assert data.payment_method_id is not None  # the schema allows exactly one of the two
    charge_card = await vault.vaulted_for_charge(
        session, principal, company, data.payment_method_id
    )
    return charge_card, vault.reveal(charge_card.method, keyring)


def _gateway_request(payment: Payment, card: Card, data: PaymentCreate) -> PaymentRequest:
    billing = data.billing_address or BillingAddress()
    return PaymentRequest(
        amount=payment.amount,
        currency=payment.currency,
        order_id=payment.id,  # our id at the gateway: how an inquiry finds a lost answer
        card=card,
        billing=Address(
            first_name=None,
            line1=billing.line1,
            line2=billing.line2,
            city=billing.city,
            state=billing.state,
            postal_code=billing.postal_code,
            country=billing.country,
        ),
        email=payment.email,
        ip_address=payment.ip_address,
        customer_id=payment.customer_id,
        descriptor=payment.descriptor,
        description=payment.description,
        metadata={"avnz_payment_id": payment.id},
        idempotency_key=payment.id,
    )


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


# What an inquiry's state means for the attempt it looked up.
_FOUND: dict[GatewayState, Outcome] = {
    GatewayState.AUTHORIZED: Outcome.APPROVED,
    GatewayState.CAPTURED: Outcome.APPROVED,
    GatewayState.DECLINED: Outcome.HARD_DECLINE,
    GatewayState.NOT_FOUND: Outcome.ERROR_BEFORE_SEND,  # it never happened: nothing charged
    GatewayState.VOIDED: Outcome.ERROR_BEFORE_SEND,
}


def after_inquiry(attempt: GatewayResult, inquiry: GatewayResult) -> GatewayResult:
    """The attempt as the inquiry found it; still in doubt when the inquiry found nothing sure."""
    outcome = _FOUND.get(inquiry.state) if inquiry.state else None
    if outcome is None:
        return attempt
    return replace(
        inquiry,
        operation=attempt.operation,
        outcome=outcome,
        latency_ms=attempt.latency_ms + inquiry.latency_ms,
        transaction_id=inquiry.transaction_id or attempt.transaction_id,
    )


# --- settle ----------------------------------------------------------------------------------


def _action(payment: Payment, result: GatewayResult) -> PaymentAction | None:
    """What the gateway's answer does to a pending payment; None while it is in doubt."""
    if result.outcome is Outcome.APPROVED:
        return PaymentAction.SALE if payment.kind == PaymentKind.SALE else PaymentAction.AUTHORIZE
    if result.charge_may_exist:
        return None
    if result.outcome in (Outcome.HARD_DECLINE, Outcome.SOFT_DECLINE):
        return PaymentAction.DECLINE
    return PaymentAction.FAIL  # error before send, config error, a refusal we could read


async def locked_payment(session: AsyncSession, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    if payment is None:  # written by this process moments ago; only a purge could do this
        raise NotFound(f"No payment {payment_id!r}.")
    return payment


async def settle_payment(session: AsyncSession, payment_id: str, result: GatewayResult) -> Payment:
    """Record the gateway's answer on a pending payment and follow it."""
    return await record_settlement(session, await locked_payment(session, payment_id), result)


async def record_settlement(
    session: AsyncSession, payment: Payment, result: GatewayResult
) -> Payment:
    """`settle_payment` for a payment already in the session (locked, or updated only while
    it is still pending: `Payment.status` is its version)."""
    if payment.status != PaymentStatus.PENDING:
        return payment  # the sweep settled it first; its answer stands
    _record_answer(payment, result)
    action = _action(payment, result)
    if action is None:
        log.warning("payment.in_doubt", payment_id=payment.id, outcome=result.outcome.value)
        return payment
    payment.status = next_status(PaymentStatus(payment.status), action).value
    payment.completed_at = clock.now()
    if action in (PaymentAction.SALE, PaymentAction.AUTHORIZE):
        await _approved(session, payment, result)
    else:
        await release_capacity(session, payment)
        emit_event(session, "payment.failed", payment)
    return payment


def _record_answer(payment: Payment, result: GatewayResult) -> None:
    payment.outcome = result.outcome.value
    payment.decline_reason = result.decline_reason.value if result.decline_reason else None
    payment.gateway_transaction_id = result.transaction_id or payment.gateway_transaction_id
    payment.auth_code = result.auth_code or payment.auth_code
    payment.avs_result = result.avs.value
    payment.cvv_result = result.cvv.value
    payment.raw_code = result.raw_code
    payment.raw_message = result.raw_message
    payment.gateway_latency_ms = result.latency_ms


async def _approved(session: AsyncSession, payment: Payment, result: GatewayResult) -> None:
    if payment.kind == PaymentKind.SALE:
        await record_paid(session, payment, payment.amount)
        emit_event(session, "payment.succeeded", payment)
    else:
        account = await session.get_one(MerchantAccount, payment.merchant_account_id)
        company = await session.get_one(Company, payment.company_id)
        payment.fee = _fee(account, company, payment, payment.amount)
        emit_event(session, "payment.authorized", payment)


async def record_paid(session: AsyncSession, payment: Payment, amount: int) -> None:
    """Money moved: its fees, the order paid, one more purchase for the customer, and the
    platform's share when the account charges through the organization's integration."""
    payment.amount_captured = amount
    account = await session.get_one(MerchantAccount, payment.merchant_account_id)
    company = await session.get_one(Company, payment.company_id)
    payment.fee = _fee(account, company, payment, amount)
    if account.platform_integration_id and account.client_integration_id:
        payment.platform_fee = await integrations.record_platform_usage(
            session, account.client_integration_id, amount, payment.currency
        )
    await follow_order(session, payment, OrderStatus.PAID)
    if payment.customer_id:
        await commerce.record_purchase(
            session=session,
            company_id=payment.company_id,
            customer_id=payment.customer_id,
            amount_minor=payment.amount_captured,
            currency=payment.currency,
        )


async def follow_order(session: AsyncSession, payment: Payment, status: OrderStatus) -> None:
    """Move the payment's order along. The money has moved already: an order that cannot follow
    (cancelled meanwhile) is logged for a person to look at, never a reason to lose the payment."""
    if payment.order_id is None:
        return
    try:
        await commerce.mark_order(
            session=session, company_id=payment.company_id, order_id=payment.order_id, status=status
        )
    except Conflict as refused:
        log.warning("payment.order_not_updated", payment_id=payment.id, reason=refused.message)


def _fee(account: MerchantAccount, company: Company, payment: Payment, amount: int) -> int:
    international = payment.card_country is not None and payment.card_country != home_country(
        company
    )
    fees = AccountFees.model_validate(account.fees)
    brand = Brand(payment.card_brand) if payment.card_brand else None
    return transaction_fee(fees, amount, card_brand=brand, international=international)


async def release_capacity(session: AsyncSession, payment: Payment) -> None:
    """Give the account back the capacity this payment held (once)."""
    if payment.reserved_at is None:
        return
    reservation = usage.Reservation(
        account_id=payment.merchant_account_id,
        amount_minor=payment.amount,
        buckets=usage.buckets_at(payment.reserved_at),
    )
    await usage.release(session, reservation)
    payment.reserved_at = None


def emit_event(session: AsyncSession, name: str, payment: Payment, **extra: Any) -> None:
    events.emit(
        session,
        name,
        organization_id=payment.organization_id,
        client_id=payment.client_id,
        company_id=payment.company_id,
        payload={"payment": to_out(payment).model_dump(mode="json"), **extra},
    )


async def connector_for(session: AsyncSession, gateways: Gateways, payment: Payment) -> Connector:
    account = await session.get_one(MerchantAccount, payment.merchant_account_id)
    return await gateways.connector(session, account)
