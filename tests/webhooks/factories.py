"""Webhook endpoints for tests: request bodies, creation through the API, a receiver app that
verifies signatures, and a pump that runs the worker's webhook jobs once."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from avnz import tasks
from avnz.jobs.worker import Worker
from avnz.runtime import Runtime
from avnz.webhooks import delivery
from avnz.webhooks.signature import HEADER, SignatureError, verify_signature

API = "/api/v1/webhook-endpoints"
# A loopback port nothing listens on (discard): a delivery there fails fast.
UNREACHABLE = "http://127.0.0.1:9/hooks"


def endpoint_body(company_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"url": UNREACHABLE, "events": ["*"], "description": "Shop backend"}
    if company_id is not None:
        body["company_id"] = company_id
    return {**body, **overrides}


async def create_endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], company_id: str | None, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(API, json=endpoint_body(company_id, **overrides), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    reason: str | None


@dataclass
class Receiver:
    """A merchant's webhook receiver: checks `Avnz-Signature` with its secret, as a merchant
    would, and answers with the next status in `answers` (then 200)."""

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering
    url: str = ""  # where it is served, once it is
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify_signature(self.secret, request.headers.get(HEADER), body)
            verified, reason = True, None
        except SignatureError as exc:
            verified, reason = False, str(exc)
        self.received.append(Received(dict(request.headers), body, verified, reason))
        await asyncio.sleep(self.delay)
        if not verified:
            return Response(status_code=400)
        return Response(status_code=self.answers.pop(0) if self.answers else 200)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks", self.handle, methods=["POST"])])


async def pump(runtime: Runtime) -> int:
    """Fan out committed events, then send the due deliveries; returns how many were sent."""
    async with runtime.sessions.begin() as session:
        await delivery.fan_out(session)
    return await delivery.deliver_due(runtime.sessions, runtime.keyring, runtime.http)


def worker(runtime: Runtime) -> Worker:
    """The worker as `avnz worker` builds it, every handler registered."""
    return Worker(runtime.sessions, tasks.handlers(runtime), tasks.recurring(), poll_seconds=0.05)
