"""The card vault: store a card as a token, find it again by fingerprint, reveal it only to the
payment path. The PAN is encrypted before it reaches the session; the CVV is validated and then
dropped (a payment that needs it carries it in memory)."""

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Label, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, mode_clause, scope_clause
from avnz.commerce import service as commerce
from avnz.core import cards, clock
from avnz.core.errors import InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.db import versions
from avnz.db.riding import riding_along
from avnz.gateways.base import Card
from avnz.payments import bins, card_budget
from avnz.payments.models import PaymentMethod, PaymentMethodStatus, pan_aad
from avnz.payments.schemas import CardOut, PaymentMethodCreate, PaymentMethodOut
from avnz.rules.cache import RULE_SET_VERSION
from avnz.security.keyring import Keyring
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=PaymentMethod.organization_id,
        client_id=PaymentMethod.client_id,
        company_id=PaymentMethod.company_id,
    ) & mode_clause(principal, PaymentMethod.livemode)


def _card_error(exc: cards.CardError) -> InvalidRequest:
    return InvalidRequest(str(exc), code=exc.code, param=f"card.{exc.field}")


async def store_card(
    *, session: AsyncSession, principal: Principal, keyring: Keyring, data: PaymentMethodCreate
) -> PaymentMethod:
    """Validate and vault a card; the returned row holds only ciphertext, BIN and last four."""
    company_id = data.company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    company = await tenancy.get_company(session=session, principal=principal, company_id=company_id)
    return await vault_card(session, principal, keyring, company, data)


async def vault_card(
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    company: Company,
    data: PaymentMethodCreate,
) -> PaymentMethod:
    """`store_card` for a company the caller already resolved (and may see)."""
    if data.customer_id is not None:
        await commerce.customer_of_company(
            session=session,
            principal=principal,
            company_id=company.id,
            customer_id=data.customer_id,
        )
    method = new_method(principal, keyring, company, data)
    session.add(method)
    await session.flush()
    _audit(session, principal, audit.AuditAction.CREATE, method, before=None)
    return method


def new_method(
    principal: Principal, keyring: Keyring, company: Company, data: PaymentMethodCreate
) -> PaymentMethod:
    """The card checked and made a vault row (the PAN encrypted, the CVV left out), not yet
    stored; 400 naming the field for a card that is not valid."""
    try:
        number, brand = cards.validate_number(data.card.number.get_secret_value())
        exp_month, exp_year = cards.validate_expiry(
            data.card.exp_month, data.card.exp_year, clock.now()
        )
        if data.card.cvv is not None:
            cards.validate_cvv(data.card.cvv.get_secret_value(), brand)
    except cards.CardError as exc:
        raise _card_error(exc) from None
    info = bins.lookup(number)
    now = clock.now()
    method = PaymentMethod(
        id=new_id("pm"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        customer_id=data.customer_id,
        livemode=principal.livemode,
        fingerprint=keyring.fingerprint(number, scope=company.organization_id),
        bin=number[:6],
        last4=number[-4:],
        brand=info.brand or brand.value,  # an imported BIN table may name a co-badge's brand
        card_type=info.card_type,
        issuing_country=info.country,
        exp_month=exp_month,
        exp_year=exp_year,
        holder_name=data.card.holder_name,
        billing_address=data.billing_address.model_dump() if data.billing_address else None,
        metadata_=data.metadata,
        status=PaymentMethodStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
        created_by=principal.id,
        updated_by=principal.id,
    )
    method.pan_ciphertext = keyring.encrypt(
        number.encode(), aad=pan_aad({"id": method.id, "company_id": method.company_id})
    )
    return method


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    method: PaymentMethod,
    before: dict[str, Any] | None,
) -> None:
    after = audit.snapshot(method)
    after.pop("pan_ciphertext", None)
    if before:
        before.pop("pan_ciphertext", None)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource="payment_method",
        resource_id=method.id,
        tenant=audit.Tenant(method.organization_id, method.client_id, method.company_id),
        before=before,
        after=after,
    )


async def list_methods(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None,
    customer_id: str | None,
    fingerprint: str | None,
) -> Page[PaymentMethod]:
    stmt = select(PaymentMethod).where(
        _visible(principal), PaymentMethod.status == PaymentMethodStatus.ACTIVE.value
    )
    for column, value in (
        (PaymentMethod.company_id, company_id),
        (PaymentMethod.customer_id, customer_id),
        (PaymentMethod.fingerprint, fingerprint),
    ):
        if value:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, PaymentMethod.id, page)


async def get_method(
    *, session: AsyncSession, principal: Principal, method_id: str
) -> PaymentMethod:
    method = await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.id == method_id,
            _visible(principal),
            PaymentMethod.status == PaymentMethodStatus.ACTIVE.value,
        )
    )
    if method is None:
        raise NotFound(f"No payment method {method_id!r}.", param="id")
    return method


