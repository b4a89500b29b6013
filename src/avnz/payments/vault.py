"""The card vault: store a card as a token, find it again by fingerprint, reveal it only to the
payment path. The PAN is encrypted before it reaches the session; the CVV is validated and then
dropped (a payment that needs it carries it in memory)."""

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.core import cards, clock
from avnz.core.errors import InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.gateways.base import Card
from avnz.payments import bins
from avnz.payments.models import PaymentMethod, PaymentMethodStatus, pan_aad
from avnz.payments.schemas import CardOut, PaymentMethodCreate, PaymentMethodOut
from avnz.security.keyring import Keyring
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=PaymentMethod.organization_id,
        client_id=PaymentMethod.client_id,
        company_id=PaymentMethod.company_id,
    )


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
    *,
    audited: bool = True,
) -> PaymentMethod:
    """`store_card` for a company the caller already resolved (and may see). A card vaulted by
    a payment is not `audited` on its own: the payment records it (its method, its creator)."""
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
    method = PaymentMethod(
        id=new_id("pm"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        customer_id=data.customer_id,
        fingerprint=keyring.fingerprint(number, scope=company.organization_id),
        bin=number[:6],
        last4=number[-4:],
        brand=brand.value,
        card_type=info.card_type,
        issuing_country=info.country,
        exp_month=exp_month,
        exp_year=exp_year,
        holder_name=data.card.holder_name,
        billing_address=data.billing_address.model_dump() if data.billing_address else None,
        created_by=principal.id,
        updated_by=principal.id,
    )
    method.pan_ciphertext = keyring.encrypt(
        number.encode(), aad=pan_aad({"id": method.id, "company_id": method.company_id})
    )
    session.add(method)
    await session.flush()
    if audited:
        _audit(session, principal, audit.AuditAction.CREATE, method, before=None)
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
        created_at=method.created_at,
        deleted_at=method.deleted_at,
    )
