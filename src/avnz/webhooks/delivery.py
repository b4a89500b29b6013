"""Turning outbox events into deliveries, and sending them: signed, timed out, retried.

`fan_out` (a job, in one transaction) makes one pending delivery per committed event and
matching enabled endpoint of the event's company. `deliver_due` claims the due deliveries in a
short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never take the same one),
POSTs them with no transaction open, and records each outcome in another short transaction.

Delivery is at least once: a worker that dies mid-send leaves its claim until
`IN_FLIGHT_LEASE` passes, and the delivery is sent again. Receivers deduplicate on
`Avnz-Event-Id`. A failed attempt is retried after `RETRY_DELAYS` (with ±10 % jitter, so a
receiver coming back is not hit by every retry at once); after `MAX_ATTEMPTS` it is failed.
"""

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz import __version__
from avnz.core import clock
from avnz.core.events import matches
from avnz.core.ids import new_id
from avnz.core.masking import mask_text
from avnz.outbox.models import OutboxEvent
from avnz.security.keyring import DecryptionError, Keyring
from avnz.webhooks import signature
from avnz.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    previous_secret_aad,
    secret_aad,
)

log = structlog.get_logger(__name__)

RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # about 42 hours from the first attempt to the last
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
IN_FLIGHT_LEASE = timedelta(minutes=2)  # well above TIMEOUT: only a dead worker outlives it
FAN_OUT_BATCH = 200
DELIVERY_BATCH = 20
KEEP = timedelta(days=30)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt (jittered by ±10 %)."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret


def envelope(event: OutboxEvent) -> bytes:
    """The JSON body a receiver gets: the event, its type, when it happened, its data."""
    body = {
        "id": event.id,
        "object": "event",
        "type": event.name,
        "created_at": event.created_at.isoformat(),
        "organization_id": event.organization_id,
        "client_id": event.client_id,
        "company_id": event.company_id,
        "livemode": event.livemode,
        "data": event.payload,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def new_delivery(
    endpoint: WebhookEndpoint, *, event_id: str, event_name: str, resend_of: str | None = None
) -> WebhookDelivery:
    """A pending delivery of the event to the endpoint, due now."""
    return WebhookDelivery(
        id=new_id("whd"),
        organization_id=endpoint.organization_id,
        client_id=endpoint.client_id,
        company_id=endpoint.company_id,
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_name=event_name,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=clock.now(),
        resend_of=resend_of,
    )


async def fan_out(session: AsyncSession, limit: int = FAN_OUT_BATCH) -> int:
    """One delivery per undispatched event and subscribed endpoint; returns events handled.

    An endpoint only gets events of its own mode (test or live) that happened after it was
    created."""
    now = clock.now()
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    company_ids = {row.company_id for row in rows if row.company_id}
    endpoints = (
        await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.company_id.in_(company_ids), WebhookEndpoint.enabled.is_(True)
            )
        )
    ).all()
    for event in rows:
        for endpoint in endpoints:
            if (
                endpoint.company_id == event.company_id
                and endpoint.livemode == event.livemode
                and endpoint.created_at <= event.created_at
                and any(matches(pattern, event.name) for pattern in endpoint.events)
            ):
                session.add(new_delivery(endpoint, event_id=event.id, event_name=event.name))
        event.dispatched_at = now
    return len(rows)


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery_id: str
    endpoint_id: str
    event_id: str
    event_name: str
    attempt: int
    url: str
    secrets: tuple[str, ...]
    body: bytes

    def __repr__(self) -> str:  # never print the secrets, even in a traceback
        return f"_Attempt({self.delivery_id}, attempt {self.attempt})"


@dataclass(frozen=True, slots=True)
class _Outcome:
    attempt: _Attempt
    response_status: int | None
    latency_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def signing_secrets(keyring: Keyring, endpoint: WebhookEndpoint) -> tuple[str, ...]:
    """The endpoint's secret, and its previous one while a rotation's grace period runs."""
    row = {"id": endpoint.id, "company_id": endpoint.company_id}
    current = keyring.decrypt(endpoint.secret_ciphertext, aad=secret_aad(row)).decode()
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext is None or expires is None or expires <= clock.now():
        return (current,)
    previous = keyring.decrypt(
        endpoint.previous_secret_ciphertext, aad=previous_secret_aad(row)
    ).decode()
    return (current, previous)