async def delete_method(
    *, session: AsyncSession, principal: Principal, method_id: str
) -> PaymentMethod:
    """Crypto-shred: the ciphertext is erased and the token stops working; BIN/last4 remain."""
    method = await get_method(session=session, principal=principal, method_id=method_id)
    before = audit.snapshot(method)
    method.pan_ciphertext = None
    method.status = PaymentMethodStatus.DELETED.value
    method.deleted_at = clock.now()
    method.updated_by = principal.id
    _audit(session, principal, audit.AuditAction.DELETE, method, before=before)
    return method


def reveal(method: PaymentMethod, keyring: Keyring, *, cvv: str | None = None) -> Card:
    """The full card for a gateway call. Only the payment path calls this; CVV stays in memory."""
    if method.pan_ciphertext is None:
        raise InvalidRequest("This payment method was deleted.", code="payment_method_deleted")
    number = keyring.decrypt(
        method.pan_ciphertext, aad=pan_aad({"id": method.id, "company_id": method.company_id})
    ).decode()
    return Card(
        number=number,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        cvv=cvv,
        holder_name=method.holder_name,
    )


def to_out(method: PaymentMethod) -> PaymentMethodOut:
    return PaymentMethodOut(
        id=method.id,
        organization_id=method.organization_id,
        client_id=method.client_id,
        company_id=method.company_id,
        customer_id=method.customer_id,
        livemode=method.livemode,
        status=method.status,
        card=CardOut(
            brand=method.brand,
            bin=method.bin,
            last4=method.last4,
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            type=method.card_type,
            issuing_country=method.issuing_country,
            fingerprint=method.fingerprint,
            holder_name=method.holder_name,
        ),
        billing_address=method.billing_address,
        metadata=method.metadata_,
        created_at=method.created_at,
        deleted_at=method.deleted_at,
    )


# --- the card of a payment ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargeCard:
    """A payment's card, and what its one statement read along: the company's configuration
    version and rule-set version (the payment path's caches check them) and the attempts the
    card used of its retry budget."""

    method: PaymentMethod
    config_version: int | None  # None: the company has no version row (never cached then)
    rule_set_version: int
    attempts_used: int


_METHODS = cast(Table, PaymentMethod.__table__)


def _riding_along(fingerprint: ColumnElement[str]) -> tuple[Label[Any], ...]:
    return (
        riding_along(versions.CONFIG_VERSION).label("config_version"),
        riding_along(RULE_SET_VERSION).label("rule_set_version"),
        riding_along(card_budget.attempts_used(fingerprint)).label("attempts_used"),
    )


# Built once: one of the two runs for every card payment.
_VAULT = (
    insert(_METHODS)
    .values({column.key: bindparam(f"pm_{column.key}", type_=column.type) for column in _METHODS.c})
    .returning(*_riding_along(bindparam("pm_fingerprint")))
)
_VAULTED = select(PaymentMethod, *_riding_along(_METHODS.c.fingerprint)).where(
    PaymentMethod.id == bindparam("method"),
    PaymentMethod.status == PaymentMethodStatus.ACTIVE.value,
)


def _company_parameters(company_id: str) -> dict[str, Any]:
    return {"config_company": company_id, "rules_company": company_id} | card_budget.window(
        company_id
    )


async def vault_for_charge(
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    company: Company,
    data: PaymentMethodCreate,
) -> ChargeCard:
    """Vault the card a payment brings, in one statement that also reads what rides along. No
    audit row of its own: the payment records the card (its method, its creator)."""
    method = new_method(principal, keyring, company, data)
    row = {f"pm_{column.key}": getattr(method, column.key) for column in _METHODS.c}
    found = (await session.execute(_VAULT, row | _company_parameters(company.id))).one()
    return _charge_card(method, found)


async def vaulted_for_charge(
    session: AsyncSession, principal: Principal, company: Company, method_id: str
) -> ChargeCard:
    """A stored card of the company, by id, with what rides along; 404 when there is none."""
    parameters = {"method": method_id} | _company_parameters(company.id)
    found = (await session.execute(_VAULTED, parameters)).one_or_none()
    method = found.PaymentMethod if found is not None else None
    if method is None or method.company_id != company.id or not _can_see(principal, method):
        raise NotFound(
            f"No payment method {method_id!r} in this company.", param="payment_method_id"
        )
    return _charge_card(method, found)


def _charge_card(method: PaymentMethod, found: Any) -> ChargeCard:
    return ChargeCard(
        method, found.config_version, found.rule_set_version or 0, int(found.attempts_used)
    )


def _can_see(principal: Principal, method: PaymentMethod) -> bool:
    """`_visible` for one loaded row."""
    return method.livemode == principal.livemode and principal.can_see(
        method.organization_id, method.client_id, method.company_id
    )
