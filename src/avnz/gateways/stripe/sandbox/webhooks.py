"""Stripe's webhook events as the sandbox builds, signs and sends them.

An event is Stripe's Event object (`evt_…`, `api_version`, `data.object`,
`data.previous_attributes`). Each webhook endpoint (`POST /v1/webhook_endpoints`) has its own
`whsec_…` secret; a delivery is a JSON POST whose `Stripe-Signature` header is
`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`, what
`stripe.Webhook.construct_event` verifies. Deliveries go out after the API answer, once each, with
a short timeout; a failed delivery is not retried (Stripe retries for three days).
"""

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from avnz.gateways.sandbox.common import alnum_ids

event_ids = alnum_ids("evt_", 24)
DELIVERY_TIMEOUT = httpx.Timeout(5.0)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One signed POST of an event to one endpoint."""

    url: str
    headers: Mapping[str, str]
    body: bytes


def new_event(
    kind: str,
    obj: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    api_version: str,
    created: int,
) -> dict[str, Any]:
    """An Event about `obj` (its state now; `previous` holds the fields it had before)."""
    data: dict[str, Any] = {"object": dict(obj)}
    if previous:
        data["previous_attributes"] = dict(previous)
    return {
        "id": event_ids(),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def signature_header(secret: str, payload: bytes, timestamp: int) -> str:
    """The `Stripe-Signature` value for `payload` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def listens(endpoint: Mapping[str, Any], kind: str) -> bool:
    """Whether an enabled endpoint wants events of type `kind`."""
    wanted = endpoint.get("enabled_events") or []
    return endpoint.get("status") == "enabled" and ("*" in wanted or kind in wanted)


def deliveries(
    endpoints: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> list[Delivery]:
    """The signed deliveries of `events` to every endpoint that listens to them."""
    chosen = [e for e in endpoints if e.get("status") == "enabled"]
    sends = []
    for event in events:
        body = json.dumps(event).encode()
        for endpoint in chosen:
            if listens(endpoint, str(event["type"])):
                header = signature_header(endpoint["secret"], body, int(time.time()))
                headers = {"Content-Type": "application/json", "Stripe-Signature": header}
                sends.append(Delivery(str(endpoint["url"]), headers, body))
    return sends


async def deliver(sends: list[Delivery]) -> None:
    """POST each delivery once; an endpoint that fails or is slow misses that event."""
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as http:
        for send in sends:
            try:
                await http.post(send.url, content=send.body, headers=dict(send.headers))
            except httpx.HTTPError as error:
                log.warning(
                    "stripe sandbox webhook to %s failed: %s", send.url, type(error).__name__
                )