def _final(delivery: WebhookDelivery, error: str) -> None:
    delivery.status = DeliveryStatus.FAILED.value
    delivery.next_attempt_at = None
    delivery.error = error


async def _claim(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, limit: int
) -> list[_Attempt]:
    now = clock.now()
    attempts: list[_Attempt] = []
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint, OutboxEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        for delivery, endpoint, event in rows:
            if not endpoint.enabled:
                _final(delivery, "the endpoint is disabled")
                continue
            try:
                secrets = signing_secrets(keyring, endpoint)
            except DecryptionError:
                log.error("webhook_secret_unreadable", endpoint_id=endpoint.id)
                _final(delivery, "the endpoint's secret cannot be decrypted; rotate it")
                continue
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.next_attempt_at = now + IN_FLIGHT_LEASE
            attempts.append(
                _Attempt(
                    delivery_id=delivery.id,
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_name=event.name,
                    attempt=delivery.attempts,
                    url=endpoint.url,
                    secrets=secrets,
                    body=envelope(event),
                )
            )
    return attempts


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc).strip()
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return mask_text(text)[:500]


async def _send(http: httpx.AsyncClient, attempt: _Attempt) -> _Outcome:
    timestamp = int(clock.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"avnz-webhooks/{__version__}",
        signature.HEADER: signature.sign(attempt.secrets, attempt.body, timestamp),
        signature.EVENT_ID_HEADER: attempt.event_id,
        "Avnz-Event-Type": attempt.event_name,
        "Avnz-Delivery-Id": attempt.delivery_id,
    }
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        # Streamed and never read: a receiver's answer body cannot fill our memory.
        async with http.stream(
            "POST", attempt.url, content=attempt.body, headers=headers, timeout=TIMEOUT
        ) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        error = _describe(exc)
    latency = round((time.monotonic() - started) * 1000)
    if status is not None and not 200 <= status < 300:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return _Outcome(attempt, status, latency, error)


async def _record(sessions: async_sessionmaker[AsyncSession], outcomes: Sequence[_Outcome]) -> None:
    now = clock.now()
    async with sessions.begin() as session:
        for outcome in outcomes:
            delivery = await session.get(WebhookDelivery, outcome.attempt.delivery_id)
            if delivery is None or delivery.attempts != outcome.attempt.attempt:
                continue  # deleted with its endpoint meanwhile, or re-claimed after a stall
            delivery.response_status = outcome.response_status
            delivery.latency_ms = outcome.latency_ms
            delivery.error = outcome.error
            if outcome.succeeded:
                delivery.status = DeliveryStatus.SUCCEEDED.value
                delivery.delivered_at, delivery.next_attempt_at = now, None
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED.value
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    for outcome in outcomes:
        log.info(
            "webhook_delivery",
            delivery_id=outcome.attempt.delivery_id,
            endpoint_id=outcome.attempt.endpoint_id,
            event_name=outcome.attempt.event_name,
            attempt=outcome.attempt.attempt,
            response_status=outcome.response_status,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
        )


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    http: httpx.AsyncClient,
    limit: int = DELIVERY_BATCH,
) -> int:
    """Send up to `limit` due deliveries at once, no transaction open while they travel;
    returns how many were attempted."""
    attempts = await _claim(sessions, keyring, limit)
    if not attempts:
        return 0
    outcomes = await asyncio.gather(*(_send(http, attempt) for attempt in attempts))
    await _record(sessions, outcomes)
    return len(attempts)


async def purge_old(session: AsyncSession) -> None:
    """Forget finished deliveries and dispatched, audited events older than `KEEP`."""
    cutoff = clock.now() - KEEP
    await session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < cutoff,
            WebhookDelivery.status != DeliveryStatus.PENDING.value,
        )
    )
    referenced = exists().where(WebhookDelivery.event_id == OutboxEvent.id)
    await session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.created_at < cutoff,
            OutboxEvent.dispatched_at.is_not(None),
            OutboxEvent.audited_at.is_not(None),  # the audit log has taken it
            ~referenced,
        )
    )
