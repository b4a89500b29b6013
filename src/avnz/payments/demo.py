"""Demo payments: a few hundred real payments through the built-in sandboxes, so the dashboard
and the API have history to show on a fresh machine.

`avnz demo` runs while no server does, so the sandboxes are served in-process (the accounts'
URLs end in /sandbox/{gateway}, which the ASGI transport routes as `avnz serve` would). The
payments go through the real hot path, each at its own moment of the last seven days (the clock
is set back for it), so everything they touch is dated as they are: the accounts' usage of that
day and month, their events, their follow-ups. Safe to run again: it only tops the brand up to
its target (DEMO_PAYMENTS, SECOND_BRAND_PAYMENTS).
"""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Mount, Router
from stdnum import luhn

from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.commerce.models import Customer
from avnz.commerce.schemas import CustomerCreate
from avnz.core import clock
from avnz.gateways import registry
from avnz.payments import charge, follow_ups, settling
from avnz.payments.models import Payment
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import CaptureCreate, CardIn, PaymentCreate, RefundCreate
from avnz.payments.states import PaymentStatus
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.security.keyring import Keyring

DEMO_PAYMENTS = 300
SECOND_BRAND_PAYMENTS = 60  # the second agency's brand: enough to show, quick to make
DEMO_CUSTOMERS = 24
# Test cards every sandbox approves (number, CVV): PayPal's pilot list is the narrowest.
CARDS = (
    ("4111111111111111", "999"),
    ("5555555555554444", "999"),
    ("6011111111111117", "999"),
    ("378282246310005", "9999"),
)
DECLINE_ON_NMI = 75  # NMI's sandbox declines amounts below 1.00


async def load(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    principal: Principal,
    company_id: str,
    target: int = DEMO_PAYMENTS,
) -> int:
    """Top the brand up to `target` payments; returns how many were made."""
    async with sessions.begin() as session:
        existing = await session.scalar(
            select(func.count()).where(Payment.company_id == company_id)
        )
        accounts = list(
            (
                await session.scalars(
                    select(MerchantAccount)
                    .where(
                        MerchantAccount.company_id == company_id,
                        MerchantAccount.status == AccountStatus.ACTIVE,
                    )
                    .order_by(MerchantAccount.created_at)
                )
            ).all()
        )
        customers = await _customers(session, principal, company_id)
    missing = target - int(existing or 0)
    if missing <= 0 or not accounts:
        return 0
    rng = random.Random(2026)  # noqa: S311 - repeatable demo data, not a secret
    sandboxes = Router(
        [Mount(registry.SANDBOX_MOUNT, Router(registry.sandbox_mounts(controls=False)))]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandboxes)) as http:
        gateways = PaymentRuntime(sessions, keyring, http)
        for index, moment in enumerate(_over_the_week(rng, missing)):
            account = accounts[index % len(accounts)]
            with _at(moment):
                payment = await _one(gateways, principal, rng, account, company_id, customers)
                await _follow_up(gateways, principal, rng, payment)
    return missing


def _over_the_week(rng: random.Random, count: int) -> list[datetime]:
    """`count` moments of the last seven days up to now, in order: today's only so far."""
    now = clock.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    moments = []
    for _ in range(count):
        back = rng.randrange(7)
        seconds = 24 * 3600 if back else max(1, int((now - midnight).total_seconds()))
        moments.append(midnight - timedelta(days=back) + timedelta(seconds=rng.randrange(seconds)))
    return sorted(moments)


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    """The clock reads `moment`, moving on at its usual pace, until the block ends."""
    started = datetime.now(UTC)
    clock.set_source(lambda: moment + (datetime.now(UTC) - started))
    try:
        yield
    finally:
        clock.reset()


async def _customers(session: AsyncSession, principal: Principal, company_id: str) -> list[str]:
    found = list(
        (await session.scalars(select(Customer.id).where(Customer.company_id == company_id))).all()
    )
    for number in range(len(found), DEMO_CUSTOMERS):
        customer = await commerce.create_customer(
            session=session,
            principal=principal,
            data=CustomerCreate(
                company_id=company_id,
                email=f"shopper{number + 1}@example.com",
                name=f"Demo Shopper {number + 1}",
            ),
        )
        found.append(customer.id)
    return found


async def _one(
    gateways: PaymentRuntime,
    principal: Principal,
    rng: random.Random,
    account: MerchantAccount,
    company_id: str,
    customers: list[str],
) -> Payment:
    number, cvv = rng.choice(CARDS)
    declines = account.provider_type == "nmi" and rng.random() < 0.25
    amount = DECLINE_ON_NMI if declines else rng.choice((1499, 1999, 2999, 4999, 8900, 12900))
    if declines:  # a shopper's own card (NMI takes any valid number): no test card is retried
        number, cvv = _visa(rng), "999"  # past the per-card retry budget
    year = clock.now().year + 2
    card = CardIn(number=SecretStr(number), exp_month=12, exp_year=year, cvv=SecretStr(cvv))
    data = PaymentCreate(
        company_id=company_id,
        merchant_account_id=account.id,
        customer_id=rng.choice(customers),
        amount=amount,
        currency=account.currency,
        capture=rng.random() > 0.2,
        card=card,
        description="Demo subscription box",
    )
    payment = await charge.create_payment(gateways, principal, data, claim=None)
    assert isinstance(payment, Payment)  # without a key there is no claim to find in use
    return payment


def _visa(rng: random.Random) -> str:
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    return body + luhn.calc_check_digit(body)


async def _follow_up(
    gateways: PaymentRuntime, principal: Principal, rng: random.Random, payment: Payment
) -> None:
    """Capture most authorizations, void some, refund a few sales (where the sandbox can)."""
    try:
        if payment.status == PaymentStatus.AUTHORIZED:
            if rng.random() < 0.7:
                await follow_ups.capture_payment(gateways, principal, payment.id, CaptureCreate())
            else:
                await follow_ups.void_payment(gateways, principal, payment.id)
        elif payment.status == PaymentStatus.CAPTURED and rng.random() < 0.1:
            amount = payment.amount // 2 if rng.random() < 0.5 else None
            await follow_ups.refund_payment(
                gateways, principal, payment.id, RefundCreate(amount=amount, reason="Demo")
            )
    except settling.PaymentDeclined:
        pass  # e.g. Authorize.Net refunds only settled payments: the demo shows the refusal
