"""Webhook endpoints: create, read, change, delete them inside the caller's scope; rotate their
secret; list, resend and test their deliveries.

The signing secret is generated here, encrypted before it reaches the session, and leaves this
module in full only in the return value of `create_endpoint` and `rotate_secret` (the API shows
it once); everywhere else it is masked. An endpoint or delivery outside the caller's scope is
reported as missing (404).
"""

import ipaddress
import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, mode_clause, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.masking import mask_secret
from avnz.core.pagination import Page, PageParams, paginate
from avnz.outbox import service as events
from avnz.security.keyring import DecryptionError, Keyring
from avnz.tenancy import service as tenancy
from avnz.webhooks import delivery
from avnz.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    previous_secret_aad,
    secret_aad,
)
from avnz.webhooks.schemas import (
    RotateSecret,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TEST_MESSAGE = "A test event from avnz: your endpoint received and can verify it."
_SECRET_COLUMNS = ("secret_ciphertext", "previous_secret_ciphertext")

# --- URLs ------------------------------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


def _is_internal(host: str) -> bool:
    address = _ip(host)
    if address is None:
        return _is_loopback(host)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$")


def _valid_host(parsed: httpx.URL) -> bool:
    if _ip(parsed.host) is not None:
        return True
    raw = parsed.raw_host.decode("ascii", "replace")  # IDNA-encoded: ASCII for a real name
    return len(raw) <= 253 and _HOSTNAME.match(raw) is not None


def _url_error(message: str) -> InvalidRequest:
    return InvalidRequest(f"url {message}.", code="invalid_url", param="url")


def check_url(url: str, *, production: bool) -> str:
    """An absolute https URL (http only to loopback outside production), with no credentials
    in it; in production, never a private, loopback or link-local address."""
    if any(ch.isspace() for ch in url):
        raise _url_error("must not contain spaces")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise _url_error("is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _url_error("must be an absolute http or https URL")
    if not _valid_host(parsed):
        raise _url_error("does not have a valid host name")
    if parsed.userinfo:
        raise _url_error("must not carry a user name or password (requests are signed instead)")
    if parsed.fragment:
        raise _url_error("must not have a #fragment")
    if parsed.scheme == "http" and (production or not _is_loopback(parsed.host)):
        raise _url_error("must use https (http is accepted only for loopback, outside production)")
    if production and _is_internal(parsed.host):
        raise _url_error("must not point at a private, loopback or link-local address")
    return url


# --- secrets ---------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _row(endpoint: WebhookEndpoint) -> dict[str, str]:
    return {"id": endpoint.id, "company_id": endpoint.company_id}


def _seal(keyring: Keyring, endpoint: WebhookEndpoint, secret: str) -> None:
    endpoint.secret_ciphertext = keyring.encrypt(secret.encode(), aad=secret_aad(_row(endpoint)))


def _masked_secret(keyring: Keyring, endpoint: WebhookEndpoint) -> str:
    try:
        secret = keyring.decrypt(endpoint.secret_ciphertext, aad=secret_aad(_row(endpoint)))
    except DecryptionError:
        return SECRET_PREFIX + mask_secret("")
    return SECRET_PREFIX + mask_secret(secret.decode().removeprefix(SECRET_PREFIX))


# --- scope -----------------------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=WebhookEndpoint.organization_id,
        client_id=WebhookEndpoint.client_id,
        company_id=WebhookEndpoint.company_id,
    ) & mode_clause(principal, WebhookEndpoint.livemode)


def _visible_delivery(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=WebhookDelivery.organization_id,
        client_id=WebhookDelivery.client_id,
        company_id=WebhookDelivery.company_id,
    )


async def get_endpoint(
    *, session: AsyncSession, principal: Principal, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, _visible(principal))
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id!r}.", param="id")
    return endpoint


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    endpoint: WebhookEndpoint,
    before: dict[str, Any] | None,
    metadata: dict[str, Any] | None = None,
) -> None:
    after = None if action is audit.AuditAction.DELETE else _snapshot(endpoint)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource="webhook_endpoint",
        resource_id=endpoint.id,
        tenant=audit.Tenant(endpoint.organization_id, endpoint.client_id, endpoint.company_id),
        before=before,
        after=after,
        metadata=metadata,
    )


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    values = audit.snapshot(endpoint)
    for column in _SECRET_COLUMNS:  # not even the ciphertext goes to the audit trail
        values.pop(column, None)
    return values


# --- endpoints -------------------------------------------------------------------------------


async def create_endpoint(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    production: bool,
    data: WebhookEndpointCreate,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (the only time the caller gets it, with rotate)."""
    company_id = data.company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    company = await tenancy.get_company(session=session, principal=principal, company_id=company_id)
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        livemode=principal.livemode,
        url=check_url(data.url, production=production),
        description=data.description,
        events=list(dict.fromkeys(data.events)),
        enabled=data.enabled,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    secret = new_secret()
    _seal(keyring, endpoint, secret)
    session.add(endpoint)
    await session.flush()
    _audit(session, principal, audit.AuditAction.CREATE, endpoint, before=None)
    return endpoint, secret


async def list_endpoints(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None,
    enabled: bool | None,
) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(_visible(principal))
    if company_id:
        stmt = stmt.where(WebhookEndpoint.company_id == company_id)
    if enabled is not None:
        stmt = stmt.where(WebhookEndpoint.enabled.is_(enabled))
    return await paginate(session, stmt, WebhookEndpoint.id, page)


async def update_endpoint(
    *,
    session: AsyncSession,
    principal: Principal,
    production: bool,
    endpoint_id: str,
    data: WebhookEndpointUpdate,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    before = _snapshot(endpoint)
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "events", "enabled", "metadata"):
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", code="invalid_value", param=name)
    if "url" in changes:
        endpoint.url = check_url(changes["url"], production=production)
    if "events" in changes:
        endpoint.events = list(dict.fromkeys(changes["events"]))
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        endpoint.enabled = changes["enabled"]
    if "metadata" in changes:
        endpoint.metadata_ = changes["metadata"]
    endpoint.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.UPDATE, endpoint, before=before)
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, principal: Principal, endpoint_id: str
) -> WebhookEndpoint:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    before = _snapshot(endpoint)
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    await session.delete(endpoint)
    await session.flush()
    _audit(session, principal, audit.AuditAction.DELETE, endpoint, before=before)
    return endpoint


async def rotate_secret(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    endpoint_id: str,
    data: RotateSecret,
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one also signs for `keep_previous_for_seconds`."""
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    before = _snapshot(endpoint)
    row = _row(endpoint)
    if data.keep_previous_for_seconds:
        old = keyring.decrypt(endpoint.secret_ciphertext, aad=secret_aad(row))
        endpoint.previous_secret_ciphertext = keyring.encrypt(old, aad=previous_secret_aad(row))
        endpoint.previous_secret_expires_at = clock.now() + timedelta(
            seconds=data.keep_previous_for_seconds
        )
    else:
        endpoint.previous_secret_ciphertext = None
        endpoint.previous_secret_expires_at = None
    secret = new_secret()
    _seal(keyring, endpoint, secret)
    endpoint.updated_by = principal.id
    await session.flush()
    _audit(
        session,
        principal,
        audit.AuditAction.UPDATE,
        endpoint,
        before=before,
        metadata={"change": "secret_rotated", "keep_previous_for": data.keep_previous_for_seconds},
    )
    return endpoint, secret


def to_out(keyring: Keyring, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id,
        organization_id=endpoint.organization_id,
        client_id=endpoint.client_id,
        company_id=endpoint.company_id,
        livemode=endpoint.livemode,
        url=endpoint.url,
        description=endpoint.description,
        events=endpoint.events,
        enabled=endpoint.enabled,
        metadata=endpoint.metadata_,
        secret=_masked_secret(keyring, endpoint),
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def to_out_with_secret(
    keyring: Keyring, endpoint: WebhookEndpoint, secret: str
) -> WebhookEndpointWithSecret:
    out = to_out(keyring, endpoint).model_dump(exclude={"object", "secret"})
    return WebhookEndpointWithSecret(**out, secret=secret)


# --- deliveries ------------------------------------------------------------------------------


async def list_deliveries(
    *,
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    page: PageParams,
    status: DeliveryStatus | None,
    event: str | None,
) -> Page[WebhookDelivery]:
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status.value)
    if event:
        stmt = stmt.where(WebhookDelivery.event_name == event)
    return await paginate(session, stmt, WebhookDelivery.id, page)


def _enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict(
            "This webhook endpoint is disabled; enable it first.", code="endpoint_disabled"
        )


async def resend(
    *, session: AsyncSession, principal: Principal, delivery_id: str
) -> WebhookDelivery:
    """A new pending delivery of the same event to the same endpoint, sent by the worker."""
    original = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, _visible_delivery(principal)
        )
    )
    if original is None:
        raise NotFound(f"No webhook delivery {delivery_id!r}.", param="id")
    endpoint = await get_endpoint(
        session=session, principal=principal, endpoint_id=original.endpoint_id
    )
    _enabled(endpoint)
    copy = delivery.new_delivery(
        endpoint, event_id=original.event_id, event_name=original.event_name, resend_of=original.id
    )
    session.add(copy)
    await session.flush()
    return copy


async def send_test(
    *, session: AsyncSession, principal: Principal, endpoint_id: str
) -> WebhookDelivery:
    """Queue a `webhook.test` event for this endpoint only (not for other subscribers)."""
    endpoint = await get_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    _enabled(endpoint)
    event = events.emit(
        session,
        "webhook.test",
        organization_id=endpoint.organization_id,
        client_id=endpoint.client_id,
        company_id=endpoint.company_id,
        payload={"endpoint_id": endpoint.id, "message": TEST_MESSAGE},
        fan_out=False,
        livemode=endpoint.livemode,
    )
    await session.flush()  # the event row first: the delivery refers to it
    test = delivery.new_delivery(endpoint, event_id=event.id, event_name=event.name)
    session.add(test)
    await session.flush()
    return test


def delivery_out(row: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event=row.event_name,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        response_status=row.response_status,
        latency_ms=row.latency_ms,
        error=row.error,
        delivered_at=row.delivered_at,
        resend_of=row.resend_of,
        created_at=row.created_at,
    )
